"""Running jobs on launched clusters: stage, start, watch, collect, cancel.

The job's binary and inputs come from Swift and its outputs go back there,
through short-lived temp URLs scoped to the exact objects: no user or
service credentials ever reach an instance. Temp URLs are handed to curl on
standard input, never on a command line other processes could read.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import posixpath
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from heatdeploy import interrupts
from heatdeploy.cloud import binaries
from heatdeploy.cloud.project import ObjectStore, RecordStore
from heatdeploy.cloud.records import ClusterRecord
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.errors import HeatdeployError
from heatdeploy.events import Event
from heatdeploy.jobs import data, history, staging
from heatdeploy.jobs.spec import JobSpec, data_problems
from heatdeploy.plugin.job_process import DriverJobEngine
from heatdeploy.plugin.jobs import FINAL, JobContext, JobEngine, JobRecord, new_job_id, utc_now, utc_stamp
from heatdeploy.plugin.remote import Remote
from heatdeploy.spec.model import LoadedSpec

RUNTIME = Path(__file__).with_name(data.RUNTIME_MODULE)
TEMP_URL_GRACE = 600
"""Seconds a job's temp URLs outlive its timeout: its last outputs may be on their way."""


class JobError(HeatdeployError):
    """A job could not be run or found; the message says why."""


def _folder(kind: str, name: str) -> str:
    return kind if not name else f"{kind}.{name}"


