"""Jobs as job engines see them: the job's record, the engine protocol, and its context.

A framework's job engine (from the ``heatdeploy_job_engine`` hook) knows how
to start, watch, read and stop jobs of the types it supports. heatdeploy
gets the job's files onto the cluster and keeps a record of every job in
the project's Swift, so ``job status`` works from any machine.
"""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from heatdeploy.plugin.context import ClusterContext
from heatdeploy.plugin.instance import Instance

State = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "KILLED"]
"""A job's state; ``SUCCEEDED``, ``FAILED`` and ``KILLED`` are final."""
FINAL: tuple[State, ...] = ("SUCCEEDED", "FAILED", "KILLED")
JOBS_DIR = "/var/lib/heatdeploy/jobs"


def new_job_id() -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return f"job-{stamp}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """Now, as the timestamps of cluster and job records write it."""
    return utc_stamp(datetime.datetime.now(datetime.UTC))


def utc_stamp(moment: datetime.datetime) -> str:
    """``moment`` (in UTC) as records write times: ``2026-11-26T04:52:31Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
    direct: bool = False
    """Whether the job reads and writes its inputs and outputs without placeholders in Swift itself
    (its engine's ``direct_data``); otherwise every input and output is staged."""
    deadline: str | None = None
    """When the job's temp URLs (its direct data, its log's shipping) expire."""
    log_saved: bool = False
    """Whether the driver's whole log is in Swift: then it is read from there, cluster or not."""

    @property
    def directory(self) -> str:
        """The job's folder on every instance it touches."""
        return f"{JOBS_DIR}/{self.id}"

    @property
    def runtime_module(self) -> str:
        """``heatdeploy_job.py`` in the job's folder on the driver, which reads and writes the job's Swift data
        from the executors: a framework ships it to them (Spark: ``--py-files``)."""
        return f"{self.directory}/heatdeploy_job.py"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> JobRecord:
        raw = json.loads(data)
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


@dataclass
class JobContext(ClusterContext):
    """What a job engine knows: the cluster's spec, framework and instances, and a way to reach them.

    Read config values with :meth:`config`, as steps do.
    """


class JobEngine(Protocol):
    """Runs jobs on a framework. Every method is synchronous and returns promptly:
    ``start`` launches the job in the background on the cluster; heatdeploy
    polls ``status``."""

    @property
    def types(self) -> tuple[str, ...]:
        """The job types this engine runs (``job run --type``); a class attribute will do."""

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
