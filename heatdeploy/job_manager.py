"""Running jobs on launched clusters: stage, start, watch, collect, cancel.

The job's binary and inputs come from Swift and its outputs go back there,
through short-lived temp URLs scoped to the exact objects: no user or
service credentials ever reach an instance. Temp URLs are handed to curl on
standard input, never on a command line other processes could read.
"""

from __future__ import annotations

import contextlib
import posixpath
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from keystoneauth1 import session as ks_session

from heatdeploy import binaries, object_store, tempurls
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.events import Event
from heatdeploy.jobs import FINAL, JobContext, JobEngine, JobRecord, JobSpec, job_engine, new_job_id, utc_now
from heatdeploy.records import ClusterRecord, Records
from heatdeploy.remote import Remote
from heatdeploy.spec import LoadedSpec
from heatdeploy.stack import Stacks

URL_SECONDS = 900


class JobError(Exception):
    """A job could not be run or found; the message says why."""


@dataclass(frozen=True)
class _Store:
    """The project's Swift during one operation: temp URLs all signed with one key, read once."""

    session: ks_session.Session
    region: str | None
    key: str

    @classmethod
    def open(cls, session: ks_session.Session, region: str | None) -> _Store:
        return cls(session, region, tempurls.ensure_key(session, region))

    def url(self, container: str, name: str, method: str) -> str:
        return tempurls.temp_url(self.session, container, name, method, URL_SECONDS, region=self.region,
                                 key=self.key)

    def names(self, container: str, prefix: str) -> list[str]:
        _, objects = object_store.connection(self.session, self.region).get_container(
            container, prefix=prefix, full_listing=True)
        return [o["name"] for o in objects if not o["name"].endswith("/")]

    def make_container(self, container: str) -> None:
        object_store.connection(self.session, self.region).put_container(container)


def _folder(kind: str, name: str) -> str:
    return kind if not name else f"{kind}.{name}"


def substitute(args: list[str], paths: Mapping[str, str]) -> list[str]:
    """Replace ``{input}``, ``{input.NAME}``, ``{output}``, ``{output.NAME}`` in each argument.

    Plain text replacement of known placeholders only: other braces in
    arguments (JSON, Spark SQL) are left alone.
    """
    out = []
    for arg in args:
        for placeholder, path in sorted(paths.items(), key=lambda kv: -len(kv[0])):
            arg = arg.replace("{" + placeholder + "}", path)
        out.append(arg)
    return out


def curl_config(pairs: list[tuple[str, str]], option: str) -> bytes:
    """A curl config file (read with ``-K -``) of (URL, path) pairs; ``option`` is output or upload-file."""
    lines = []
    for url, path in pairs:
        lines += [f'url = "{_curl_quote(url)}"', f'{option} = "{_curl_quote(path)}"']
    return ("\n".join(lines) + "\n").encode()


