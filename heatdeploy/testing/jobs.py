"""A test double for job engines: a job context over fake instances, and job records to hand it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from heatdeploy.plugin.framework import Framework
from heatdeploy.plugin.jobs import JobContext, JobRecord
from heatdeploy.spec.model import ClusterSpec
from heatdeploy.testing.clusters import fake_instances, parse_test_spec
from heatdeploy.testing.remotes import Recorder, RecordingRemote, Responses


@dataclass
class RecordingJobContext(JobContext):
    """A :class:`~heatdeploy.JobContext` whose remotes record into :attr:`recorder`."""

    recorder: Recorder = field(default_factory=Recorder)


def make_job_context(spec: str | ClusterSpec, framework: Framework, *, responses: Responses | None = None,
                     files: Mapping[tuple[str, str], str | bytes] | None = None) -> RecordingJobContext:
    """A job context over the fake instances of ``spec`` (named and addressed as
    :func:`~heatdeploy.testing.make_cluster` names them), answering as ``responses`` say.

    Call a job engine's methods with it and a record from :func:`make_job`,
    then read what they did from ``ctx.recorder``.
    """
    cluster = spec if isinstance(spec, ClusterSpec) else parse_test_spec(spec, framework)
    instances = fake_instances(cluster)
    recorder = Recorder(files)
    remotes = {i.name: RecordingRemote(i, recorder, responses) for i in instances}
    return RecordingJobContext(spec=cluster, framework=framework, instances=instances,
                               connect=lambda instance: remotes[instance.name], recorder=recorder)


def make_job(type: str, *, cluster: str = "demo", id: str = "job-1", binary: str = "swift://jobs/program",
             **fields: Any) -> JobRecord:
    """A job record as heatdeploy hands it to an engine; ``fields`` are other :class:`~heatdeploy.JobRecord`
    fields (``args``, ``conf``, ``main_class``, ``engine``...)."""
    return JobRecord(id=id, cluster=cluster, type=type, binary=binary, **fields)
