"""The cluster lifecycle: launch, status, list, scale, delete, plan.

This is the API that the command line and embedding services use. It never
prints: progress goes to the ``on_event`` callback. Cluster state lives in
the cloud (the stack, and a record with the generated key in the project's
Swift), so any machine with the project's credentials can pick a cluster up.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from keystoneauth1 import session as ks_session

from heatdeploy import interrupts
from heatdeploy.cloud import auth
from heatdeploy.cloud.locks import TTL_SECONDS, ClusterBusy, ClusterLock
from heatdeploy.cloud.project import OpenStackProject, Project, StackService
from heatdeploy.cloud.records import ClusterRecord
from heatdeploy.cloud.stacks import StackError, StackInfo, Stall
from heatdeploy.errors import CloudError, HeatdeployError, library_failure
from heatdeploy.events import Event, EventSink, ignore
from heatdeploy.plugin.facts import Facts
from heatdeploy.plugin.framework import Framework, Operation
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.manager import Plugins, load_plugins
from heatdeploy.plugin.steps import StepContext
from heatdeploy.plugin.validation import checks, framework_problems
from heatdeploy.render.renderer import render
from heatdeploy.spec.model import ClusterSpec, LoadedSpec, parse_spec
from heatdeploy.ssh import keys, openssh
from heatdeploy.ssh.connections import AccessConfig, Connections, Connector, InstanceConnections
from heatdeploy.steps.common import with_common_steps
from heatdeploy.steps.health import SSH_CHECK, HealthReport, run_checks
from heatdeploy.steps.orchestrator import run_steps
from heatdeploy.user_dirs import xdg_home


class ClusterError(HeatdeployError):
    """An operation on a cluster failed; the message says what and where."""


@dataclass(frozen=True)
class Options:
    """Settings of an operation that are not part of the spec."""

    wait: bool = True
    """Run the configuration steps; ``False`` returns once the stack is being created."""
    timeout_minutes: int | None = None
    """Overrides the spec's ``timeout`` for the stack."""
    trust_days: float = auth.DEFAULT_TRUST_DAYS
    use_floating_ip: bool = True
    proxy_command: str | None = None
    max_parallel: int = 32
    """At most this many instances are configured at once (SSH connections and threads)."""
    break_lock: bool = False
    """Take the cluster's lock even if another operation holds it (that process is known to be gone)."""
    stall_after: float | None = None
    """Seconds without a new event from Heat after which a stack operation is reported as stalled
    (the wait goes on until the timeout); ``None``: :func:`stall_after`'s default for the cluster's size."""


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(seconds, 0):.0f} s"


def stall_after(options: Options, instances: int) -> float:
    """When to report a silent stack: ``options.stall_after``, else 5 minutes plus a second per instance.

    Heat is quiet while instances boot, and a bigger stack takes longer
    between events at each step, so the default grows with the cluster.
    """
    return options.stall_after if options.stall_after is not None else 300.0 + instances


@dataclass
class Summary:
    """A cluster as heatdeploy reports it."""

    name: str
    state: str
    plugin: str
    version: str
    stack_status: str | None
    instances: list[Instance] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)
    trust_id: str | None = None
    health: HealthReport | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "plugin": self.plugin, "version": self.version,
                "stack_status": self.stack_status, "instances": [i.to_dict() for i in self.instances],
                "endpoints": self.endpoints, "trust_id": self.trust_id,
                "health": self.health.to_dict() if self.health else None}


