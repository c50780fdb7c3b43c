"""Test doubles for framework steps: a recording remote, fake clusters, operations run for real.

Plugin authors test their steps without a cloud or SSH::

    ctx = make_cluster(SPEC_TEXT, MY_FRAMEWORK)
    run_operation(MY_FRAMEWORK, "launch", ctx)
    assert ("run", "demo-master-0", ["my-daemon", "start"]) in ctx.recorder.entries()

Every action of every :class:`RecordingRemote` lands, in the order it
happened, in one shared :class:`Recorder`. Commands succeed with empty
output and HTTP requests answer 404 unless :class:`Responses` says
otherwise, so tests choose whether waits and verifications succeed.
"""

from __future__ import annotations

import base64
import json
import shlex
import textwrap
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from heatdeploy.common_steps import common_steps
from heatdeploy.events import EventSink, ignore
from heatdeploy.framework import Framework, Operation
from heatdeploy.instances import Instance
from heatdeploy.plugin_manager import Plugins, hookimpl, plugins_from
from heatdeploy.remote import Command, RemoteError, Result
from heatdeploy.spec import Checks, ClusterSpec, LoadedSpec, parse_spec
from heatdeploy.steps import DeadlineExceeded, Step, StepContext, run_steps
from heatdeploy.validation import checks

Entry = tuple[Any, ...]
"""One recorded action: ``("run", instance, command)``, ``("write", instance, path, content, mode)``,
``("read", instance, path)``, ``("http", instance, method, port, path)`` or ``("wait", what)``."""

CommandReply = Result | int | str | Callable[[Instance, str], "Result | int | str"]
"""A canned command reply: a :class:`Result`, an exit status, standard output (status 0),
or a callable of (instance, command text) returning one of those."""

HttpReply = tuple[int, bytes | str] | bytes | str | dict[str, Any] | list[Any] | Callable[..., Any]
"""A canned HTTP reply: (status, body), a body (status 200), a JSON document (status 200),
or a callable of (instance, method, port, path) returning one of those."""

CommandResponder = Mapping[str, CommandReply] | Callable[[Instance, str], "CommandReply | None"]
HttpResponder = Mapping[tuple[int, str], HttpReply] | Callable[[Instance, str, int, str], "HttpReply | None"]


@dataclass
class Responses:
    """How fake instances answer.

    ``commands`` maps a command's shell text (argv lists are joined with
    :func:`shlex.join`) to a reply; a key also matches commands it is a
    word-prefix of, and the longest matching key wins. ``http`` maps
    ``(port, path)`` to a reply. Either may instead be a callable returning
    a reply, or ``None`` for the default. A callable reply may raise
    :class:`~heatdeploy.remote.RemoteError` to act out an unreachable
    instance. Steps run in parallel, so callables may be called from
    several threads at once.
    """

    commands: CommandResponder = field(default_factory=dict)
    http: HttpResponder = field(default_factory=dict)


