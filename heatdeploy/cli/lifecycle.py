"""The command line's cluster lifecycle commands: launch, status, list, scale, delete, plan, renew, ssh."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from typing import TYPE_CHECKING, Any

from heatdeploy.cli.options import (
    RERUN,
    access_options,
    cloud_options,
    command,
    format_option,
    lock_option,
    manager,
    options,
    parallel_option,
    plugins,
    stack_options,
)
from heatdeploy.cli.output import Progress, summary_text
from heatdeploy.cli.views import CLUSTER, CLUSTERS, PLAN
from heatdeploy.errors import ExitStatus

if TYPE_CHECKING:
    from heatdeploy.cluster import ClusterManager
    from heatdeploy.jobs.spec import JobSpec
    from heatdeploy.spec.model import LoadedSpec


def cmd_launch(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.plugin.validation import load_and_validate

    loaded = load_and_validate(args.spec, plugins())
    job_file = _job_file(args)
    clusters = manager(args, progress)
    if job_file is None:
        summary = clusters.launch(loaded, options(args)).to_dict()
        progress.result(summary, summary_text(summary))
        return ExitStatus.OK
    return _launch_with_job(args, progress, clusters, loaded, job_file)


def _job_file(args: argparse.Namespace) -> JobSpec | None:
    from heatdeploy.jobs.spec import read_job_file
    from heatdeploy.spec.problems import LocatedProblem, SpecError

    if args.transient and not args.job:
        raise SpecError([LocatedProblem(args.spec, 1, "", "--transient needs --job JOBFILE")])
    return read_job_file(args.job) if args.job else None


def _launch_with_job(args: argparse.Namespace, progress: Progress, clusters: ClusterManager,
                     loaded: LoadedSpec, job_file: JobSpec) -> int:
    from dataclasses import asdict

    from heatdeploy.cli.jobs import show_tail
    from heatdeploy.jobs.manager import JobManager, run_transient

    request = job_file
    if args.transient:
        # A TERM (a CI job cancelled) must still delete the cluster, like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        job = run_transient(clusters, loaded, request, job_file.timeout, options(args))
    else:
        clusters.launch(loaded, options(args))
        jobs = JobManager(clusters)
        job = jobs.wait(jobs.run(loaded.spec.name, request).id, job_file.timeout)
    assert job is not None
    if job.state != "SUCCEEDED":
        show_tail(JobManager(clusters), job, progress)  # from Swift: a transient cluster is gone by now
    progress.result(asdict(job), f"{job.id}: {job.state}\n  {job.message}")
    return ExitStatus.OK if job.state == "SUCCEEDED" else ExitStatus.FAILED


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    summary = manager(args, progress).status(args.name, options(args), check_health=not args.no_health)
    data = summary.to_dict()
    progress.result(data, summary_text(data))
    if not args.check:
        return ExitStatus.OK
    # A CI gate: a cluster still creating (no health at all) or not green fails it.
    healthy = args.no_health or (summary.health is not None and summary.health.status == "green")
    return ExitStatus.OK if summary.state == "active" and healthy else ExitStatus.FAILED


def cmd_list(args: argparse.Namespace, progress: Progress) -> int:
    clusters = [s.to_dict() for s in manager(args, progress).list()]
    lines = [f"{c['name']:<24} {c['state']:<10} {c['plugin']} {c['version']:<6} stack {c['stack_status'] or 'missing'}"
             for c in clusters]
    progress.result({"clusters": clusters}, "\n".join(lines) or "no clusters")
    return ExitStatus.OK


def _count(value: str) -> tuple[str, int]:
    group, _, count = value.partition("=")
    if not group or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected GROUP=COUNT, got {value!r}")
    return group, int(count)


def cmd_scale(args: argparse.Namespace, progress: Progress) -> int:
    summary = manager(args, progress).scale(args.name, dict(args.counts), args.remove, options(args)).to_dict()
    progress.result(summary, summary_text(summary))
    return ExitStatus.OK


def cmd_renew(args: argparse.Namespace, progress: Progress) -> int:
    trust = manager(args, progress).renew_trust(args.name, args.days, break_lock=args.break_lock)
    progress.result({"name": args.name, "trust_id": trust.id, "expires_at": trust.expires_at},
                    f"cluster {args.name}: new trust expires {trust.expires_at}")
    return ExitStatus.OK


def cmd_delete(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.jobs.manager import JobManager, delete_with_jobs

    clusters = manager(args, progress)
    gone = clusters.cloud.records.load(args.name) is None and clusters.cloud.stacks.find(args.name) is None
    left: list[str] = []
    if not (gone and args.purge_jobs):  # a cluster already gone may still have job records to purge
        left = delete_with_jobs(clusters, args.name, "its cluster was deleted before the job ended",
                                force=args.force, timeout_minutes=args.timeout or 30, break_lock=args.break_lock,
                                stall_seconds=args.stall_after)
    jobs = JobManager(clusters)
    purged = jobs.purge(args.name) if args.purge_jobs else []
    kept = [] if args.purge_jobs else [job.id for job in jobs.list(args.name)]
    message = (f"cluster {args.name} {'was already gone' if gone else 'deleted'}"
               + "".join(f"\n  left behind: {item}" for item in left)
               + (f"\n  deleted {len(purged)} job record(s) and their logs" if args.purge_jobs else "")
               + (f"\n  kept {len(kept)} job record(s) and their logs: heatdeploy job list {args.name}; "
                  "delete them with --purge-jobs" if kept else ""))
    progress.result({"name": args.name, "deleted": not gone, "left": left, "jobs_purged": purged,
                     "jobs_kept": kept}, message)
    return ExitStatus.OK


def cmd_ssh(args: argparse.Namespace, progress: Progress) -> int:
    argv = manager(args, progress).ssh_command(args.name, args.instance, args.args, options(args))
    if args.print:
        progress.result({"argv": argv}, shlex.join(argv))
        return ExitStatus.OK
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)  # the session, its output and its exit status are ssh's own
    except FileNotFoundError:
        progress.error("ssh, OpenSSH's client, is not installed (Debian: apt-get install openssh-client)",
                       ExitStatus.FAILED)
        return ExitStatus.FAILED
    except OSError as exc:
        progress.error(f"cannot run ssh: {exc}", ExitStatus.FAILED)
        return ExitStatus.FAILED


def cmd_plan(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.plugin.validation import load_and_validate

    loaded = load_and_validate(args.spec, plugins())
    changes = manager(args, progress).plan(loaded)
    symbols = {"added": "+", "updated": "~", "replaced": "!", "deleted": "-"}
    lines = [f"{symbols[kind]} {name}" for kind in symbols for name in changes.get(kind, [])]
    text = "\n".join(lines) or "no changes"
    progress.result({"name": loaded.spec.name, "changes": changes}, text)
    return ExitStatus.OK


def add_commands(sub: Any) -> None:
    p = command(sub, "launch", cmd_launch, "launch a cluster, or converge an existing one to its spec",
                "heatdeploy launch examples/spark.yaml --os-cloud heatdeploy-local --format json", RERUN)
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    p.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                   help="wait for the stack and run the configuration steps (default); "
                        "--no-wait returns once the stack is being created")
    stack_options(p)
    parallel_option(p)
    p.add_argument("--job", metavar="JOBFILE",
                   help="after launching, run the job described in this YAML file and wait for it; "
                        "exit with its status")
    p.add_argument("--transient", action="store_true",
                   help="with --job: delete the cluster (and its trust) when the job ends, whatever happens")
    p.add_argument("--trust-days", type=float, metavar="DAYS",
                   help="lifetime of the trust in trust mode (default: 3; renew with 'heatdeploy renew')")
    lock_option(p)
    cloud_options(p)
    access_options(p)
    format_option(p)

    p = command(sub, "renew", cmd_renew, "replace a cluster's trust with one that expires later",
                "heatdeploy renew spark-demo --days 7")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("--days", type=float, default=3.0, help="lifetime of the new trust (default: 3)")
    lock_option(p)
    cloud_options(p)
    format_option(p)

    p = command(sub, "status", cmd_status, "show a cluster: instances, endpoints and health",
                "heatdeploy status spark-demo --format json")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("--no-health", action="store_true", help="skip the health checks (no SSH)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless the cluster is active and its health is green (with --no-health: active)")
    cloud_options(p)
    access_options(p)
    format_option(p, CLUSTER)

    p = command(sub, "ssh", cmd_ssh, "open a shell on an instance, or run a command there, with OpenSSH",
                "heatdeploy ssh spark-demo spark-demo-worker-0 -- df -h /volumes")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.usage = "heatdeploy ssh NAME [INSTANCE] [options] [-- COMMAND...]"
    p.add_argument("instance", metavar="INSTANCE", nargs="?", help="instance name (default: the first)")
    p.add_argument("--print", action="store_true",
                   help="print the ssh command line (the cluster's key, pinned host keys) instead of running it")
    p.set_defaults(args=[])
    cloud_options(p)
    access_options(p)
    format_option(p)

    p = command(sub, "list", cmd_list, "list the project's clusters", "heatdeploy list --format json")
    cloud_options(p)
    format_option(p, CLUSTERS)

    p = command(sub, "scale", cmd_scale, "resize node groups; name the instances to remove",
                "heatdeploy scale spark-demo worker=1 --remove spark-demo-worker-0", RERUN)
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("counts", metavar="GROUP=COUNT", nargs="+", type=_count, help="new size of a node group")
    p.add_argument("--remove", metavar="INSTANCE", nargs="+", default=[],
                   help="instances to remove when shrinking (default: the highest-numbered ones)")
    stack_options(p)
    parallel_option(p)
    lock_option(p)
    cloud_options(p)
    access_options(p)
    format_option(p, CLUSTER)

    p = command(sub, "delete", cmd_delete,
                "delete a cluster: stack, record, key, then its trust; its jobs' records and logs stay (readable "
                "with heatdeploy job) unless --purge-jobs, and job binaries stay (heatdeploy binary prune)",
                "heatdeploy delete spark-demo --purge-jobs",
                "interrupted: run the same command again to finish deleting")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("--force", action="store_true",
                   help="go on deleting the record, key and trust even if the stack will not delete")
    p.add_argument("--purge-jobs", action="store_true",
                   help="also delete the records and saved logs of the cluster's jobs (also once the cluster "
                        "is gone); running jobs are recorded KILLED first either way")
    stack_options(p, "30")
    lock_option(p)
    cloud_options(p)
    format_option(p)

    p = command(sub, "plan", cmd_plan, "show what launching a spec would change, without changing it",
                "heatdeploy plan examples/spark.yaml --os-cloud heatdeploy-local")
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    cloud_options(p)
    format_option(p, PLAN)

