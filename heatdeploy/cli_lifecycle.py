"""The command line's cluster lifecycle commands: launch, status, list, scale, delete, plan.

The cloud libraries (openstacksdk, heatclient, paramiko) are imported only
when one of these commands runs: they take most of a second to import, which
``validate`` and ``render`` should not pay.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from heatdeploy.cli_output import Progress, summary_text

if TYPE_CHECKING:
    from heatdeploy.cluster import ClusterManager, Options

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _failures() -> tuple[type[Exception], ...]:
    from heatdeploy.auth import AuthError
    from heatdeploy.cluster import ClusterError
    from heatdeploy.instances import OutputError
    from heatdeploy.job_manager import JobError
    from heatdeploy.remote import RemoteError
    from heatdeploy.stack import StackError
    from heatdeploy.steps import DeadlineExceeded, StepsFailed

    return AuthError, ClusterError, StackError, StepsFailed, RemoteError, DeadlineExceeded, OutputError, JobError


def _manager(args: argparse.Namespace, progress: Progress) -> ClusterManager:
    from heatdeploy.auth import load_cloud
    from heatdeploy.cli import plugins
    from heatdeploy.cluster import ClusterManager

    cloud = load_cloud(args.os_cloud, args.trustee_cloud)
    return ClusterManager(cloud.session, plugins(), trustee_cloud=cloud.trustee_cloud, region=cloud.region,
                          on_event=progress)


def _options(args: argparse.Namespace) -> Options:
    from heatdeploy.cluster import Options

    return Options(wait=getattr(args, "wait", True), timeout_minutes=getattr(args, "timeout", None),
                   trust_days=getattr(args, "trust_days", None) or Options.trust_days,
                   use_floating_ip=not args.no_floating_ip,
                   proxy_command=args.proxy_command or os.environ.get("HEATDEPLOY_PROXY_COMMAND"))


def _guarded(handler: Callable[[argparse.Namespace, Progress], int]) -> Callable[[argparse.Namespace], int]:
    """Runs a command, turning expected failures into one message and exit status 1."""
    def run(args: argparse.Namespace) -> int:
        progress = Progress(args.format)
        try:
            return handler(args, progress)
        except _failures() as exc:
            progress.error(str(exc), EXIT_FAILED)
            return EXIT_FAILED
        except KeyboardInterrupt:
            progress.error("interrupted: run the same command again to finish, or delete the cluster", 130)
            return 130
    return run


def cmd_launch(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.cli import plugins
    from heatdeploy.validation import load_and_validate

    loaded = load_and_validate(args.spec, plugins())
    job_file = _job_file(args)
    manager = _manager(args, progress)
    if job_file is None:
        summary = manager.launch(loaded, _options(args)).to_dict()
        progress.result(summary, summary_text(summary))
        return EXIT_OK
    return _launch_with_job(args, progress, manager, loaded, job_file)


def _job_file(args: argparse.Namespace) -> Any:
    from heatdeploy.jobs import read_job_file
    from heatdeploy.problems import LocatedProblem, SpecError

    if args.transient and not args.job:
        raise SpecError([LocatedProblem(args.spec, 1, "", "--transient needs --job JOBFILE")])
    return read_job_file(args.job) if args.job else None


def _launch_with_job(args: argparse.Namespace, progress: Progress, manager: ClusterManager, loaded: Any,
                     job_file: Any) -> int:
    from dataclasses import asdict

    from heatdeploy.job_manager import JobManager, run_transient

    request = job_file
    if args.transient:
        # A TERM (a CI job cancelled) must still delete the cluster, like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        job = run_transient(manager, loaded, request, job_file.timeout, _options(args))
    else:
        manager.launch(loaded, _options(args))
        jobs = JobManager(manager)
        job = jobs.wait(jobs.run(loaded.spec.name, request).id, job_file.timeout)
    assert job is not None
    progress.result(asdict(job), f"{job.id}: {job.state}\n  {job.message}")
    return EXIT_OK if job.state == "SUCCEEDED" else EXIT_FAILED


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    summary = _manager(args, progress).status(args.name, _options(args), check_health=not args.no_health)
    data = summary.to_dict()
    progress.result(data, summary_text(data))
    healthy = summary.health is None or summary.health.status == "green"
    return EXIT_OK if healthy or not args.check else EXIT_FAILED


def cmd_list(args: argparse.Namespace, progress: Progress) -> int:
    clusters = [s.to_dict() for s in _manager(args, progress).list()]
    lines = [f"{c['name']:<24} {c['state']:<10} {c['plugin']} {c['version']:<6} stack {c['stack_status'] or 'missing'}"
             for c in clusters]
    progress.result({"clusters": clusters}, "\n".join(lines) or "no clusters")
    return EXIT_OK


def _count(value: str) -> tuple[str, int]:
    group, _, count = value.partition("=")
    if not group or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected GROUP=COUNT, got {value!r}")
    return group, int(count)


def cmd_scale(args: argparse.Namespace, progress: Progress) -> int:
    summary = _manager(args, progress).scale(args.name, dict(args.counts), args.remove, _options(args)).to_dict()
    progress.result(summary, summary_text(summary))
    return EXIT_OK


def cmd_renew(args: argparse.Namespace, progress: Progress) -> int:
    trust = _manager(args, progress).renew_trust(args.name, args.days)
    progress.result({"name": args.name, "trust_id": trust.id, "expires_at": trust.expires_at},
                    f"cluster {args.name}: new trust expires {trust.expires_at}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace, progress: Progress) -> int:
    left = _manager(args, progress).delete(args.name, force=args.force)
    message = f"cluster {args.name} deleted" + "".join(f"\n  left behind: {item}" for item in left)
    progress.result({"name": args.name, "deleted": True, "left": left}, message)
    return EXIT_OK


def cmd_ssh(args: argparse.Namespace, progress: Progress) -> int:
    argv = _manager(args, progress).ssh_command(args.name, args.instance, args.args, _options(args))
    if args.print:
        progress.result({"argv": argv}, shlex.join(argv))
        return EXIT_OK
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)  # the session, its output and its exit status are ssh's own
    except FileNotFoundError:
        progress.error("ssh, OpenSSH's client, is not installed (Debian: apt-get install openssh-client)",
                       EXIT_FAILED)
        return EXIT_FAILED
    except OSError as exc:
        progress.error(f"cannot run ssh: {exc}", EXIT_FAILED)
        return EXIT_FAILED


def cmd_plan(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.cli import plugins
    from heatdeploy.validation import load_and_validate

    loaded = load_and_validate(args.spec, plugins())
    manager = _manager(args, progress)
    changes = manager.plan(loaded)
    symbols = {"added": "+", "updated": "~", "replaced": "!", "deleted": "-"}
    lines = [f"{symbols[kind]} {name}" for kind in symbols for name in changes.get(kind, [])]
    text = "\n".join(lines) or "no changes"
    progress.result({"name": loaded.spec.name, "changes": changes}, text)
    return EXIT_OK


def _cloud_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--os-cloud", metavar="CLOUD", default=None,
                        help="clouds.yaml entry (default: $OS_CLOUD, else OS_* variables)")
    parser.add_argument("--trustee-cloud", metavar="CLOUD", default=None,
                        help="clouds.yaml entry of heatdeploy's trustee; enables trust mode "
                             "(default: $HEATDEPLOY_TRUSTEE_CLOUD, else the cloud's heatdeploy_trustee_cloud)")


def _access_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-floating-ip", action="store_true",
                        help="reach instances at their fixed addresses even when they have floating ones")
    parser.add_argument("--proxy-command", metavar="TEMPLATE",
                        help="command to reach instances through, with {host} and {port} "
                             "(default: $HEATDEPLOY_PROXY_COMMAND), e.g. 'ssh -W {host}:{port} bastion'")


def add_commands(sub: Any, command: Callable[..., argparse.ArgumentParser],
                 format_option: Callable[[argparse.ArgumentParser], None]) -> None:
    p = command(sub, "launch", _guarded(cmd_launch), "launch a cluster, or converge an existing one to its spec",
                "heatdeploy launch examples/spark.yaml --os-cloud heatdeploy-local --format json")
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    p.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                   help="wait for the stack and run the configuration steps (default); "
                        "--no-wait returns once the stack is being created")
    p.add_argument("--timeout", type=int, metavar="MINUTES", help="stack timeout (default: the spec's timeout)")
    p.add_argument("--job", metavar="JOBFILE",
                   help="after launching, run the job described in this YAML file and wait for it; "
                        "exit with its status")
    p.add_argument("--transient", action="store_true",
                   help="with --job: delete the cluster (and its trust) when the job ends, whatever happens")
    p.add_argument("--trust-days", type=float, metavar="DAYS",
                   help="lifetime of the trust in trust mode (default: 3; renew with 'heatdeploy renew')")
    _cloud_options(p)
    _access_options(p)
    format_option(p)

    p = command(sub, "renew", _guarded(cmd_renew), "replace a cluster's trust with one that expires later",
                "heatdeploy renew spark-demo --days 7")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("--days", type=float, default=3.0, help="lifetime of the new trust (default: 3)")
    _cloud_options(p)
    format_option(p)

    p = command(sub, "status", _guarded(cmd_status), "show a cluster: instances, endpoints and health",
                "heatdeploy status spark-demo --format json")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("--no-health", action="store_true", help="skip the health checks (no SSH)")
    p.add_argument("--check", action="store_true", help="exit 1 unless the cluster's health is green")
    _cloud_options(p)
    _access_options(p)
    format_option(p)

    p = command(sub, "ssh", _guarded(cmd_ssh), "open a shell on an instance, or run a command there, with OpenSSH",
                "heatdeploy ssh spark-demo spark-demo-worker-0 -- df -h /volumes")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.usage = "heatdeploy ssh NAME [INSTANCE] [options] [-- COMMAND...]"
    p.add_argument("instance", metavar="INSTANCE", nargs="?", help="instance name (default: the first)")
    p.add_argument("--print", action="store_true",
                   help="print the ssh command line (the cluster's key, pinned host keys) instead of running it")
    p.set_defaults(args=[])
    _cloud_options(p)
    _access_options(p)
    format_option(p)

    p = command(sub, "list", _guarded(cmd_list), "list the project's clusters", "heatdeploy list --format json")
    _cloud_options(p)
    format_option(p)

    p = command(sub, "scale", _guarded(cmd_scale), "resize node groups; name the instances to remove",
                "heatdeploy scale spark-demo worker=1 --remove spark-demo-worker-0")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("counts", metavar="GROUP=COUNT", nargs="+", type=_count, help="new size of a node group")
    p.add_argument("--remove", metavar="INSTANCE", nargs="+", default=[],
                   help="instances to remove when shrinking (default: the highest-numbered ones)")
    p.add_argument("--timeout", type=int, metavar="MINUTES", help="stack timeout (default: the spec's timeout)")
    _cloud_options(p)
    _access_options(p)
    format_option(p)

    p = command(sub, "delete", _guarded(cmd_delete), "delete a cluster: stack, record, key, then its trust",
                "heatdeploy delete spark-demo")
    p.add_argument("name", metavar="NAME", help="cluster name")
    p.add_argument("--force", action="store_true",
                   help="go on deleting the record, key and trust even if the stack will not delete")
    _cloud_options(p)
    format_option(p)

    p = command(sub, "plan", _guarded(cmd_plan), "show what launching a spec would change, without changing it",
                "heatdeploy plan examples/spark.yaml --os-cloud heatdeploy-local")
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    _cloud_options(p)
    format_option(p)

