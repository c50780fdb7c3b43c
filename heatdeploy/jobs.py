"""Jobs on a cluster: what a job is, what a job engine does, and where job records live.

A framework's job engine (from the ``heatdeploy_job_engine`` hook) knows how
to start, watch, read and stop jobs of the types it supports. heatdeploy
gets the job's files onto the cluster and keeps a record of every job in
the project's Swift, so ``job status`` works from any machine.
"""

from __future__ import annotations

import datetime
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from heatdeploy.fields import Converter, spec_field
from heatdeploy.framework import Framework
from heatdeploy.instances import Instance
from heatdeploy.plugin_manager import Plugins
from heatdeploy.problems import LocatedProblem, Problem, SpecError
from heatdeploy.remote import Remote
from heatdeploy.yaml_source import load_yaml

State = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "KILLED"]
FINAL: tuple[State, ...] = ("SUCCEEDED", "FAILED", "KILLED")
JOBS_DIR = "/var/lib/heatdeploy/jobs"


def new_job_id() -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return f"job-{stamp}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """Now, as the timestamps of cluster and job records write it."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class JobRecord:
    """One job: what was asked, where it runs, and how it went."""

    id: str
    cluster: str
    type: str
    binary: str
    """``swift://container/object`` of the job's program."""
    args: list[str] = field(default_factory=list)
    main_class: str | None = None
    conf: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    """Name (``""`` for the unnamed one) to ``swift://`` URL."""
    outputs: dict[str, str] = field(default_factory=dict)
    state: State = "PENDING"
    instance: str = ""
    """Where the job's driver runs."""
    created_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    message: str = ""
    engine: dict[str, Any] = field(default_factory=dict)
    """The engine's own bookkeeping (application id, ...)."""

    @property
    def directory(self) -> str:
        """The job's folder on every instance it touches."""
        return f"{JOBS_DIR}/{self.id}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> JobRecord:
        raw = json.loads(data)
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class JobContext:
    """What an engine knows: the cluster's instances and a way to reach them."""

    instances: Sequence[Instance]
    connect: Any
    config: Mapping[str, Any]
    """The cluster's framework configs with defaults filled in."""

    def remote(self, instance: Instance) -> Remote:
        return self.connect(instance)

    def running(self, process: str) -> list[Instance]:
        return [i for i in self.instances if i.runs(process)]


class JobEngine(Protocol):
    """Runs jobs on a framework. Every method is synchronous and returns promptly:
    ``start`` launches the job in the background on the cluster; heatdeploy
    polls ``status``."""

    types: tuple[str, ...]

    def driver(self, ctx: JobContext) -> Instance:
        """The instance the job's driver runs on (its ``{output}`` folder is there)."""

    def start(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> None:
        """Start ``job`` in the background. ``program`` is the path of the job's binary on
        the driver instance; ``args`` have ``{input}``/``{output}`` already replaced.
        Record what :meth:`status` needs in ``job.engine``."""

    def status(self, ctx: JobContext, job: JobRecord) -> tuple[State, str]:
        """The job's state and a one-line explanation, read from the framework."""

    def logs(self, ctx: JobContext, job: JobRecord, offset: int = 0) -> bytes:
        """The job's log from byte ``offset`` on."""

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        """Stop the job on the cluster."""


def job_engine(plugins: Plugins, framework: Framework) -> JobEngine | None:
    """The first engine a plugin (in name order) offers for ``framework``."""
    return next((engine for _, engine in plugins.call("heatdeploy_job_engine", framework=framework)), None)


@dataclass
class JobSpec:
    """What to run: from ``heatdeploy job run`` options, a YAML job file, or Python."""

    type: str = spec_field("Job type, such as spark or shell.")
    binary: str = spec_field("The program: a local path (in a job file, relative to it) or "
                             "swift://CONTAINER/OBJECT; a local file is uploaded first.")
    args: list[str] = spec_field("The job's arguments; {input} and {output} are replaced.", default_factory=list)
    main_class: str | None = spec_field("Main class of a jar.", default=None)
    conf: dict[str, str] = spec_field("Framework settings such as spark.executor.cores.", default_factory=dict)
    inputs: dict[str, str] = spec_field("Data to stage: name ('' for {input}) to swift:// URL.",
                                        default_factory=dict)
    outputs: dict[str, str] = spec_field("Where output folders go: name ('' for {output}) to swift:// URL.",
                                         default_factory=dict)
    timeout: int = spec_field("Seconds a waiting caller waits for the job.", default=3600, minimum=1)


def read_job_file(path: str) -> JobSpec:
    """Load and check a job file; raises :class:`~heatdeploy.problems.SpecError` with file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([LocatedProblem(path, 1, "", f"cannot read: {exc.strerror}")]) from None
    doc = load_yaml(text, path)
    converter = Converter()
    job = converter.build(JobSpec, doc.data)
    problems = list(converter.problems)
    if job is not None:
        for kind, urls in (("inputs", job.inputs), ("outputs", job.outputs)):
            problems += [Problem(f"{kind}.{name}", f"{url!r} is not a swift://CONTAINER/PATH URL")
                         for name, url in urls.items() if not url.startswith("swift://")]
    if job is None or problems:
        raise SpecError(doc.locate(p.path, p.message) for p in problems)
    if not job.binary.startswith("swift://"):
        job.binary = str(Path(path).resolve().parent / job.binary)
    return job
