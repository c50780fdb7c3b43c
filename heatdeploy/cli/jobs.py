"""The command line's job commands: job run, status, logs, cancel, list."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from heatdeploy.cli.options import cloud_options, command, format_option, manager, plugins, positive_int
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import JOB, JOBS
from heatdeploy.errors import ExitStatus, HeatdeployError
from heatdeploy.events import Event

TAIL_LINES = 20
"""Lines of the driver's log that ``job run --wait`` shows when the job did not succeed."""

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
                      conf=dict(args.conf), inputs=dict(args.input), outputs=dict(args.output),
                      timeout=args.timeout)
    jobs = _jobs(args, progress)
    job = jobs.run(args.cluster, request)
    if args.wait:
        progress(Event("phase", message=f"waiting for {job.id}"))
        job = jobs.wait(job.id, args.timeout)
        if job.state != "SUCCEEDED":
            show_tail(jobs, job, progress)
    progress.result(asdict(job), _text(job))
    return ExitStatus.OK if not args.wait or job.state == "SUCCEEDED" else ExitStatus.FAILED


def show_tail(jobs: JobManager, job: JobRecord, progress: Progress) -> None:
    """The last lines of a job's driver log: why it did not succeed, in its own words."""
    lines = jobs.logs(job.id).decode(errors="replace").splitlines()[-TAIL_LINES:]
    if progress.json:
        for line in lines:
            progress.emit(_log_event(job.id, line))
    elif lines:
        progress(Event("phase", message=f"the last {len(lines)} line(s) of the driver's log of {job.id}:"))
        progress.err.write("".join(f"    {line}\n" for line in lines))


def _log_event(job_id: str, line: str) -> dict[str, Any]:
    # One stream: the driver's standard output and error, merged as it wrote them.
    return {"event": "log", "job": job_id, "stream": "driver", "line": line}


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    job = _jobs(args, progress).status(args.id)
    progress.result(asdict(job), _text(job))
    return ExitStatus.OK


def cmd_logs(args: argparse.Namespace, progress: Progress) -> int:
    jobs = _jobs(args, progress)
    out = _LogPrinter(args.id, progress)
    while True:
        out.write(jobs.logs(args.id, out.offset))
        if not args.follow or jobs.status(args.id).state in ("SUCCEEDED", "FAILED", "KILLED"):
            if args.follow:  # what the job wrote between the last read and its end
                out.write(jobs.logs(args.id, out.offset))
            out.close()
            if progress.json:
                progress.emit({"event": "result", "job": args.id, "bytes": out.offset})
            return ExitStatus.OK
        time.sleep(1.0)


class _LogPrinter:
    """Prints a log as it comes: as it is, or as one JSON ``log`` event per line (a partial line waits)."""

    def __init__(self, job_id: str, progress: Progress) -> None:
        self.job_id, self.progress = job_id, progress
        self.offset = 0
        self._partial = b""

    def write(self, chunk: bytes) -> None:
        self.offset += len(chunk)
        if not self.progress.json:
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
            return
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self.progress.emit(_log_event(self.job_id, line.decode(errors="replace")))

    def close(self) -> None:
        if self.progress.json and self._partial:
            self.progress.emit(_log_event(self.job_id, self._partial.decode(errors="replace")))
            self._partial = b""


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
                "--input swift://data/books/ --output swift://results/wc --wait\n"
                "  (wordcount.py: lines = heatdeploy_job.read_text(spark); ...; "
                "heatdeploy_job.write_text(counts))")
    p.add_argument("cluster", metavar="CLUSTER", help="the cluster to run the job on")
    p.add_argument("--type", required=True, help=_LazyHelp("job type, which the cluster's framework must run: ",
                                                           _job_types))
    p.add_argument("--binary", required=True, metavar="FILE|swift://C/O",
                   help="the program: a local file (uploaded to Swift first) or a swift:// reference")
    p.add_argument("--main-class", help="main class of a jar")
    p.add_argument("--conf", type=_conf, action="append", default=[], metavar="KEY=VALUE",
                   help="a setting the job engine passes to the job (Spark: a --conf of spark-submit), "
                        "repeatable")
    p.add_argument("--input", type=_pair, action="append", default=[], metavar="[NAME=]swift://C/PATH",
                   help="input data in Swift (a PATH ending in / is every object under it): the job's executors "
                        "read it from Swift directly (heatdeploy_job.read_text, or the temp URLs listed in "
                        "$HEATDEPLOY_INPUT_URLS); with {input} (or {input.NAME}) in ARGS it is copied to every "
                        "instance instead and the placeholder is its local path")
    p.add_argument("--output", type=_pair, action="append", default=[], metavar="[NAME=]swift://C/PATH",
                   help="where output goes in Swift: the job's executors write it there directly "
                        "(heatdeploy_job.write_text: part-NNNNN objects, then _SUCCESS); with {output} (or "
                        "{output.NAME}) in ARGS, the placeholder is a local folder on the driver instance, "
                        "uploaded here when the job succeeds")
    p.add_argument("--wait", action="store_true", help="wait for the job; exit 1 unless it succeeds")
    p.add_argument("--timeout", type=positive_int, default=3600, metavar="SECONDS",
                   help="how long --wait waits; the job's temp URLs expire 10 minutes after it (default: 3600)")
    p.add_argument("args", nargs="*", metavar="ARGS", help="the job's arguments, after --")
    cloud_options(p)
    format_option(p, JOB)

    for name, handler, help_text, example in (
            ("status", cmd_status, "show a job's state: from its cluster while it runs, then from its record "
                                   "(also once the cluster is gone)", "heatdeploy job status JOB"),
            ("cancel", cmd_cancel, "stop a job on the cluster", "heatdeploy job cancel JOB")):
        p = command(commands, name, handler, help_text, example)
        p.add_argument("id", metavar="JOB", help="the job's id, as job run printed it")
        cloud_options(p)
        format_option(p, JOB)

    p = command(commands, "logs", cmd_logs,
                "print a job's driver log: from the cluster while the job runs, then from Swift, where it is "
                "kept after the cluster is gone (--format json: one event per line)",
                "heatdeploy job logs JOB --follow")
    p.add_argument("id", metavar="JOB", help="the job's id, as job run printed it")
    p.add_argument("--follow", action="store_true", help="keep printing until the job ends")
    cloud_options(p)
    format_option(p)

    p = command(commands, "list", cmd_list, "list jobs", "heatdeploy job list spark-demo")
    p.add_argument("cluster", metavar="CLUSTER", nargs="?", help="only this cluster's jobs")
    cloud_options(p)
    format_option(p, JOBS)