def _curl_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class JobManager:
    """Jobs on the clusters of one project, through a :class:`ClusterManager`."""

    def __init__(self, clusters: ClusterManager) -> None:
        self.clusters = clusters

    # -- plumbing -----------------------------------------------------------------------------------------

    def _cluster(self, name: str) -> ClusterRecord:
        record = Records(self.clusters.user, self.clusters.region).load(name)
        if record is None:
            raise JobError(f"no cluster named {name}")
        if record.state != "active":
            raise JobError(f"cluster {name} is {record.state}, not active")
        return record

    @contextlib.contextmanager
    def _context(self, record: ClusterRecord) -> Iterator[tuple[JobContext, JobEngine]]:
        spec = self.clusters.spec_of(record)
        framework = self.clusters.plugins.framework(spec.plugin)
        engine = job_engine(self.clusters.plugins, framework) if framework else None
        if framework is None or engine is None:
            raise JobError(f"no job engine for {spec.plugin} clusters")
        work = self.clusters._work_session(record)
        instances = Stacks(work, self.clusters.region).instances(record.name)
        connections = self.clusters._connections(record, instances, Options())
        config = {c.name: spec.configs.get(c.name, c.default) for c in framework.configs}
        try:
            yield JobContext(instances, connections.get, config), engine
        finally:
            connections.close()

    def _work(self, record: ClusterRecord) -> Records:
        return Records(self.clusters._work_session(record), self.clusters.region)

    def _phase(self, message: str) -> None:
        self.clusters.emit(Event("phase", message=message))

    # -- run ----------------------------------------------------------------------------------------------

    def run(self, cluster: str, request: JobSpec) -> JobRecord:
        """Stage the job's binary and inputs on the cluster and start it; returns its record."""
        record = self._cluster(cluster)
        session = self.clusters._work_session(record)
        binary = request.binary
        if not binary.startswith("swift://"):
            self._phase(f"uploading {binary}")
            binary = binaries.upload(session, Path(binary), region=self.clusters.region).url
        job = JobRecord(id=new_job_id(), cluster=cluster, type=request.type, binary=binary, args=request.args,
                        main_class=request.main_class, conf=request.conf, inputs=request.inputs,
                        outputs=request.outputs)
        with self._context(record) as (ctx, engine):
            if request.type not in engine.types:
                raise JobError(f"{request.type!r} jobs are not supported here (types: {', '.join(engine.types)})")
            driver = engine.driver(ctx)
            job.instance = driver.name
            self._work(record).save_job(job)
            store = _Store.open(session, self.clusters.region)
            program = self._stage_binary(store, ctx.remote(driver), job)
            paths = self._stage_inputs(store, ctx, job)
            paths.update(self._output_folders(ctx.remote(driver), job))
            self._phase(f"starting {job.type} job {job.id} on {driver.name}")
            engine.start(ctx, job, program, substitute(job.args, paths))
        job.state = "RUNNING"
        self._work(record).save_job(job)
        return job

    def _stage_binary(self, store: _Store, remote: Remote, job: JobRecord) -> str:
        container, name = binaries.parse_swift_url(job.binary)
        path = f"{job.directory}/{posixpath.basename(name)}"
        self._fetch(remote, [(store.url(container, name, "GET"), path)])
        return path

    def _stage_inputs(self, store: _Store, ctx: JobContext, job: JobRecord) -> dict[str, str]:
        """Download each input to the same place on every instance; return the placeholders."""
        paths: dict[str, str] = {}
        for name, source in job.inputs.items():
            container, prefix = binaries.parse_swift_url(source)
            folder = f"{job.directory}/{_folder('input', name)}"
            objects = store.names(container, prefix) if prefix.endswith("/") else [prefix]
            if not objects:
                raise JobError(f"input {source} is empty")
            pairs = [(store.url(container, o, "GET"),
                      f"{folder}/{o[len(prefix):] if prefix.endswith('/') else posixpath.basename(o)}")
                     for o in objects]
            self._phase(f"staging {source} ({len(pairs)} object(s)) on {len(ctx.instances)} instance(s)")
            for instance in ctx.instances:
                self._fetch(ctx.remote(instance), pairs)
            paths[_folder("input", name)] = folder if prefix.endswith("/") else pairs[0][1]
        return paths

    def _output_folders(self, remote: Remote, job: JobRecord) -> dict[str, str]:
        folders = {_folder("output", name): f"{job.directory}/{_folder('output', name)}" for name in job.outputs}
        if folders:
            remote.run(["mkdir", "-p", *folders.values()])
        return folders

    @staticmethod
    def _fetch(remote: Remote, pairs: list[tuple[str, str]]) -> None:
        folders = sorted({posixpath.dirname(path) for _, path in pairs})
        remote.run(["mkdir", "-p", *folders])
        remote.run(["curl", "-fsS", "--retry", "3", "-K", "-"], stdin=curl_config(pairs, "output"))

    # -- watch --------------------------------------------------------------------------------------------

    def load(self, job_id: str) -> tuple[JobRecord, ClusterRecord]:
        job = Records(self.clusters.user, self.clusters.region).load_job(job_id)
        if job is None:
            raise JobError(f"no job {job_id}")
        record = Records(self.clusters.user, self.clusters.region).load(job.cluster)
        if record is None:
            raise JobError(f"the cluster of job {job_id} ({job.cluster}) is gone")
        return job, record

    def status(self, job_id: str) -> JobRecord:
        """The job, refreshed from the framework; a job that just succeeded gets its outputs collected."""
        job, record = self.load(job_id)
        if job.state in FINAL:
            return job
        with self._context(record) as (ctx, engine):
            state, message = engine.status(ctx, job)
            if state == "SUCCEEDED" and job.outputs:
                store = _Store.open(self.clusters._work_session(record), self.clusters.region)
                self._collect(store, ctx.remote(engine.driver(ctx)), job)
        job.state, job.message = state, message
        if state in FINAL:
            job.finished_at = utc_now()
        self._work(record).save_job(job)
        return job

    def _collect(self, store: _Store, remote: Remote, job: JobRecord) -> None:
        for name, target in job.outputs.items():
            folder = f"{job.directory}/{_folder('output', name)}"
            files = remote.run(["find", folder, "-type", "f"]).stdout.split("\n")
            container, prefix = binaries.parse_swift_url(target)
            store.make_container(container)
            prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
            pairs = [(store.url(container, prefix + f[len(folder) + 1:], "PUT"), f)
                     for f in files if f]
            self._phase(f"collecting {len(pairs)} output file(s) into {target}")
            if pairs:
                remote.run(["curl", "-fsS", "--retry", "3", "-K", "-"], stdin=curl_config(pairs, "upload-file"))

    def wait(self, job_id: str, timeout: float, interval: float = 2.0) -> JobRecord:
        """Poll until the job ends or ``timeout`` seconds pass (then it is returned as it is)."""
        deadline = time.monotonic() + timeout
        job = self.status(job_id)
        while job.state not in FINAL and time.monotonic() < deadline:
            time.sleep(interval)
            job = self.status(job_id)
        return job

    def logs(self, job_id: str, offset: int = 0) -> bytes:
        job, record = self.load(job_id)
        with self._context(record) as (ctx, engine):
            return engine.logs(ctx, job, offset)

    def cancel(self, job_id: str) -> JobRecord:
        job, record = self.load(job_id)
        if job.state in FINAL:
            return job
        with self._context(record) as (ctx, engine):
            engine.cancel(ctx, job)
        self._work(record).save_job(job)
        return self.wait(job_id, timeout=60, interval=1.0)

    def abandon(self, cluster: str, reason: str) -> list[JobRecord]:
        """Record the cluster's unfinished jobs as KILLED with ``reason``: the cluster is about to go."""
        record = Records(self.clusters.user, self.clusters.region).load(cluster)
        if record is None:
            return []
        store = self._work(record)
        ended = [job for job in store.list_jobs(cluster) if job.state not in FINAL]
        for job in ended:
            job.state, job.message, job.finished_at = "KILLED", reason, utc_now()
            store.save_job(job)
        return ended

    def list(self, cluster: str | None = None) -> list[JobRecord]:
        return sorted(Records(self.clusters.user, self.clusters.region).list_jobs(cluster), key=lambda j: j.id)