class ClusterManager:
    """Lifecycle operations on the clusters of one project.

    ``session`` is the caller's keystoneauth1 session (or pass ``cloud``, a
    :class:`~heatdeploy.cloud.project.Project`, such as the in-memory
    :class:`heatdeploy.testing.FakeCloud`). ``plugins`` defaults to the
    installed ones. With ``trustee_cloud`` (a clouds.yaml entry holding
    heatdeploy's service user) operations run in trust mode: a trust is
    created at launch and every later call of the operation goes through a
    trust-scoped session. ``connector`` opens connections to instances
    (SSH by default).
    """

    def __init__(self, session: ks_session.Session | None = None, plugins: Plugins | None = None, *,
                 trustee_cloud: str | None = None, region: str | None = None, on_event: EventSink = ignore,
                 key_dir: Path | None = None, cloud: Project | None = None,
                 connector: Connector = Connections) -> None:
        if cloud is None:
            if session is None:
                raise TypeError("ClusterManager needs a keystoneauth1 session or a cloud")
            cloud = OpenStackProject(session, region)
        self.cloud = cloud
        self.plugins = load_plugins() if plugins is None else plugins
        self.trustee_cloud = trustee_cloud
        self.region = region
        self.emit = on_event
        self.key_dir = key_dir or default_key_dir()
        self.connector = connector
        self._trusted: dict[tuple[str, str], Project] = {}
        self._work_for: dict[str, Project] = {}
        self._held: dict[tuple[int, str], ClusterLock] = {}
        """Locks held, by (thread, cluster): re-entrant within a thread, never shared between threads."""

    # -- what operations share ----------------------------------------------------------------------------------

    def work_cloud(self, record: ClusterRecord) -> Project:
        """The cloud as the cluster's work sees it: through its trust in trust mode, else the caller's."""
        if not (record.trust_id and record.trustee_cloud):
            return self.cloud
        key = (record.trustee_cloud, record.trust_id)
        if key not in self._trusted:
            self._trusted[key] = self.cloud.trusted(*key)
        self._work_for[record.name] = self._trusted[key]
        return self._trusted[key]

    @contextlib.contextmanager
    def locked(self, name: str, operation: str, break_lock: bool = False) -> Iterator[None]:
        """Hold cluster ``name``'s lock while ``operation`` runs; :class:`ClusterBusy` names another holder.

        Re-entrant within a thread: a launch that converges by scaling holds
        one lock. The lock is renewed while held, through the cluster's work
        cloud once it is known; an operation that loses it (expired and taken
        over) stops at its next phase.
        """
        key = (threading.get_ident(), name)
        if key in self._held:
            yield
            return
        with self.failing_as(name, operation):
            lock = ClusterLock(lambda: self._work_for.get(name, self.cloud).locks(), name, operation,
                               break_lock=break_lock)
            lock.acquire()
            self.project_id  # noqa: B018 - resolved while the caller's token is fresh (key paths need it)
            self._held[key] = lock
            try:
                yield
            finally:
                del self._held[key]
                self._release(lock)
                self._work_for.pop(name, None)

    def _release(self, lock: ClusterLock) -> None:
        """Best effort: a lock left behind expires by itself, and must not hide the operation's own error."""
        try:
            lock.release()
        except Exception as exc:  # noqa: BLE001 - reported, never raised over the operation's outcome
            self.emit(Event("warning", message=f"could not release the lock of cluster {lock.name} ({exc}); "
                                               f"it expires by itself within {TTL_SECONDS / 60:.0f} minutes"))

    def _holds(self, name: str) -> bool:
        return (threading.get_ident(), name) in self._held

    @contextlib.contextmanager
    def failing_as(self, name: str, operation: str) -> Iterator[None]:
        """Turn an error of the cloud or SSH libraries into a :class:`CloudError` naming the cluster."""
        try:
            yield
        except HeatdeployError:
            raise
        except Exception as exc:
            failure = library_failure(exc)
            if failure is None:
                raise
            raise CloudError(f"{operation} of cluster {name} failed: {failure}") from exc

    def record(self, name: str) -> ClusterRecord:
        """The cluster's record; :class:`ClusterError` when there is no such cluster."""
        record = self.cloud.records.load(name)
        if record is None:
            raise ClusterError(f"no cluster named {name}")
        return record

    def instances(self, record: ClusterRecord, cloud: Project | None = None) -> builtins.list[Instance]:
        """The cluster's instances as its stack reports them, each with the host key pinned for it.

        A server's host key is pinned the first time heatdeploy sees it, in
        the cluster's record; a later report (a replayed wait condition
        signal) never replaces it. ``cloud`` defaults to the work cloud.
        """
        cloud = cloud or self.work_cloud(record)
        pinned: builtins.list[Instance] = []
        first_seen = False
        for instance in cloud.stacks.instances(record.name):
            known = record.host_keys.get(instance.id)
            if known is None and instance.host_key:
                record.host_keys[instance.id] = instance.host_key
                first_seen = True
            elif known is not None and known != instance.host_key:
                self.emit(Event("warning", instance=instance.name, message=(
                    f"{instance.name} now reports another host key than the one it reported first; "
                    "keeping the first")))
                instance = dataclasses.replace(instance, host_key=known)
            pinned.append(instance)
        if first_seen:
            self._save_pins(record, cloud)
        return pinned

    def _save_pins(self, record: ClusterRecord, cloud: Project) -> None:
        if self._holds(record.name):
            cloud.records.save(record)
            return
        try:  # outside an operation: only under the lock, and merged into the record as it is now
            with self.locked(record.name, "pin host keys"):
                current = cloud.records.load(record.name)
                if current is not None:
                    for server, key in record.host_keys.items():
                        current.host_keys.setdefault(server, key)
                    cloud.records.save(current)
        except ClusterBusy:
            pass  # the operation holding the lock pins them itself

    def connections(self, record: ClusterRecord, instances: Sequence[Instance], options: Options | None = None,
                    cloud: Project | None = None) -> InstanceConnections:
        """Connections to ``instances`` with the cluster's key and their pinned host keys; close them after.

        The key is cached locally; otherwise it is read through ``cloud``
        (default: the cluster's work cloud, which outlives the caller's token).
        """
        access = self._access(record, options or Options(), cloud or self.work_cloud(record))
        return self.connector(instances, access)

    def _phase(self, message: str) -> None:
        """Report the next phase of an operation; an operation whose lock was lost stops here."""
        for (thread, _), lock in list(self._held.items()):
            if thread == threading.get_ident():
                lock.check()
        self.emit(Event("phase", message=message))

    # -- launch -----------------------------------------------------------------------------------------------

    def launch(self, loaded: LoadedSpec, options: Options = Options()) -> Summary:
        """Create the cluster, or converge an existing one to ``loaded``'s spec."""
        spec = loaded.spec
        framework = self._framework(spec)
        with self.locked(spec.name, "launch", options.break_lock):
            return self._launch(loaded, spec, framework, options)

    def _launch(self, loaded: LoadedSpec, spec: ClusterSpec, framework: Framework, options: Options) -> Summary:
        record = self.cloud.records.load(spec.name)
        if record is None:
            record = self._begin(spec, loaded.text, options)
        elif record.plugin != spec.plugin:
            raise ClusterError(f"cluster {spec.name} already exists with plugin {record.plugin}")
        work = self.work_cloud(record)
        stack = self._wait_out(spec, work, options)
        if stack is not None and (stack.status.startswith("DELETE") or
                                  (record.state != "active" and stack.status.endswith("_FAILED"))):
            self._discard_stack(record, stack, work, spec.timeout, options)
            work, stack = self.work_cloud(record), None
        if stack is not None and record.state == "active":
            return self._converge(record, spec, framework, options)
        marker = self._create_or_resume(record, spec, framework, stack, work, options)
        if not options.wait:
            return self._summary(record, work, framework)
        instances = self._wait_ready(record, work, spec, options, marker)
        self._run(spec, framework, record, instances, instances, "launch", options)
        record.state = "active"
        self._mark_configured(record, instances, work)
        self._phase(f"cluster {spec.name} is active")
        return self._summary(record, work, framework)

    def _begin(self, spec: ClusterSpec, text: str, options: Options) -> ClusterRecord:
        """Record the cluster before anything else exists, so delete can find all that follows."""
        self._phase("generating the cluster's SSH key")
        pair = keys.generate(f"heatdeploy-{spec.name}")
        record = ClusterRecord(name=spec.name, plugin=spec.plugin, version=spec.version, spec=text,
                               public_key=pair.public, trustee_cloud=self.trustee_cloud)
        records = self.cloud.records
        records.save(record)
        records.save_private_key(spec.name, pair.private)
        keys.write_private(self._key_path(spec.name), pair)
        if self.trustee_cloud:
            self._phase(f"creating a trust for {self.trustee_cloud} (roles: {', '.join(auth.TRUST_ROLES)})")
            with interrupts.deferred():  # a trust made but not recorded would never be deleted
                record.trust_id = self.cloud.create_trust(self.trustee_cloud, options.trust_days).id
                self._save_new_trust(record, record.trust_id)
        return record

    def _discard_stack(self, record: ClusterRecord, stack: StackInfo, work: Project, timeout_minutes: int,
                       options: Options) -> None:
        """Delete a stack nothing is worth keeping of, so that the launch creates it anew.

        A stack that failed before its cluster was ever active (an unknown
        flavor, an engine that died mid-create) often cannot be repaired by
        an update: its wait conditions can no longer be signalled. A stack
        left half-deleted is finished off.
        """
        why = f": {stack.reason}" if stack.reason else ""
        self._phase(f"stack {stack.name} is {stack.status}{why}; deleting it to create it again "
                    "(none of its instances was ever configured)" if record.state != "active" else
                    f"stack {stack.name} is {stack.status}; finishing its deletion to create it again")
        marker = work.stacks.last_event_id(stack.name)
        if stack.status != "DELETE_IN_PROGRESS":
            work.stacks.delete(stack.id)
        self._wait_stack(work.stacks, stack.name, "DELETE", marker, timeout_minutes,
                         stall_after(options, len(record.host_keys)))
        record.state, record.stack_id, record.configured = "creating", None, []
        record.host_keys, record.removed = {}, {}
        work.records.save(record)
        if record.trust_id and record.trustee_cloud:
            # Heat makes its own trust from ours for each stack, and Keystone refuses a second one
            # just like the first (same trustor, trustee, project and expiry): a new stack, a new trust.
            self._replace_trust(record, options.trust_days)

    def _create_or_resume(self, record: ClusterRecord, spec: ClusterSpec, framework: Framework,
                          stack: StackInfo | None, work: Project, options: Options) -> str | None:
        """Start or repair the stack; return the event marker to wait from."""
        rendered = render(spec, framework, self.plugins, record.removed, record.declared_ports)
        timeout = options.timeout_minutes or spec.timeout
        stacks = work.stacks
        if stack is None:
            self._phase(f"creating stack {spec.name}")
            record.stack_id = stacks.create(spec.name, rendered, {"public_key": record.public_key},
                                            [f"heatdeploy-plugin={spec.plugin}"], timeout)
            work.records.save(record)
            return None
        if stack.status.endswith("_FAILED"):
            self._phase(f"stack {spec.name} is {stack.status}: updating it to repair")
            marker = stacks.last_event_id(spec.name)
            stacks.update(stack.id, rendered, {"public_key": record.public_key},
                          [f"heatdeploy-plugin={spec.plugin}"], timeout)
            return marker
        self._phase(f"resuming the launch of {spec.name} (stack {stack.status})")
        return None if stack.status.startswith("CREATE") else stacks.last_event_id(spec.name)

    def _wait_ready(self, record: ClusterRecord, work: Project, spec: ClusterSpec, options: Options,
                    marker: str | None) -> builtins.list[Instance]:
        stacks = work.stacks
        stack = stacks.find(spec.name)
        if stack is not None and stack.status.endswith("_IN_PROGRESS"):
            action = stack.status.split("_", 1)[0]
            self._phase(f"waiting for stack {spec.name} ({action})")
            self._wait_stack(stacks, spec.name, action, marker, options.timeout_minutes or spec.timeout,
                             stall_after(options, spec.instance_count))
        elif stack is None or stack.status.endswith("_FAILED"):
            status = stack.status if stack else "missing"
            raise StackError(f"stack {spec.name} is {status}", stacks.failures(spec.name))
        return self.instances(record, work)

    def _stack_line(self, line: str) -> None:
        self.emit(Event("stack", message=line))

    def _wait_stack(self, stacks: StackService, name: str, action: str, marker: str | None, minutes: int,
                    stall_seconds: float) -> None:
        stacks.wait(name, action, marker, 60.0 * minutes, self._stack_line, stall_after=stall_seconds,
                    on_stall=self._stalled)

    def _stalled(self, stall: Stall) -> None:
        last = f"; its last event: {stall.last_event}" if stall.last_event else ""
        remedy = (f"or stop it and run `heatdeploy delete --force --timeout 1 {stall.stack}`, which removes "
                  "the record, key and trusts and names the stack left behind" if stall.action == "DELETE" else
                  f"or stop it and delete the cluster (`heatdeploy delete {stall.stack}`)")
        self.emit(Event("stack_stalled", message=(
            f"stack {stall.stack} ({stall.action}): nothing new from Heat for {stall.silent_for:.0f} s{last}. "
            f"Heat may be stuck: wait (this operation gives up in {_duration(stall.time_left)}), {remedy}")))

    # -- steps ------------------------------------------------------------------------------------------------

    def _access(self, record: ClusterRecord, options: Options, cloud: Project) -> AccessConfig:
        return AccessConfig(private_key=self._private_key(record, cloud), use_floating_ip=options.use_floating_ip,
                            proxy_command=options.proxy_command)

    def _run(self, spec: ClusterSpec, framework: Framework, record: ClusterRecord, instances: builtins.list[Instance],
             targets: builtins.list[Instance], operation: Operation, options: Options,
             leaving: Sequence[Instance] = ()) -> None:
        steps = with_common_steps(operation, [*framework.steps(operation),
                                              *self.plugins.cluster_steps(spec, framework, operation)])
        self._phase(f"running {len(steps)} {operation} step(s) on {len(targets)} instance(s)")
        facts = Facts.from_record(record.facts)
        before = facts.to_record()
        try:
            with self.connections(record, instances, options) as connections:
                ctx = StepContext(spec=spec, framework=framework, instances=instances, connect=connections.get,
                                  targets=targets, leaving=list(leaving), emit=self.emit, fact_store=facts)
                run_steps(ctx, steps, options.max_parallel)
        except BaseException:  # what was published is kept even when a step failed: a rerun reads it
            self._keep_facts(record, facts, before, quietly=True)
            raise
        self._keep_facts(record, facts, before)

    def _keep_facts(self, record: ClusterRecord, facts: Facts, before: dict[str, Any], quietly: bool = False) -> None:
        """Save what the steps published in the cluster's record; after a failure, a save that fails too
        is a warning, so that it never hides the first error."""
        after = facts.to_record()
        if after == before:
            return
        record.facts = after
        try:
            self.work_cloud(record).records.save(record)
        except Exception as exc:
            if not quietly:
                raise
            self.emit(Event("warning", message=f"could not keep the facts the steps published: {exc}"))

    # -- converge and scale -----------------------------------------------------------------------------------

    def _converge(self, record: ClusterRecord, spec: ClusterSpec, framework: Framework,
                  options: Options) -> Summary:
        """Bring an active cluster to ``spec``: scale it, or finish what an earlier operation left undone."""
        current = self.spec_of(record)
        wanted = {g.name: g.count for g in spec.node_groups}
        if {g.name: g.count for g in current.node_groups} != wanted:
            return self.scale(spec.name, wanted, options=options)
        work = self.work_cloud(record)
        instances = self._settle_stack(record, current, framework, work, options)
        legacy = record.configured is None
        fresh = _unconfigured(record, instances)
        if fresh:
            self._phase(f"configuring {', '.join(i.name for i in fresh)}: never configured")
            self._run(current, framework, record, instances, fresh, "scale_up", options)
        else:
            health = self._health(record, current, framework, instances, options, work)
            if health.status == "green":
                if legacy:
                    work.records.save(record)
                self._phase(f"cluster {spec.name} already matches the spec and is healthy")
                return self._summary(record, work, framework)
            self._phase(f"cluster {spec.name} is {health.status}: running its launch steps again")
            self._run(current, framework, record, instances, instances, "launch", options)
        self._mark_configured(record, instances, work)
        self._phase(f"cluster {spec.name} is active")
        return self._summary(record, work, framework)

    @staticmethod
    def _mark_configured(record: ClusterRecord, instances: Sequence[Instance], work: Project) -> None:
        """Record that ``instances`` (all the cluster has) are configured: what a rerun need not redo."""
        record.configured = sorted(i.id for i in instances)
        work.records.save(record)

    def _wait_out(self, spec: ClusterSpec, work: Project, options: Options) -> StackInfo | None:
        """The stack once an action an earlier operation left running is over, failed or not: the caller
        decides from the outcome (an engine that died mid-create leaves the stack in progress until the
        restarted engine marks it failed)."""
        stacks = work.stacks
        stack = stacks.find(spec.name)
        if stack is not None and stack.status.endswith("_IN_PROGRESS"):
            action = stack.status.split("_", 1)[0]
            self._phase(f"waiting for stack {spec.name} ({action}), which an earlier operation left running")
            with contextlib.suppress(StackError):
                self._wait_stack(stacks, spec.name, action, stacks.last_event_id(spec.name),
                                 options.timeout_minutes or spec.timeout, stall_after(options, spec.instance_count))
            stack = stacks.find(spec.name)
        return stack

    def _settle_stack(self, record: ClusterRecord, spec: ClusterSpec, framework: Framework, work: Project,
                      options: Options) -> builtins.list[Instance]:
        """Bring the stack to the recorded spec and return its instances: wait out an action left running,
        repair a failed one, and finish a scale cut short before its update (members differing from the
        recorded counts)."""
        stack = self._wait_out(spec, work, options)
        if stack is None:
            raise ClusterError(f"cluster {spec.name} has no stack; delete it and launch it again")
        instances = self.instances(record, work)
        members: dict[str, int] = {g.name: 0 for g in spec.node_groups}
        for instance in instances:
            members[instance.group] = members.get(instance.group, 0) + 1
        wanted = {g.name: g.count for g in spec.node_groups}
        if not stack.status.endswith("_FAILED") and members == wanted:
            return instances
        self._phase(f"stack {spec.name} is {stack.status} with {_counts_text(members)}: "
                    f"updating it to {_counts_text(wanted)}")
        self._update(record, spec, framework, work, options)
        return self.instances(record, work)

    def spec_of(self, record: ClusterRecord) -> ClusterSpec:
        """The cluster's current spec: the launched text with the counts scaling has set since."""
        loaded = parse_spec(record.spec, f"{record.name} (recorded spec)", checks(self.plugins))
        return loaded.spec

    def scale(self, name: str, counts: Mapping[str, int], remove: Sequence[str] = (),
              options: Options = Options()) -> Summary:
        """Change node group sizes; ``remove`` names the instances to remove first."""
        with self.locked(name, "scale", options.break_lock):
            return self._scale(name, counts, remove, options)

    def _scale(self, name: str, counts: Mapping[str, int], remove: Sequence[str], options: Options) -> Summary:
        record = self.record(name)
        work = self.work_cloud(record)
        spec = self.spec_of(record)
        framework = self._framework(spec)
        new_spec = _with_counts(spec, counts)
        problems = list(framework_problems(new_spec, self.plugins))
        if problems:
            raise ClusterError("; ".join(f"{p.path}: {p.message}" for p in problems))
        before = self.instances(record, work)
        _unconfigured(record, before)  # an old record's instances count as configured from here on
        leaving = _leaving(before, spec, new_spec, remove)
        if leaving:
            self._phase(f"decommissioning {', '.join(i.name for i in leaving)}")
            self._run(spec, framework, record, before, leaving, "decommission", options, leaving)
            for instance in leaving:  # recorded before the update: removed nodes never come back
                record.removed.setdefault(instance.group, []).append(str(instance.index))
            facts = Facts.from_record(record.facts)
            facts.forget(i.name for i in leaving)
            record.facts = facts.to_record()
        record.spec = _spec_text_with_counts(record.spec, new_spec)
        work.records.save(record)
        self._update(record, new_spec, framework, work, options)
        after = self.instances(record, work)
        added = _unconfigured(record, after)  # new, or left unconfigured by an interrupted scale
        if added:
            self._run(new_spec, framework, record, after, added, "scale_up", options)
        self._mark_configured(record, after, work)
        self._phase(f"cluster {name} scaled: {_counts_text(counts)}")
        return self._summary(record, work, framework)

    def _update(self, record: ClusterRecord, spec: ClusterSpec, framework: Framework, work: Project,
                options: Options) -> None:
        rendered = render(spec, framework, self.plugins, record.removed, record.declared_ports)
        stacks = work.stacks
        marker = stacks.last_event_id(spec.name)
        stack = stacks.find(spec.name)
        if stack is None:
            raise ClusterError(f"cluster {spec.name} has no stack")
        timeout = options.timeout_minutes or spec.timeout
        self._phase(f"updating stack {spec.name}")
        stacks.update(stack.id, rendered, {"public_key": record.public_key}, [f"heatdeploy-plugin={spec.plugin}"],
                      timeout)
        self._wait_stack(stacks, spec.name, "UPDATE", marker, timeout, stall_after(options, spec.instance_count))

    def plan(self, loaded: LoadedSpec) -> dict[str, builtins.list[str]]:
        """What launching ``loaded`` would change: resources added, updated, replaced, deleted."""
        spec = loaded.spec
        framework = self._framework(spec)
        record = self.cloud.records.load(spec.name)
        stacks = self.cloud.stacks
        stack = stacks.find(spec.name)
        removed = record.removed if record else {}
        rendered = render(spec, framework, self.plugins, removed, record.declared_ports if record else True)
        public_key = record.public_key if record else keys.generate("plan").public
        if stack is None:
            return {"added": stacks.preview_create(spec.name, rendered, {"public_key": public_key})}
        if stacks.matches(stack.id, rendered):
            return {}
        changes = stacks.preview_update(stack.id, rendered, {"public_key": public_key})
        added, leaving = _instance_changes(stacks.instances(spec.name), spec, removed)
        changes["added"] += [f"{name} (instance)" for name in added]
        changes["deleted"] += [f"{i.name} (instance)" for i in leaving]
        return changes

    # -- inspect ----------------------------------------------------------------------------------------------

    def status(self, name: str, options: Options = Options(), check_health: bool = True) -> Summary:
        """The cluster as it is now; with ``check_health``, its health checks' results."""
        with self.failing_as(name, "status"):
            return self._status(name, options, check_health)

    def _status(self, name: str, options: Options, check_health: bool) -> Summary:
        record = self.record(name)
        spec = self.spec_of(record)
        framework = self._framework(spec)
        summary = self._summary(record, self.cloud, framework)
        if check_health and summary.instances and record.state == "active":
            summary.health = self._health(record, spec, framework, summary.instances, options, self.cloud)
        return summary

    def _health(self, record: ClusterRecord, spec: ClusterSpec, framework: Framework,
                instances: builtins.list[Instance], options: Options, cloud: Project) -> HealthReport:
        with self.connections(record, instances, options, cloud) as connections:
            ctx = StepContext(spec=spec, framework=framework, instances=instances, connect=connections.get,
                              targets=instances)
            return run_checks(ctx, [SSH_CHECK, *framework.health_checks()])

    def connect(self, name: str, options: Options = Options()) -> InstanceConnections:
        """SSH access to the cluster's instances, with its key and their pinned host keys.

        Use it as a context manager: ``with manager.connect("demo") as c:
        c.remote("demo-master-0").run(["hostname"])``.
        """
        record = self.record(name)
        return self.connections(record, self.instances(record, self.cloud), options, self.cloud)

    def ssh_command(self, name: str, instance: str | None = None, command: Sequence[str] = (),
                    options: Options = Options()) -> builtins.list[str]:
        """An OpenSSH command line to one of the cluster's instances (default: the first).

        It uses the cluster's cached private key and a known_hosts file, next
        to it, holding only the host keys the instances reported at boot.
        """
        record = self.record(name)
        instances, config = self.instances(record, self.cloud), self._access(record, options, self.cloud)
        if not instances:
            raise ClusterError(f"cluster {name} has no instances")
        by_name = {i.name: i for i in instances}
        if instance is not None and instance not in by_name:
            raise ClusterError(f"cluster {name} has no instance {instance}; it has {', '.join(sorted(by_name))}")
        key_file = self._key_path(name)
        known = key_file.with_name("known_hosts")
        keys.write_secret(known, openssh.known_hosts(instances, config))
        target = by_name[instance] if instance else instances[0]
        return openssh.ssh_argv(target, instances, config, key_file, known, command)

    def list(self) -> builtins.list[Summary]:
        """Every cluster of the project, without instances or health."""
        by_name = {s.name: s for s in self.cloud.stacks.all()}
        summaries = []
        for record in self.cloud.records.all():
            stack = by_name.get(record.name)
            summaries.append(Summary(record.name, record.state, record.plugin, record.version,
                                     stack.status if stack else None, trust_id=record.trust_id))
        return summaries

    def _summary(self, record: ClusterRecord, cloud: Project, framework: Framework) -> Summary:
        stack = cloud.stacks.find(record.name)
        instances = self.instances(record, cloud) if stack and stack.status.endswith("_COMPLETE") else []
        return Summary(record.name, record.state, record.plugin, record.version, stack.status if stack else None,
                       instances, framework.endpoints(instances), record.trust_id)

    def renew_trust(self, name: str, days: float = auth.DEFAULT_TRUST_DAYS, break_lock: bool = False) -> auth.Trust:
        """Replace the cluster's trust with a new one expiring ``days`` from now.

        The new trust is recorded before the old one is deleted, so the
        cluster always has a working trust on record.
        """
        with self.locked(name, "renew", break_lock):
            return self._renew_trust(name, days)

    def _renew_trust(self, name: str, days: float) -> auth.Trust:
        record = self.record(name)
        if not record.trust_id or not record.trustee_cloud:
            raise ClusterError(f"cluster {name} was not launched in trust mode")
        return self._replace_trust(record, days)

    def _replace_trust(self, record: ClusterRecord, days: float) -> auth.Trust:
        """A new trust on record first, then the old one deleted (with any Heat made from it)."""
        assert record.trustee_cloud and record.trust_id
        self._phase(f"creating a new trust for {record.trustee_cloud} ({days:g} days)")
        with interrupts.deferred():  # the new trust is on record as soon as it exists
            trust = self.cloud.create_trust(record.trustee_cloud, days)
            record.retired_trusts.append(record.trust_id)
            record.trust_id = trust.id
            self._save_new_trust(record, trust.id)
        self.work_cloud(record)  # the lock is renewed and released through the new trust from now on
        self._phase("deleting the old trust")
        self._delete_retired_trusts(record)
        return trust

    def _save_new_trust(self, record: ClusterRecord, trust_id: str) -> None:
        """Record a trust just made; if that fails, delete the trust: nothing else would ever find it."""
        try:
            self.cloud.records.save(record)
        except BaseException:
            with contextlib.suppress(Exception):
                self.cloud.delete_trust(trust_id)
            raise

    def _delete_retired_trusts(self, record: ClusterRecord) -> None:
        """Delete the trusts a renewal replaced (one, unless an earlier renewal was cut short)."""
        for trust_id in list(record.retired_trusts):
            self.cloud.delete_trust(trust_id)
            record.retired_trusts.remove(trust_id)
            self.cloud.records.save(record)

    # -- delete -----------------------------------------------------------------------------------------------

    def delete(self, name: str, force: bool = False, timeout_minutes: int = 30,
               break_lock: bool = False, stall_seconds: float | None = None) -> builtins.list[str]:
        """Delete the stack, the record and key, then the trust; return what could not be deleted.

        ``stall_seconds`` is as :attr:`Options.stall_after`.
        """
        with self.locked(name, "delete", break_lock):
            return self._delete(name, force, timeout_minutes, stall_seconds)

    def _delete(self, name: str, force: bool, timeout_minutes: int,
                stall_seconds: float | None) -> builtins.list[str]:
        records, stacks = self.cloud.records, self.cloud.stacks
        record = records.load(name)
        left: builtins.list[str] = []
        stack = stacks.find(name)
        if stack is None and record is None:
            raise ClusterError(f"no cluster named {name}")
        if stack is not None:
            self._phase(f"deleting stack {name}")
            try:
                marker = stacks.last_event_id(name)
                stacks.delete(stack.id)
                size = len(record.host_keys) if record else 0
                self._wait_stack(stacks, name, "DELETE", marker, timeout_minutes,
                                 stall_after(Options(stall_after=stall_seconds), size))
            except StackError as exc:
                if not force:
                    raise
                left.append(f"stack {name}: {exc}")
        self._work_for[name] = self.cloud  # the trusts go next: the lock is released with the caller's token
        # The trusts before the record: a delete cut short after this still finds them on a rerun.
        for trust_id in record.trusts if record else []:
            self._phase(f"deleting trust {trust_id}")
            self.cloud.delete_trust(trust_id)
        self._phase("deleting the cluster's record and key")
        records.delete(name)
        key_file = self._key_path(name)
        for path in (key_file, key_file.with_name("known_hosts")):
            path.unlink(missing_ok=True)
        for folder in (key_file.parent, key_file.parent.parent):  # the cluster's, then the project's if empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        return left

    # -- helpers ----------------------------------------------------------------------------------------------

    def _framework(self, spec: ClusterSpec) -> Framework:
        framework = self.plugins.framework(spec.plugin)
        if framework is None:
            raise ClusterError(f"plugin {spec.plugin!r} is not installed")
        return framework

    @functools.cached_property
    def project_id(self) -> str:
        """The caller's project, asked once: the caller's token may expire during an operation."""
        return self.cloud.project_id()

    def _key_path(self, name: str) -> Path:
        return self.key_dir / self.project_id / name / "id_ed25519"

    def _private_key(self, record: ClusterRecord, cloud: Project) -> str:
        path = self._key_path(record.name)
        if path.exists():
            return path.read_text()
        text = cloud.records.private_key(record.name)
        if text is None:
            raise ClusterError(f"the private key of cluster {record.name} is missing")
        keys.write_private(path, keys.KeyPair(text, record.public_key))
        return text