class JobManager:
    """Jobs on the clusters of one project, through a :class:`~heatdeploy.ClusterManager`."""

    def __init__(self, clusters: ClusterManager) -> None:
        self.clusters = clusters

    # -- plumbing -----------------------------------------------------------------------------------------

    def _cluster(self, name: str) -> ClusterRecord:
        record = self.clusters.cloud.records.load(name)
        if record is None:
            raise JobError(f"no cluster named {name}")
        if record.state != "active":
            raise JobError(f"cluster {name} is {record.state}, not active")
        return record

    @contextlib.contextmanager
    def _context(self, record: ClusterRecord) -> Iterator[tuple[JobContext, JobEngine]]:
        spec = self.clusters.spec_of(record)
        framework = self.clusters.plugins.framework(spec.plugin)
        engine = self.clusters.plugins.job_engine(framework) if framework else None
        if framework is None or engine is None:
            raise JobError(f"no job engine for {spec.plugin} clusters")
        instances = self.clusters.instances(record)
        with self.clusters.connections(record, instances) as connections:
            yield JobContext(spec=spec, framework=framework, instances=instances, connect=connections.get), engine

    def _work(self, record: ClusterRecord) -> RecordStore:
        return self.clusters.work_cloud(record).records

    def _phase(self, message: str) -> None:
        self.clusters.emit(Event("phase", message=message))

    # -- run ----------------------------------------------------------------------------------------------

    def run(self, cluster: str, request: JobSpec) -> JobRecord:
        """Stage the job's binary and inputs on the cluster and start it; returns its record.

        Holds the cluster's lock while the job is submitted, not while it runs.
        """
        with self.clusters.locked(cluster, "job run"):
            return self._run(cluster, request)

    def _run(self, cluster: str, request: JobSpec) -> JobRecord:
        problems = data_problems(request)
        if problems:
            raise JobError("; ".join(f"{p.path}: {p.message}" for p in problems))
        record = self._cluster(cluster)
        store = self.clusters.work_cloud(record).object_store()
        binary = request.binary
        if not binary.startswith("swift://"):
            self._phase(f"uploading {binary}")
            binary = store.upload(Path(binary))
        job = JobRecord(id=new_job_id(), cluster=cluster, type=request.type, binary=binary, args=request.args,
                        main_class=request.main_class, conf=request.conf, inputs=request.inputs,
                        outputs=request.outputs)
        with self._context(record) as (ctx, engine):
            if request.type not in engine.types:
                raise JobError(f"{request.type!r} jobs are not supported here (types: {', '.join(engine.types)})")
            driver = engine.driver(ctx)
            job.instance, job.direct = driver.name, bool(getattr(engine, "direct_data", False))
            self._work(record).save_job(job)
            try:
                program = self._stage_binary(store, ctx.remote(driver), job)
                staged_inputs, staged_outputs = data.staged(job)
                paths = self._stage_inputs(store, ctx, job, staged_inputs)
                paths.update(self._output_folders(ctx.remote(driver), job, staged_outputs))
                seconds = request.timeout + TEMP_URL_GRACE
                job.deadline = _after(seconds)
                self._write_job_files(ctx.remote(driver), job, data.direct_data(store, job, seconds))
            except BaseException as exc:  # the job never ran: its record says why
                job.state, job.finished_at = "FAILED", utc_now()
                job.message = str(exc) if isinstance(exc, HeatdeployError) else f"not started: {exc!r}"
                self._work(record).save_job(job)
                raise
            # Started means recorded RUNNING, with its log shipped: Ctrl-C waits for the three.
            with interrupts.deferred():
                self._phase(f"starting {job.type} job {job.id} on {driver.name}")
                engine.start(ctx, job, program, staging.substitute(job.args, paths))
                if isinstance(engine, DriverJobEngine):  # its driver.log, pid and exit_status are the shipper's
                    self._ship_log(store, ctx.remote(driver), job, seconds)
                job.state = "RUNNING"
                self._work(record).save_job(job)
        return job

    def _ship_log(self, store: ObjectStore, remote: Remote, job: JobRecord, seconds: int) -> None:
        try:
            history.start_shipper(store, remote, job, seconds)
        except HeatdeployError as exc:  # the job runs all the same; its log is saved when it ends
            self.clusters.emit(Event("warning", message=f"job {job.id}: the driver's log will not be saved "
                                                        f"while it runs: {exc}"))

    def _stage_binary(self, store: ObjectStore, remote: Remote, job: JobRecord) -> str:
        container, name = binaries.parse_swift_url(job.binary)
        path = f"{job.directory}/{staging.relative_path(posixpath.basename(name), 'binary')}"
        staging.download(remote, [(store.temp_url(container, name, "GET"), path)])
        return path

    def _stage_inputs(self, store: ObjectStore, ctx: JobContext, job: JobRecord, names: set[str]) -> dict[str, str]:
        """Download inputs ``names`` to the same place on every instance; return their placeholders."""
        paths: dict[str, str] = {}
        for name, source in job.inputs.items():
            if name not in names:
                continue
            container, prefix = binaries.parse_swift_url(source)
            folder = f"{job.directory}/{_folder('input', name)}"
            objects = store.names(container, prefix) if prefix.endswith("/") else [prefix]
            if not objects:
                raise JobError(f"input {source} is empty")
            pairs = [(store.temp_url(container, o, "GET"), f"{folder}/{self._local_name(source, prefix, o)}")
                     for o in objects]
            self._phase(f"staging {source} ({len(pairs)} object(s)) on {len(ctx.instances)} instance(s)")
            for instance in ctx.instances:
                staging.download(ctx.remote(instance), pairs)
            paths[_folder("input", name)] = folder if prefix.endswith("/") else pairs[0][1]
        return paths

    def _output_folders(self, remote: Remote, job: JobRecord, names: set[str]) -> dict[str, str]:
        folders = {_folder("output", name): f"{job.directory}/{_folder('output', name)}"
                   for name in job.outputs if name in names}
        if folders:
            remote.run(["mkdir", "-p", *folders.values()])
        return folders

    @staticmethod
    def _write_job_files(remote: Remote, job: JobRecord, direct: data.JobData) -> None:
        """The runtime module, and the private files that hand the job its direct data's temp URLs."""
        remote.write_file(job.runtime_module, RUNTIME.read_bytes())
        for name, content in direct.files_to_write(job.directory).items():
            remote.write_file(f"{job.directory}/{name}", content, mode=0o600)

    @staticmethod
    def _local_name(source: str, prefix: str, name: str) -> str:
        """Where object ``name`` of input ``source`` goes below the input's folder: its name under the prefix."""
        relative = name[len(prefix):] if prefix.endswith("/") else posixpath.basename(name)
        return staging.relative_path(relative, f"input {source}: object")

    # -- watch --------------------------------------------------------------------------------------------

    def load(self, job_id: str) -> tuple[JobRecord, ClusterRecord | None]:
        """The job's record, and its cluster's (``None`` when the cluster is gone)."""
        records = self.clusters.cloud.records
        job = records.load_job(job_id)
        if job is None:
            raise JobError(f"no job {job_id}")
        return job, records.load(job.cluster)

    def status(self, job_id: str) -> JobRecord:
        """The job, refreshed from the framework; a job that just ended gets its outputs collected and
        its log saved. A job whose cluster is gone is as its record says."""
        job, record = self.load(job_id)
        if job.state in FINAL:
            return job
        if record is None or record.state != "active":
            return self._orphaned(job, record)
        with self._context(record) as (ctx, engine):
            state, message = engine.status(ctx, job)
            if state == "SUCCEEDED" and data.staged(job)[1]:
                store = self.clusters.work_cloud(record).object_store()
                try:
                    self._collect(store, ctx.remote(engine.driver(ctx)), job)
                except staging.StagingError as exc:  # the job ran, but its results cannot be kept as they are
                    state, message = "FAILED", f"outputs not collected: {exc}"
            job.state, job.message = state, message
            if state in FINAL:
                job.finished_at = utc_now()
                self._save_log(record, ctx, engine, job)
        self._work(record).save_job(job)
        return job

    def _orphaned(self, job: JobRecord, record: ClusterRecord | None) -> JobRecord:
        """A job left unfinished by a cluster that is gone (or going): recorded KILLED, with why."""
        state = "gone" if record is None else record.state
        job.state, job.finished_at = "KILLED", utc_now()
        job.message = f"its cluster {job.cluster} is {state}" + (f"; {job.message}" if job.message else "")
        self.clusters.cloud.records.save_job(job)
        return job

    def _save_log(self, record: ClusterRecord, ctx: JobContext, engine: JobEngine, job: JobRecord) -> None:
        try:
            history.finish(self._work(record), ctx.remote(engine.driver(ctx)), job,
                           lambda offset: engine.logs(ctx, job, offset))
        except (HeatdeployError, LookupError) as exc:  # what the shipper sent so far stays readable
            self.clusters.emit(Event("warning", message=f"job {job.id}: the end of the driver's log was not "
                                                        f"saved: {exc}"))

    def _collect(self, store: ObjectStore, remote: Remote, job: JobRecord) -> None:
        staged = data.staged(job)[1]
        for name, target in job.outputs.items():
            if name not in staged:
                continue
            folder = f"{job.directory}/{_folder('output', name)}"
            files = [staging.relative_path(f, f"output {folder}: file") for f in staging.find_files(remote, folder)]
            container, prefix = binaries.parse_swift_url(target)
            store.make_container(container)
            prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
            pairs = [(store.temp_url(container, prefix + f, "PUT"), f"{folder}/{f}") for f in files]
            self._phase(f"collecting {len(pairs)} output file(s) into {target}")
            staging.upload(remote, pairs)

    def wait(self, job_id: str, timeout: float, interval: float = 2.0) -> JobRecord:
        """Poll until the job ends or ``timeout`` seconds pass (then it is returned as it is)."""
        deadline = time.monotonic() + timeout
        job = self.status(job_id)
        while job.state not in FINAL and time.monotonic() < deadline:
            time.sleep(interval)
            job = self.status(job_id)
        return job

    def logs(self, job_id: str, offset: int = 0) -> bytes:
        """The driver's log from byte ``offset`` on: from the cluster while the job may still write it,
        from Swift once it was saved or the cluster is gone (then up to the last chunk sent)."""
        job, record = self.load(job_id)
        if job.log_saved or record is None or record.state != "active":
            return self.clusters.cloud.records.job_log(job.id, offset)
        with self._context(record) as (ctx, engine):
            return engine.logs(ctx, job, offset)

    def cancel(self, job_id: str) -> JobRecord:
        job, record = self.load(job_id)
        if job.state in FINAL:
            return job
        if record is None or record.state != "active":
            return self._orphaned(job, record)
        with self._context(record) as (ctx, engine):
            engine.cancel(ctx, job)
        self._work(record).save_job(job)
        return self.wait(job_id, timeout=60, interval=1.0)

    def settle(self, cluster: str) -> builtins.list[JobRecord]:
        """Refresh the cluster's unfinished jobs before it goes: those that ended get their state, staged
        outputs and whole log. Returns the jobs still running."""
        return [job for job in self.clusters.cloud.records.list_jobs(cluster)
                if job.state not in FINAL and self.status(job.id).state not in FINAL]

    def abandon(self, cluster: str, reason: str) -> builtins.list[JobRecord]:
        """Record the cluster's unfinished jobs as KILLED with ``reason``: its cluster is gone (what their
        shippers sent of their logs stays readable)."""
        records = self.clusters.cloud.records
        ended = [job for job in records.list_jobs(cluster) if job.state not in FINAL]
        for job in ended:
            job.state, job.message, job.finished_at = "KILLED", reason, utc_now()
            records.save_job(job)
        return ended

    def purge(self, cluster: str) -> builtins.list[str]:
        """Delete the records and saved logs of every job of ``cluster``; returns their ids."""
        records = self.clusters.cloud.records
        jobs = records.list_jobs(cluster)
        for job in jobs:
            records.delete_job(job.id)
        return [job.id for job in jobs]

    def list(self, cluster: str | None = None) -> builtins.list[JobRecord]:
        return sorted(self.clusters.cloud.records.list_jobs(cluster), key=lambda j: j.id)