class Recorder:
    """The shared, thread-safe log of what every fake remote did, plus the files they hold."""

    def __init__(self, files: Mapping[tuple[str, str], str | bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._files: dict[tuple[str, str], bytes] = {k: _bytes(v) for k, v in (files or {}).items()}

    def add(self, entry: Entry) -> None:
        """Append ``entry`` to the log."""
        with self._lock:
            self._entries.append(entry)

    def entries(self, instance: str | None = None) -> list[Entry]:
        """The log so far, or only ``instance``'s actions (``wait`` entries belong to no instance)."""
        with self._lock:
            entries = list(self._entries)
        if instance is None:
            return entries
        return [e for e in entries if e[0] != "wait" and e[1] == instance]

    def commands(self, instance: str) -> list[Command]:
        """The commands run on ``instance``, in order."""
        return [e[2] for e in self.entries(instance) if e[0] == "run"]

    def index(self, entry: Entry) -> int:
        """Where ``entry`` first appears in the log; raises ``ValueError`` when it is absent."""
        return self.entries().index(entry)

    def file(self, instance: str, path: str) -> str | None:
        """The current content of ``path`` on ``instance``, if it exists."""
        with self._lock:
            data = self._files.get((instance, path))
        return None if data is None else data.decode()

    def store(self, instance: str, path: str, content: str | bytes) -> None:
        """Create or replace a file on a fake instance, as a write would."""
        with self._lock:
            self._files[(instance, path)] = _bytes(content)


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


class RecordingRemote:
    """A :class:`~heatdeploy.remote.Remote` that records what it is asked and answers from canned replies.

    Written files are kept, so ``read_file`` returns them and ``test -e``,
    ``test -f`` or ``test -d`` on their paths succeeds (fails on others)
    unless a canned reply for that command says otherwise.
    """

    def __init__(self, instance: Instance, recorder: Recorder, responses: Responses | None = None) -> None:
        self.instance = instance
        self.recorder = recorder
        self.responses = responses or Responses()

    def run(self, command: Command, *, stdin: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> Result:
        """Record ``("run", instance, command)`` and answer; a failing status raises when ``check``."""
        name = self.instance.name
        self.recorder.add(("run", name, command if isinstance(command, str) else list(command)))
        text = command if isinstance(command, str) else shlex.join(command)
        result = self._command_reply(text)
        if check and result.status != 0:
            raise RemoteError(name, f"{text!r} exited with status {result.status}", result.tail())
        return result

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Record ``("write", instance, path, content, mode)`` and keep the file."""
        self.recorder.add(("write", self.instance.name, path, content, mode))
        self.recorder.store(self.instance.name, path, content)

    def read_file(self, path: str) -> bytes:
        """Record ``("read", instance, path)``; the file's content, or a RemoteError when there is none."""
        self.recorder.add(("read", self.instance.name, path))
        content = self.recorder.file(self.instance.name, path)
        if content is None:
            raise RemoteError(self.instance.name, f"cat: {path}: No such file or directory")
        return content.encode()

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        """Record ``("http", instance, method, port, path)`` and answer; 404 when nothing is canned."""
        self.recorder.add(("http", self.instance.name, method, port, path))
        responder = self.responses.http
        reply = (responder(self.instance, method, port, path) if callable(responder)
                 else responder.get((port, path)))
        if callable(reply):
            reply = reply(self.instance, method, port, path)
        return _http_result(reply)

    def _command_reply(self, text: str) -> Result:
        responder = self.responses.commands
        reply = responder(self.instance, text) if callable(responder) else _longest_match(responder, text)
        if callable(reply):
            reply = reply(self.instance, text)
        if reply is None:
            return self._default_reply(text)
        if isinstance(reply, Result):
            return reply
        if isinstance(reply, int):
            return Result(reply, "", "")
        return Result(0, reply, "")

    def _default_reply(self, text: str) -> Result:
        words = shlex.split(text) if text.startswith("test ") else []
        if len(words) == 3 and words[1] in ("-e", "-f", "-d"):
            exists = self.recorder.file(self.instance.name, words[2]) is not None
            return Result(0 if exists else 1, "", "")
        return Result(0, "", "")


def _longest_match(replies: Mapping[str, CommandReply], text: str) -> CommandReply | None:
    matching = [key for key in replies if text == key or text.startswith(key + " ")]
    return replies[max(matching, key=len)] if matching else None


def _http_result(reply: Any) -> tuple[int, bytes]:
    if reply is None:
        return 404, b"Not Found"
    if isinstance(reply, tuple):
        status, body = reply
        return status, _bytes(body)
    if isinstance(reply, (dict, list)):
        return 200, json.dumps(reply).encode()
    return 200, _bytes(reply)


@dataclass
class RecordingContext(StepContext):
    """A :class:`~heatdeploy.steps.StepContext` for tests: shares its recorder, and waits without sleeping.

    ``wait_until`` records ``("wait", what)``, then polls at most
    ``max_polls`` times back to back before giving up, so a wait that never
    holds fails at once instead of after its real timeout.
    """

    recorder: Recorder = field(default_factory=Recorder)
    max_polls: int = 20

    def wait_until(self, what: str, probe: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
        """Poll ``probe`` up to ``max_polls`` times; raise :class:`DeadlineExceeded` if it never holds."""
        self.recorder.add(("wait", what))
        for _ in range(self.max_polls):
            if probe():
                return
        raise DeadlineExceeded(f"{what}: not true after {timeout:.0f} s")


def fake_instances(spec: ClusterSpec) -> list[Instance]:
    """The instances ``spec`` describes, named ``<cluster>-<group>-<index>``.

    Group number ``g`` (in spec order) and member ``i`` get the fixed IP
    ``10.0.g.(10+i)``, so growing one group never renumbers another's
    members. Sorted by group and index, as the stack's outputs are.
    """
    instances = []
    for g, group in enumerate(spec.node_groups):
        for index in range(group.count):
            name = f"{spec.name}-{group.name}-{index}"
            instances.append(Instance(
                name=name, id=f"id-{name}", group=group.name, processes=tuple(group.processes),
                fixed_ip=f"10.0.{g}.{10 + index}", floating_ip=None,
                host_key="ssh-ed25519 " + base64.b64encode(name.encode()).decode(),
                proxy_gateway=group.proxy_gateway))
    return sorted(instances, key=lambda i: (i.group, i.index))


def parse_test_spec(text: str, framework: Framework) -> ClusterSpec:
    """A spec from YAML text (dedented), checked by its own rules and ``framework``'s topology rules."""
    return parse_spec(textwrap.dedent(text), "spec.yaml", Checks(spec=framework.validate)).spec


def make_cluster(spec: str | ClusterSpec, framework: Framework, *, targets: Iterable[str] | None = None,
                 leaving: Iterable[str] = (), responses: Responses | None = None,
                 files: Mapping[tuple[str, str], str | bytes] | None = None,
                 emit: EventSink = ignore) -> RecordingContext:
    """A step context over fake instances of ``spec`` whose ``connect`` gives :class:`RecordingRemote`\\ s.

    ``targets`` and ``leaving`` name instances: ``targets`` defaults to
    ``leaving`` when that is given (a decommission), else to every instance
    (a launch); for a scale-up, pass the spec with its new counts and the new
    instances as ``targets``. ``files`` are ``(instance, path)`` to content
    present before the operation. Remotes are made once per instance, like
    the real persistent connections.
    """
    cluster = spec if isinstance(spec, ClusterSpec) else parse_test_spec(spec, framework)
    instances = fake_instances(cluster)
    by_name = {i.name: i for i in instances}
    leaving_list = _pick(by_name, leaving)
    target_list = _pick(by_name, targets) if targets is not None else (leaving_list or list(instances))
    recorder = Recorder(files)
    remotes = {i.name: RecordingRemote(i, recorder, responses) for i in instances}
    return RecordingContext(spec=cluster, framework=framework, instances=instances, targets=target_list,
                            connect=lambda instance: remotes[instance.name], leaving=leaving_list, emit=emit,
                            recorder=recorder)


def _pick(by_name: Mapping[str, Instance], names: Iterable[str]) -> list[Instance]:
    chosen = list(names)
    unknown = [n for n in chosen if n not in by_name]
    if unknown:
        raise KeyError(f"no such instance(s): {', '.join(unknown)} (have: {', '.join(by_name)})")
    return [by_name[n] for n in chosen]


def operation_steps(framework: Framework, operation: Operation) -> list[Step]:
    """heatdeploy's common steps followed by ``framework``'s for ``operation``.

    The common steps prepare new instances, so they are part of launch and
    scale-up only; a decommission acts on instances that are already set up.
    """
    return [*common_steps(operation), *framework.steps(operation)]


def run_operation(framework: Framework, operation: Operation, ctx: StepContext, max_workers: int = 32) -> None:
    """Run ``operation`` over ``ctx`` through the real orchestrator.

    Raises :class:`~heatdeploy.steps.StepsFailed` like a real run would.
    """
    run_steps(ctx, operation_steps(framework, operation), max_workers)


__all__ = [
    "CommandReply", "Entry", "HttpReply", "Recorder", "RecordingContext", "RecordingRemote", "Responses",
    "fake_instances", "make_cluster", "operation_steps", "parse_test_spec", "run_operation",
]


BARE = Framework(name="bare", title="Bare instances", versions=("1",), processes={"node": "runs nothing"})
"""A framework with no steps of its own, for trying steps and remotes on plain instances of a real cloud."""


def bare_cluster(name: str, count: int = 1) -> tuple[Plugins, LoadedSpec]:
    """Plugins with :data:`BARE` registered, and a spec of ``count`` bare local instances called ``name``."""
    plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(BARE)))
    plugins = plugins_from({"bare": plugin})
    text = textwrap.dedent(f"""\
        name: {json.dumps(name)}
        plugin: bare
        version: "1"
        image: local
        flavor: m1.small
        network: private
        node_groups:
          - name: node
            count: {count:d}
            processes: [node]
        """)
    return plugins, parse_spec(text, f"{name}.yaml", checks(plugins))
