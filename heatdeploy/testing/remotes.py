"""A recording remote: fake instances that log what steps ask and answer from canned replies.

Every action of every :class:`RecordingRemote` lands, in the order it
happened, in one shared :class:`Recorder`. Commands succeed with empty
output and HTTP requests answer 404 unless :class:`Responses` says
otherwise, so tests choose whether waits and verifications succeed.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Command, RemoteError, Result

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
    :class:`~heatdeploy.RemoteError` to act out an unreachable
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
    """A :class:`~heatdeploy.Remote` that records what it is asked and answers from canned replies.

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