def _after(seconds: int) -> str:
    return utc_stamp(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds))


def run_transient(clusters: ClusterManager, loaded: LoadedSpec, request: JobSpec, timeout: float,
                  options: Options | None = None) -> JobRecord | None:
    """Launch a cluster, run one job on it, and delete the cluster (and its trust) whatever happens.

    Returns the finished job (``None`` when the launch itself failed: that
    error is raised after the cluster is deleted). A job still running at
    ``timeout`` is cancelled. The cluster's lock is held from start to end,
    and a cluster that already exists and is active is refused: only a
    cluster this run made is ever deleted.
    """
    name = loaded.spec.name
    options = options or Options()
    with clusters.locked(name, "transient run", options.break_lock):
        existing = clusters.cloud.records.load(name)
        if existing is not None and existing.state == "active":
            raise JobError(f"cluster {name} already exists and is active: a transient run launches a cluster of "
                           "its own and deletes it; give the spec another name")
        try:
            clusters.launch(loaded, options)
            jobs = JobManager(clusters)
            job = jobs.wait(jobs.run(name, request).id, timeout)
            if job.state not in FINAL:
                job = jobs.cancel(job.id)
            return job
        finally:
            clusters.emit(Event("phase", message=f"deleting transient cluster {name}"))
            delete_with_jobs(clusters, name, "its transient cluster was deleted before the job ended", force=True)


def delete_with_jobs(clusters: ClusterManager, name: str, reason: str, **options: Any) -> builtins.list[str]:
    """:meth:`ClusterManager.delete` (``options`` are its own), the cluster's jobs settled first and those
    still running recorded KILLED with ``reason`` once the cluster is gone; returns what was left behind.

    Nothing is recorded KILLED when the delete fails: the jobs may go on.
    """
    jobs = JobManager(clusters)
    _best_effort(clusters, f"could not refresh the unfinished jobs of {name}", lambda: jobs.settle(name))
    left = clusters.delete(name, **options)
    _best_effort(clusters, f"could not record the unfinished jobs of {name} as killed",
                 lambda: jobs.abandon(name, reason))
    return left


def _best_effort(clusters: ClusterManager, what: str, action: Callable[[], object]) -> None:
    # Teardown goes on whatever happens here: a job record left RUNNING is
    # reported, the cluster left behind would not be.
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - any failure to record must not stop the deletion
        clusters.emit(Event("warning", message=f"{what}: {exc}"))
