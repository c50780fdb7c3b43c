"""Configuration steps as plugins write them: a :class:`Step` and the :class:`StepContext` it runs in.

A step names the instances it runs on (by process or node group, or all)
and the steps it must follow; its action is a plain synchronous function
``action(ctx, remote)``. heatdeploy's orchestrator (:mod:`heatdeploy.steps`)
runs steps as a DAG, in parallel across instances, with retries, timeouts
and progress events.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from heatdeploy.errors import HeatdeployError
from heatdeploy.events import EventSink, ignore
from heatdeploy.plugin.context import ClusterContext
from heatdeploy.plugin.facts import FactError, Facts
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Remote, RemoteError

Action = Callable[["StepContext", Remote], None]


@dataclass(frozen=True)
class Step:
    """One piece of configuration work, run on every instance it selects.

    ``processes`` or ``groups`` select instances running any of those
    processes or belonging to those node groups; neither selects all.
    ``scope="targets"`` limits the step to the instances the operation is
    about (the new ones when scaling up, the leaving ones when scaling down;
    every instance at launch); ``scope="all"`` runs it on every selected
    instance of the cluster. ``once`` runs it on the first selected instance
    only. ``retries`` is for idempotent actions only. ``publishes`` names
    the facts the action publishes on each instance it runs on
    (:meth:`StepContext.publish`): a step reading them must follow it, and
    an instance that did not publish one is then named in the error.
    """

    name: str
    action: Action
    processes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    scope: Literal["targets", "all"] = "targets"
    once: bool = False
    timeout: float | None = None
    retries: int = 0
    description: str = ""
    publishes: tuple[str, ...] = ()

    def selects(self, instance: Instance) -> bool:
        if not self.processes and not self.groups:
            return True
        return instance.group in self.groups or any(instance.runs(p) for p in self.processes)


class DeadlineExceeded(HeatdeployError):
    """A condition polled by a step did not hold in time."""


# The step and instance an action runs for, set by the orchestrator in the thread that runs it.
_RUNNING: ContextVar[tuple[Step, Instance] | None] = ContextVar("heatdeploy_running_step", default=None)


@contextlib.contextmanager
def running(step: Step, instance: Instance) -> Iterator[None]:
    """Mark the current thread as running ``step`` on ``instance`` (what :meth:`StepContext.publish` reads)."""
    token = _RUNNING.set((step, instance))
    try:
        yield
    finally:
        _RUNNING.reset(token)


@dataclass
class StepContext(ClusterContext):
    """What a step's action (or a health check) knows about the cluster, and how it reaches other instances.

    ``targets`` are the instances the operation is about; ``leaving`` those
    a decommission removes (still in ``instances``).
    """

    targets: list[Instance] = field(default_factory=list)
    leaving: list[Instance] = field(default_factory=list)
    emit: EventSink = ignore
    fact_store: Facts = field(default_factory=Facts)
    """The cluster's facts, loaded from its record and saved back after the operation."""
    publishers: dict[str, Step] = field(default_factory=dict)
    """Fact name to the step of this operation that declares it publishes it."""

    def publish(self, name: str, value: Any, *, secret: bool = False, instance: Instance | None = None) -> None:
        """Publish ``value`` (JSON data, at most 64 KiB) as fact ``name`` of ``instance``, by default the
        instance the calling step runs on. ``secret`` keeps it out of every event, log and output.

        Facts are kept with the cluster: steps of later operations read them too.
        """
        here = _RUNNING.get()
        target = instance or (here[1] if here else None)
        if target is None:
            raise FactError(f"publish({name!r}) outside a step needs instance=")
        self.fact_store.publish(target.name, name, value, secret)

    def facts(self, name: str, complete: bool = True) -> dict[str, Any]:
        """Instance name to the value of fact ``name``, for every instance of the cluster that published it.

        When a step of this operation declares it ``publishes`` the fact, every
        instance that step selects (leaving ones excepted) must have published
        it: :class:`~heatdeploy.FactError` names the first that did not, and the
        step. ``complete=False`` skips that check: for a step that reads what an
        earlier operation may have published, say a secret it generates once.
        """
        members = {i.name for i in self.instances}
        values = {k: v for k, v in self.fact_store.of(name).items() if k in members}
        step = self.publishers.get(name)
        if step is not None and complete:
            leaving = {i.name for i in self.leaving}
            expected = [i for i in self.instances if step.selects(i) and i.name not in leaving]
            missing = [i.name for i in (expected[:1] if step.once else expected) if i.name not in values]
            if missing:
                raise FactError(f"{', '.join(missing)} never published fact {name!r} "
                                f"(step {step.name!r} publishes it)")
        return values

    def running(self, process: str, *, include_leaving: bool = False) -> list[Instance]:
        """Instances running ``process``, without those being removed unless asked."""
        def compute() -> list[Instance]:
            leaving = {i.name for i in self.leaving}
            return [i for i in self.instances if i.runs(process) and (include_leaving or i.name not in leaving)]
        return list(self.memo(("running", process, include_leaving), compute))

    def wait_until(self, what: str, probe: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
        """Poll ``probe`` until it returns true; raise :class:`DeadlineExceeded` after ``timeout``.

        A :class:`RemoteError` from the probe counts as "not yet" (a service
        that is starting refuses connections); the last one is reported if
        the deadline passes.
        """
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                if probe():
                    return
            except RemoteError as exc:
                if exc.fatal:
                    raise
                last_error = f" (last error: {exc})"
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(f"{what}: not true after {timeout:.0f} s{last_error}")
            time.sleep(interval)


