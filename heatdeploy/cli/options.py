"""What the command line's commands share: declaring a command, common options, the plugins, the managers.

The cloud libraries are imported only when a command that needs them runs:
they take most of a second to import, which ``validate`` and ``render``
should not pay.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from heatdeploy.cli.os_options import CommandParser, add_openstack_options, given_openstack_options
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import View
from heatdeploy.plugin.manager import Plugins, load_plugins

if TYPE_CHECKING:
    from heatdeploy.cloud.auth import Cloud
    from heatdeploy.cluster import ClusterManager, Options

Handler = Callable[[argparse.Namespace, Progress], int]

RERUN = "interrupted: run the same command again to finish, or delete the cluster"


@functools.cache
def installed_plugins() -> Plugins:
    """The installed plugins, loaded once, on first use; load errors are the caller's to report."""
    return load_plugins()


@functools.cache
def plugins() -> Plugins:
    """The installed plugins; a plugin that failed to load is reported once, as a warning on stderr.

    (``HEATDEPLOY_STRICT_PLUGINS=1`` makes loading fail instead.) A spec that
    names that plugin fails validation; any other command goes on without it.
    """
    loaded = installed_plugins()
    for error in loaded.errors:
        print(f"heatdeploy: warning: plugin {error.name!r} ({error.package or 'unknown package'}) failed to load: "
              f"{error.error}; 'heatdeploy plugins' lists what is installed", file=sys.stderr)
    return loaded


def command(sub: Any, name: str, handler: Handler, help: str, example: str,
            interrupted: str = "interrupted") -> argparse.ArgumentParser:
    """Declare a sub-command; ``interrupted`` is what Ctrl-C or TERM during it tells the user."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=help,
        epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler, interrupted=interrupted)
    return parser


def split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` cut at its first ``--``: what comes before, and what follows (a job's arguments, untouched).

    argparse does not pass ``--`` through nested sub-commands, nor after a
    positional that was already filled, so commands split it off first.
    """
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def format_option(parser: argparse.ArgumentParser, view: View | None = None) -> None:
    """``-f/--format``; with ``view``, the resource the command prints, also ``table``, ``yaml``, ``value``, ``-c``."""
    json_help = "json prints one event per line and a final result or error event (meant for scripts and CI)"
    if view is None:
        parser.add_argument("-f", "--format", choices=("text", "json"), default="text",
                            help=f"output format: {json_help}")
        return
    parser.add_argument("-f", "--format", choices=("text", "json", "table", "yaml", "value"), default="text",
                        help=f"output format: {json_help}; table, yaml and value print the {view.name} "
                             "as the openstack command does")
    parser.add_argument("-c", "--column", dest="columns", action="append", default=[], metavar="COLUMN",
                        help=f"with table, yaml or value: only this column, repeatable ({', '.join(view.columns)})")
    parser.set_defaults(view=view)


def cloud_options(parser: argparse.ArgumentParser, trustee: bool = True) -> None:
    """``--os-cloud``, the other standard ``--os-*`` options (added when the command runs), ``--trustee-cloud``."""
    if isinstance(parser, CommandParser):
        parser.defer(add_openstack_options)
    else:
        add_openstack_options(parser, [])
    if trustee:
        parser.add_argument("--trustee-cloud", metavar="CLOUD", default=None,
                            help="clouds.yaml entry of heatdeploy's trustee; enables trust mode "
                                 "(default: $HEATDEPLOY_TRUSTEE_CLOUD, else the cloud's heatdeploy_trustee_cloud)")


def access_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-floating-ip", action="store_true",
                        help="reach instances at their fixed addresses even when they have floating ones")
    parser.add_argument("--proxy-command", metavar="TEMPLATE",
                        help="command to reach instances through, with {host} and {port} "
                             "(default: $HEATDEPLOY_PROXY_COMMAND), e.g. 'ssh -W {host}:{port} bastion'")


def positive_int(value: str) -> int:
    """An argparse ``type``: a whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def stack_options(parser: argparse.ArgumentParser, timeout_default: str = "the spec's timeout") -> None:
    """``--timeout`` and ``--stall-after``: how long to wait for Heat, and when to say it seems stuck."""
    parser.add_argument("--timeout", type=positive_int, metavar="MINUTES",
                        help=f"stack timeout (default: {timeout_default})")
    parser.add_argument("--stall-after", type=positive_int, metavar="SECONDS",
                        help="warn when Heat shows no new event for this long; the wait goes on "
                             "(default: 300 plus one per instance)")


def parallel_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-parallel", type=positive_int, metavar="N", default=32,
                        help="configure at most N instances at once: SSH connections and threads (default: 32)")


def lock_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--break-lock", action="store_true",
                        help="take the cluster's lock even though another operation holds it: only when that "
                             "process is known to be gone (an expired lock is taken over anyway)")


HELD_CLOUD = "heatdeploy_cloud"
"""The parsed arguments' attribute holding a cloud already loaded (by the ``openstack`` command) instead of options."""


def cloud_for(args: argparse.Namespace) -> Cloud:
    """The cloud the command's options name (``--os-cloud``, the other ``--os-*`` options, ``--trustee-cloud``)."""
    from heatdeploy.cloud.auth import load_cloud

    held: Cloud | None = getattr(args, HELD_CLOUD, None)
    if held is not None:
        return held
    return load_cloud(getattr(args, "os_cloud", None), getattr(args, "trustee_cloud", None),
                      given_openstack_options(args))


def manager(args: argparse.Namespace, progress: Progress) -> ClusterManager:
    """The cluster manager for the cloud the command's options name."""
    from heatdeploy.cluster import ClusterManager

    cloud = cloud_for(args)
    return ClusterManager(cloud.session, plugins(), trustee_cloud=cloud.trustee_cloud, region=cloud.region,
                          on_event=progress)


def options(args: argparse.Namespace) -> Options:
    """An operation's options from the command's arguments."""
    from heatdeploy.cluster import Options

    return Options(wait=getattr(args, "wait", True), timeout_minutes=getattr(args, "timeout", None),
                   trust_days=getattr(args, "trust_days", None) or Options.trust_days,
                   use_floating_ip=not getattr(args, "no_floating_ip", False),
                   proxy_command=getattr(args, "proxy_command", None) or os.environ.get("HEATDEPLOY_PROXY_COMMAND"),
                   break_lock=getattr(args, "break_lock", False), stall_after=getattr(args, "stall_after", None),
                   max_parallel=getattr(args, "max_parallel", Options.max_parallel))