def default_key_dir() -> Path:
    """Where generated private keys are cached, readable by their owner only."""
    return xdg_home("data") / "heatdeploy" / "keys"


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{group}={count}" for group, count in sorted(counts.items()))


def _unconfigured(record: ClusterRecord, instances: Sequence[Instance]) -> list[Instance]:
    """The instances whose configuration never finished; a record from before this was kept trusts them all."""
    if record.configured is None:
        record.configured = sorted(i.id for i in instances)
    done = set(record.configured)
    return [i for i in instances if i.id not in done]


def _with_counts(spec: ClusterSpec, counts: Mapping[str, int]) -> ClusterSpec:
    names = {g.name for g in spec.node_groups}
    unknown = sorted(set(counts) - names)
    if unknown:
        raise ClusterError(f"unknown node group(s) {', '.join(unknown)} (groups: {', '.join(sorted(names))})")
    groups = [dataclasses.replace(g, count=counts.get(g.name, g.count)) for g in spec.node_groups]
    return dataclasses.replace(spec, node_groups=groups)


def _leaving(instances: list[Instance], old: ClusterSpec, new: ClusterSpec, remove: Sequence[str]) -> list[Instance]:
    """Exactly the instances a scale-down removes: those named, then the highest indices."""
    by_name = {i.name: i for i in instances}
    unknown = [n for n in remove if n not in by_name]
    if unknown:
        raise ClusterError(f"no instance named {', '.join(unknown)} in the cluster")
    leaving: list[Instance] = []
    for group in new.node_groups:
        current = [i for i in instances if i.group == group.name]
        named = [by_name[n] for n in remove if by_name[n].group == group.name]
        drop = len(current) - group.count
        if len(named) > max(drop, 0):
            raise ClusterError(f"{len(named)} instance(s) of {group.name} named for removal, but its count "
                               f"goes from {len(current)} to {group.count}")
        rest = sorted((i for i in current if i not in named), key=lambda i: i.index, reverse=True)
        leaving.extend(named + rest[:max(drop - len(named), 0)])
    return leaving


