"""What to run: a job from ``heatdeploy job run`` options, a YAML job file, or Python."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from heatdeploy.spec.fields import Converter, spec_field
from heatdeploy.spec.problems import Problem, SpecError
from heatdeploy.spec.yaml_source import load_yaml, read_text


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


_NAME = re.compile(r"[A-Za-z0-9_-]*")


def data_problems(job: JobSpec) -> list[Problem]:
    """Inputs and outputs that are not ``NAME: swift://CONTAINER/PATH``, NAME plain (it names a folder)."""
    problems = []
    for kind, urls in (("inputs", job.inputs), ("outputs", job.outputs)):
        for name, url in urls.items():
            if not _NAME.fullmatch(name):
                problems.append(Problem(f"{kind}.{name}", f"name {name!r} is not allowed "
                                        "(letters, digits, '_' and '-'; '' for the unnamed one)"))
            if not url.startswith("swift://"):
                problems.append(Problem(f"{kind}.{name}", f"{url!r} is not a swift://CONTAINER/PATH URL"))
    return problems


def read_job_file(path: str) -> JobSpec:
    """Load and check a job file; raises :class:`~heatdeploy.SpecError` with file and line."""
    doc = load_yaml(read_text(path), path)
    converter = Converter()
    job = converter.build(JobSpec, doc.data)
    problems = list(converter.problems)
    if job is not None:
        problems += data_problems(job)
    if job is None or problems:
        raise SpecError(doc.locate(p.path, p.message) for p in problems)
    if not job.binary.startswith("swift://"):
        job.binary = str(Path(path).resolve().parent / job.binary)
    return job
