"""The command line's job commands: job run, status, logs, cancel, list."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from heatdeploy.cli.options import cloud_options, command, format_option, manager, plugins
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import JOB, JOBS
from heatdeploy.errors import ExitStatus, HeatdeployError
from heatdeploy.events import Event

if TYPE_CHECKING:
    from heatdeploy.jobs.manager import JobManager
    from heatdeploy.plugin.jobs import JobRecord


def _jobs(args: argparse.Namespace, progress: Progress) -> JobManager:
    from heatdeploy.jobs.manager import JobManager

    return JobManager(manager(args, progress))


def _pair(value: str) -> tuple[str, str]:
    """``NAME=swift://...`` or a bare ``swift://...`` (the unnamed one)."""
    if value.startswith("swift://"):
        return "", value
    name, sep, url = value.partition("=")
    if not sep or not name or not url.startswith("swift://"):
        raise argparse.ArgumentTypeError(f"expected swift://CONTAINER/PATH or NAME=swift://..., got {value!r}")
    return name, url


def _conf(value: str) -> tuple[str, str]:
    key, sep, setting = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, setting


def _text(job: JobRecord) -> str:
    line = f"{job.id}: {job.state} ({job.type} on {job.cluster}{', ' + job.instance if job.instance else ''})"
    return line + (f"\n  {job.message}" if job.message else "")


def cmd_run(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.jobs.spec import JobSpec

    request = JobSpec(type=args.type, binary=args.binary, args=list(args.args), main_class=args.main_class,
                         conf=dict(args.conf), inputs=dict(args.input), outputs=dict(args.output))
    jobs = _jobs(args, progress)
    job = jobs.run(args.cluster, request)
    if args.wait:
        progress(Event("phase", message=f"waiting for {job.id}"))
        job = jobs.wait(job.id, args.timeout)
    progress.result(asdict(job), _text(job))
    return ExitStatus.OK if not args.wait or job.state == "SUCCEEDED" else ExitStatus.FAILED


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    job = _jobs(args, progress).status(args.id)
    progress.result(asdict(job), _text(job))
    return ExitStatus.OK


def cmd_logs(args: argparse.Namespace, progress: Progress) -> int:
    jobs = _jobs(args, progress)
    offset = 0
    while True:
        chunk = jobs.logs(args.id, offset)
        offset += len(chunk)
        if chunk:
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
        if not args.follow or jobs.status(args.id).state in ("SUCCEEDED", "FAILED", "KILLED"):
            if args.follow:  # what the job wrote between the last read and its end
                sys.stdout.write(jobs.logs(args.id, offset).decode(errors="replace"))
            return ExitStatus.OK
        time.sleep(1.0)


def cmd_cancel(args: argparse.Namespace, progress: Progress) -> int:
    job = _jobs(args, progress).cancel(args.id)
    progress.result(asdict(job), _text(job))
    return ExitStatus.OK if job.state == "KILLED" else ExitStatus.FAILED


def cmd_list(args: argparse.Namespace, progress: Progress) -> int:
    jobs = _jobs(args, progress).list(args.cluster)
    progress.result({"jobs": [asdict(j) for j in jobs]}, "\n".join(_text(j) for j in jobs) or "no jobs")
    return ExitStatus.OK


class _LazyHelp(str):
    """Help text ending in what ``more()`` says, computed only when ``--help`` is shown: argparse
    formats help with ``%``, so loading plugins waits until then instead of slowing every command."""

    def __new__(cls, text: str, more: Callable[[], str]) -> _LazyHelp:
        help_text = super().__new__(cls, text)
        help_text.more = more
        return help_text

    more: Callable[[], str]

    def __mod__(self, params: Any) -> str:
        return str(self) + self.more()


def _job_types() -> str:
    """The job types of the installed frameworks: ``"spark, shell (spark)"``."""
    try:
        loaded = plugins()
        engines = {name: loaded.job_engine(f) for name, f in sorted(loaded.frameworks.items())}
    except HeatdeployError as exc:  # a broken plugin must not break --help
        return f"(the installed plugins failed to load: {exc})"
    offered = [f"{', '.join(engine.types)} ({name})" for name, engine in engines.items() if engine is not None]
    return "; ".join(offered) or "no installed framework runs jobs"


def add_commands(sub: Any) -> None:
    job = sub.add_parser("job", help="run and watch jobs on a cluster",
                         description="Run jobs on a cluster, with binaries and data in Swift.")
    commands = job.add_subparsers(dest="job_command", metavar="COMMAND", required=True)

    p = command(commands, "run", cmd_run, "run a job on a cluster",
                "heatdeploy job run spark-demo --type spark --binary wordcount.py "
                "--input swift://data/book.txt --output swift://results/wc --wait -- {input} {output}")
    p.add_argument("cluster", metavar="CLUSTER")
    p.add_argument("--type", required=True, help=_LazyHelp("job type, which the cluster's framework must run: ",
                                                           _job_types))
    p.add_argument("--binary", required=True, metavar="FILE|swift://C/O",
                   help="the program: a local file (uploaded to Swift first) or a swift:// reference")
    p.add_argument("--main-class", help="main class of a jar")
    p.add_argument("--conf", type=_conf, action="append", default=[], metavar="KEY=VALUE",
                   help="a setting the job engine passes to the job (Spark: a --conf of spark-submit), "
                        "repeatable")
    p.add_argument("--input", type=_pair, action="append", default=[], metavar="[NAME=]swift://C/PATH",
                   help="data staged on every instance: {input} (or {input.NAME}) in ARGS is its local path; "
                        "a PATH ending in / is a folder")
    p.add_argument("--output", type=_pair, action="append", default=[], metavar="[NAME=]swift://C/PATH",
                   help="{output} (or {output.NAME}) in ARGS is a local folder on the driver instance, "
                        "uploaded here when the job succeeds")
    p.add_argument("--wait", action="store_true", help="wait for the job; exit 1 unless it succeeds")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="how long --wait waits")
    p.add_argument("args", nargs="*", metavar="ARGS", help="the job's arguments, after --")
    cloud_options(p)
    format_option(p, JOB)

    for name, handler, help_text, example in (
            ("status", cmd_status, "show a job's state, read from the cluster", "heatdeploy job status JOB"),
            ("cancel", cmd_cancel, "stop a job on the cluster", "heatdeploy job cancel JOB")):
        p = command(commands, name, handler, help_text, example)
        p.add_argument("id", metavar="JOB")
        cloud_options(p)
        format_option(p, JOB)

    p = command(commands, "logs", cmd_logs, "print a job's log", "heatdeploy job logs JOB --follow")
    p.add_argument("id", metavar="JOB")
    p.add_argument("--follow", action="store_true", help="keep printing until the job ends")
    cloud_options(p)
    format_option(p)

    p = command(commands, "list", cmd_list, "list jobs", "heatdeploy job list spark-demo")
    p.add_argument("cluster", metavar="CLUSTER", nargs="?", help="only this cluster's jobs")
    cloud_options(p)
    format_option(p, JOBS)
