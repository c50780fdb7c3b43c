"""Running a scenario's flow: launch, each EDP job, scaling, delete; one pass, fail or skip result per step.

The steps call what ``heatdeploy launch``, ``job run``, ``scale`` and
``delete`` call (:class:`~heatdeploy.ClusterManager`,
:class:`~heatdeploy.jobs.manager.JobManager`). As with a transient launch,
the cluster's lock is held from start to end, a cluster that already exists
and is active is refused (only a cluster this run made is deleted), and the
cluster is deleted whatever happens: a failed step, an error, Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from heatdeploy import interrupts
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.errors import HeatdeployError, library_failure
from heatdeploy.events import Event
from heatdeploy.jobs.manager import JobError, JobManager, delete_with_jobs
from heatdeploy.plugin.jobs import FINAL
from heatdeploy.sahara.scenario import PlannedJob, PlannedStep, ScalingOp, ScenarioCluster
from heatdeploy.spec.model import LoadedSpec

Status = Literal["passed", "failed", "skipped"]
RESULTS_CONTAINER = "heatdeploy-scenarios"


@dataclass
class StepResult:
    """How one step went: ``passed``, ``failed`` or ``skipped``, why, and how long it took."""

    cluster: str
    name: str
    status: Status
    message: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"cluster": self.cluster, "step": self.name, "status": self.status, "message": self.message,
                "seconds": round(self.seconds, 1)}


StepSink = Callable[[StepResult], None]


class _Skip(Exception):
    """A step that cannot run, with the reason."""


class ScenarioRunner:
    """Runs scenario clusters on one project; every step's result goes to ``on_step`` and into ``results``."""

    def __init__(self, clusters: ClusterManager, options: Options | None = None, on_step: StepSink = lambda r: None,
                 results_container: str = RESULTS_CONTAINER) -> None:
        self.clusters = clusters
        self.options = options or Options()
        self.on_step = on_step
        self.results: list[StepResult] = []
        self.container = results_container
        self.run_id = uuid.uuid4().hex[:8]

    @property
    def passed(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    def run(self, scenario: ScenarioCluster, loaded: LoadedSpec) -> None:
        """Launch the cluster, run its flow, delete it; a failure fails its step and the run goes on."""
        name = loaded.spec.name
        with self.clusters.locked(name, "scenario run", self.options.break_lock):
            if self.clusters.cloud.records.load(name) is not None or self.clusters.cloud.stacks.find(name):
                raise JobError(f"cluster {name} already exists: a scenario run launches a cluster of its own and "
                               "deletes it, and never one it did not make; give the scenario's cluster another "
                               "name, or delete that cluster first")
            try:
                launched = self._step(name, "launch", lambda: self._launch(loaded))
                for index, step in enumerate(scenario.steps, 1):
                    label = f"{index}-{step.kind}"
                    if not launched:
                        self._record(name, label, "skipped", "the cluster did not launch", 0.0)
                    elif step.kind == "run_jobs":
                        self._run_jobs(name, label, step, scenario.job_timeout)
                    elif step.kind == "scale":
                        self._step(name, label, lambda s=step: self._scale(name, s))  # type: ignore[misc]
                    else:
                        self._record(name, label, "skipped", step.skip, 0.0)
            finally:
                self._delete(name)

    # -- steps ------------------------------------------------------------------------------------------------

    def _step(self, cluster: str, name: str, action: Callable[[], str]) -> bool:
        """Run one step; its error fails it (Ctrl-C does not: that ends the run, after the cluster is deleted)."""
        started = time.monotonic()
        try:
            message = action()
        except _Skip as skip:
            self._record(cluster, name, "skipped", str(skip), time.monotonic() - started)
            return True
        except Exception as exc:  # noqa: BLE001 - a failed step is a result; the run goes on
            self._record(cluster, name, "failed", _describe(exc), time.monotonic() - started)
            return False
        self._record(cluster, name, "passed", message, time.monotonic() - started)
        return True

    def _record(self, cluster: str, name: str, status: Status, message: str, seconds: float) -> None:
        result = StepResult(cluster, name, status, message, seconds)
        self.results.append(result)
        self.on_step(result)

    def _launch(self, loaded: LoadedSpec) -> str:
        summary = self.clusters.launch(loaded, self.options)
        return f"{summary.state}, {len(summary.instances)} instance(s)"

    def _run_jobs(self, cluster: str, label: str, step: PlannedStep, timeout: int) -> None:
        if not step.jobs:
            self._record(cluster, label, "skipped", "the cluster has no EDP jobs", 0.0)
        for job in step.jobs:
            name = f"{label}: {job.name}"
            self._step(cluster, name, lambda j=job, n=name: self._job(cluster, n, j, timeout))  # type: ignore[misc]

    def _job(self, cluster: str, step: str, planned: PlannedJob, timeout: int) -> str:
        if planned.job is None:
            raise _Skip(planned.skip)
        request = dataclasses.replace(planned.job)
        if planned.input_file is not None:
            request.inputs = {"": self.clusters.cloud.object_store().upload(Path(planned.input_file))}
        if planned.output:
            request.outputs = {"": f"swift://{self.container}/{cluster}/{self.run_id}/{_object_name(step)}/"}
        jobs = JobManager(self.clusters)
        record = jobs.wait(jobs.run(cluster, request).id, timeout)
        if record.state not in FINAL:
            record = jobs.cancel(record.id)
            raise JobError(f"job {record.id} did not end within {timeout} s: cancelled ({record.state})")
        notes = "".join(f"; {note}" for note in planned.notes)
        if record.state != "SUCCEEDED":
            raise JobError(f"job {record.id} {record.state}: {record.message}{notes}")
        where = f"; outputs in {request.outputs['']}" if planned.output else ""
        return f"job {record.id} SUCCEEDED{where}{notes}"

    def _scale(self, cluster: str, step: PlannedStep) -> str:
        spec = self.clusters.spec_of(self.clusters.record(cluster))
        counts = {g.name: g.count for g in spec.node_groups}
        before = dict(counts)
        for op in step.scaling:
            counts[op.group] = _scaled(counts[op.group], op)
        changed = {group: count for group, count in counts.items() if count != before[group]}
        if not changed:
            raise _Skip("the scaling changes no node group's count")
        self.clusters.scale(cluster, changed, (), self.options)
        return ", ".join(f"{group} {before[group]} -> {count}" for group, count in changed.items())

    def _delete(self, name: str) -> None:
        """Delete the cluster and record the step; runs even while Ctrl-C unwinds the run."""
        started = time.monotonic()
        # Held as a transient cluster's teardown is: Ctrl-C or TERM here waits for the delete (a second one
        # is the way out of a delete that hangs).
        with interrupts.deferred():
            try:
                if self.clusters.cloud.records.load(name) is None and self.clusters.cloud.stacks.find(name) is None:
                    self._record(name, "delete", "passed", "nothing to delete: the launch created nothing",
                                 time.monotonic() - started)
                    return
                self.clusters.emit(Event("phase", message=f"deleting scenario cluster {name}"))
                left = delete_with_jobs(self.clusters, name, "its scenario's cluster was deleted before the job "
                                        "ended", force=True)
            except Exception as exc:
                self._record(name, "delete", "failed", _describe(exc), time.monotonic() - started)
                raise
        message = "deleted" + "".join(f"; left behind: {item}" for item in left)
        self._record(name, "delete", "failed" if left else "passed", message, time.monotonic() - started)


def _scaled(count: int, op: ScalingOp) -> int:
    return count + op.size if op.operation == "add" else op.size


def _object_name(step: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in step)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HeatdeployError):
        return str(exc)
    return library_failure(exc) or f"{type(exc).__name__}: {exc}"


def results_by_cluster(results: list[StepResult]) -> Iterator[tuple[str, list[StepResult]]]:
    """Results grouped by cluster, in run order."""
    order: dict[str, list[StepResult]] = {}
    for result in results:
        order.setdefault(result.cluster, []).append(result)
    yield from order.items()