def run_transient(clusters: ClusterManager, loaded: LoadedSpec, request: JobSpec, timeout: float,
                  options: Options | None = None) -> JobRecord | None:
    """Launch a cluster, run one job on it, and delete the cluster (and its trust) whatever happens.

    Returns the finished job (``None`` when the launch itself failed: that
    error is raised after the cluster is deleted). A job still running at
    ``timeout`` is cancelled.
    """
    name = loaded.spec.name
    try:
        clusters.launch(loaded, options or Options())
        jobs = JobManager(clusters)
        job = jobs.wait(jobs.run(name, request).id, timeout)
        if job.state not in FINAL:
            job = jobs.cancel(job.id)
        return job
    finally:
        _abandon_jobs(clusters, name)
        clusters.emit(Event("phase", message=f"deleting transient cluster {name}"))
        clusters.delete(name, force=True)


def _abandon_jobs(clusters: ClusterManager, name: str) -> None:
    # Teardown goes on whatever happens here: a job record left RUNNING is
    # reported, the cluster left behind would not be.
    try:
        JobManager(clusters).abandon(name, "its transient cluster was deleted before the job ended")
    except Exception as exc:  # noqa: BLE001 - any failure to record must not stop the deletion
        clusters.emit(Event("warning", message=f"could not record the unfinished jobs of {name} as killed: {exc}"))
