"""Configuration steps as plugins write them: a :class:`Step` and the :class:`StepContext` it runs in.

A step names the instances it runs on (by process or node group, or all)
and the steps it must follow; its action is a plain synchronous function
``action(ctx, remote)``. heatdeploy's orchestrator (:mod:`heatdeploy.steps`)
runs steps as a DAG, in parallel across instances, with retries, timeouts
and progress events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from heatdeploy.errors import HeatdeployError
from heatdeploy.events import EventSink, ignore
from heatdeploy.plugin.context import ClusterContext
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
    only. ``retries`` is for idempotent actions only.
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

    def selects(self, instance: Instance) -> bool:
        if not self.processes and not self.groups:
            return True
        return instance.group in self.groups or any(instance.runs(p) for p in self.processes)


class DeadlineExceeded(HeatdeployError):
    """A condition polled by a step did not hold in time."""


@dataclass
class StepContext(ClusterContext):
    """What a step's action (or a health check) knows about the cluster, and how it reaches other instances.

    ``targets`` are the instances the operation is about; ``leaving`` those
    a decommission removes (still in ``instances``).
    """

    targets: list[Instance] = field(default_factory=list)
    leaving: list[Instance] = field(default_factory=list)
    emit: EventSink = ignore

    def running(self, process: str, *, include_leaving: bool = False) -> list[Instance]:
        """Instances running ``process``, without those being removed unless asked."""
        leaving = {i.name for i in self.leaving}
        return [i for i in self.instances if i.runs(process) and (include_leaving or i.name not in leaving)]

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