def _instance_changes(instances: list[Instance], spec: ClusterSpec,
                      removed: Mapping[str, Sequence[str]]) -> tuple[list[str], list[Instance]]:
    """Instances a launch of ``spec`` would add and remove, as Heat's resource groups name them.

    A group grows into the lowest indices neither used nor ever removed, and
    shrinks by its highest indices.
    """
    added: list[str] = []
    leaving: list[Instance] = []
    for group in spec.node_groups:
        members = sorted((i for i in instances if i.group == group.name), key=lambda i: i.index)
        taken = {i.index for i in members} | {int(n) for n in removed.get(group.name, ())}
        index = 0
        for _ in range(group.count - len(members)):
            while index in taken:
                index += 1
            added.append(f"{spec.name}-{group.name}-{index}")
            taken.add(index)
        leaving.extend(members[group.count:][::-1])
    return added, leaving


def _spec_text_with_counts(text: str, spec: ClusterSpec) -> str:
    """The recorded spec with node group counts replaced (re-serialised: comments are not kept)."""
    data = yaml.safe_load(text)
    counts = {g.name: g.count for g in spec.node_groups}
    for group in data.get("node_groups", []):
        group["count"] = counts.get(group["name"], group["count"])
    return yaml.safe_dump(data, sort_keys=False)
