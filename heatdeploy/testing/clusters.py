"""Fake clusters for testing steps: a step context over recording remotes, operations run for real.

Plugin authors test their steps without a cloud or SSH::

    ctx = make_cluster(SPEC_TEXT, MY_FRAMEWORK)
    run_operation(MY_FRAMEWORK, "launch", ctx)
    assert ("run", "demo-master-0", ["my-daemon", "start"]) in ctx.recorder.entries()
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

from heatdeploy.events import EventSink, ignore
from heatdeploy.plugin.framework import Framework, Operation
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.manager import Plugins, hookimpl, plugins_from
from heatdeploy.plugin.steps import DeadlineExceeded, Step, StepContext
from heatdeploy.plugin.validation import checks
from heatdeploy.spec.model import Checks, ClusterSpec, LoadedSpec, parse_spec
from heatdeploy.steps.common import with_common_steps
from heatdeploy.steps.orchestrator import run_steps
from heatdeploy.testing.remotes import Recorder, RecordingRemote, Responses


@dataclass
class RecordingContext(StepContext):
    """A :class:`~heatdeploy.StepContext` for tests: shares its recorder, and waits without sleeping.

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


def operation_steps(framework: Framework, operation: Operation, plugins: Plugins | None = None,
                    spec: ClusterSpec | None = None) -> list[Step]:
    """heatdeploy's common steps followed by ``framework``'s for ``operation``, as a real run orders them,
    then, with ``plugins`` (and the ``spec`` they are asked about), every add-on's ``heatdeploy_cluster_steps``.

    The common steps prepare new instances, so they are part of launch and
    scale-up only; a decommission acts on instances that are already set up.
    Every framework and add-on step follows the image check, as in a real run.
    """
    extra = plugins.cluster_steps(spec, framework, operation) if plugins is not None and spec is not None else []
    return with_common_steps(operation, [*framework.steps(operation), *extra])


def run_operation(framework: Framework, operation: Operation, ctx: StepContext, max_workers: int = 32,
                  plugins: Plugins | None = None) -> None:
    """Run ``operation`` over ``ctx`` through the real orchestrator; with ``plugins``, the add-ons' steps too.

    Raises :class:`~heatdeploy.StepsFailed` like a real run would.
    """
    run_steps(ctx, operation_steps(framework, operation, plugins, ctx.spec), max_workers)


BARE = Framework(name="bare", title="Bare instances", versions=("1",), processes={"node": "runs nothing"})
"""A framework with no steps of its own, for trying steps and remotes on plain instances of a real cloud."""


def bare_cluster(name: str, count: int = 1, *, volumes: int = 0, framework: Framework = BARE,
                 access_cidrs: Iterable[str] = ()) -> tuple[Plugins, LoadedSpec]:
    """Plugins with ``framework`` (default :data:`BARE`) registered, and a spec of ``count`` local instances
    called ``name`` running its first process, each with ``volumes`` 1 GB volumes mounted at
    /volumes/disk1...N and floating IPs; ``access_cidrs`` opens the framework's ports to those networks."""
    plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(framework)))
    plugins = plugins_from({framework.name: plugin})
    text = textwrap.dedent(f"""\
        name: {json.dumps(name)}
        plugin: {json.dumps(framework.name)}
        version: {json.dumps(framework.versions[0])}
        image: local
        flavor: m1.small
        network: private
        floating_ip_pool: public
        access_cidrs: {json.dumps(list(access_cidrs))}
        node_groups:
          - name: node
            count: {count:d}
            processes: [{json.dumps(next(iter(framework.processes)))}]
        """)
    if volumes:
        text += f"    volumes: {{count: {volumes:d}, size: 1}}\n"
    return plugins, parse_spec(text, f"{name}.yaml", checks(plugins))
