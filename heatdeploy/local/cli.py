"""`heatdeploy local up|status|down`: the argparse hook for the main CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from heatdeploy.local.state import ENV_DIR, default_dir

_DIR_HELP = f"state dir (default: ${ENV_DIR} or ~/.local/share/heatdeploy/local)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `local` with its sub-commands to the main CLI's sub-parsers."""
    local = subparsers.add_parser(
        "local", help="run a local cloud (Keystone, Heat, Swift, local instances)",
        description="A real Keystone, Heat and Swift on loopback addresses, with local "
                    "instances (one sshd each) behind the Nova/Neutron/Cinder resource types.",
        epilog="example: heatdeploy local up && OS_CLOUD=heatdeploy-local openstack stack list",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    up = commands.add_parser(
        "up", help="start the local cloud (no-op when already running)",
        description="Start the local cloud and write clouds.yaml entries heatdeploy-local "
                    "(demo user), heatdeploy-local-admin and heatdeploy-local-trustee.",
        epilog="example: heatdeploy local up --token-expiration 600")
    up.add_argument("--dir", type=Path, help=_DIR_HELP)
    up.add_argument("--token-expiration", type=int, metavar="SECONDS",
                    help="Keystone token lifetime (default 3600; kept in the state dir)")
    up.set_defaults(handler=_up)

    status = commands.add_parser(
        "status", help="show services, addresses, pids, health and instances",
        description="Show each service of the local cloud with its address, pid and an "
                    "HTTP health check, and the running local instances.",
        epilog="example: heatdeploy local status --format json")
    status.add_argument("--dir", type=Path, help=_DIR_HELP)
    status.add_argument("--format", choices=("text", "json"), default="text",
                        help="json prints the whole report as one JSON document")
    status.set_defaults(handler=_status)

    down = commands.add_parser(
        "down", help="stop every process of the local cloud",
        description="Stop the services and every local instance (and whatever runs in "
                    "them). --purge also deletes the state dir and the clouds.yaml entries.",
        epilog="example: heatdeploy local down --purge")
    down.add_argument("--dir", type=Path, help=_DIR_HELP)
    down.add_argument("--purge", action="store_true", help="remove the state dir too")
    down.set_defaults(handler=_down)


def _root(args: argparse.Namespace) -> Path:
    return args.dir.expanduser().resolve() if args.dir else default_dir()


def _up(args: argparse.Namespace, progress: object = None) -> int:
    from heatdeploy.local import lifecycle

    if args.token_expiration is not None and args.token_expiration < 60:
        print("--token-expiration must be at least 60 seconds", file=sys.stderr)
        return 2
    try:
        lifecycle.up(_root(args), args.token_expiration)
    except Exception as error:  # noqa: BLE001 - reported, exit status says it
        print(f"local cloud failed to start: {error}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace, progress: object = None) -> int:
    from heatdeploy.local import lifecycle

    report = lifecycle.status_dict(_root(args))
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"state dir {report['state_dir']}: {'up' if report['up'] else 'not up'}")
        for svc in report["services"]:  # type: ignore[attr-defined]
            print(f"  {svc['name']:<16} {svc['address']:<22} pid {svc['pid'] or '-':<8} "
                  f"{'healthy' if svc['healthy'] else 'DOWN'} ({svc['detail']})")
        for inst in report["instances"]:  # type: ignore[attr-defined]
            print(f"  instance {inst['name']:<20} {' '.join(inst['addresses'])} "
                  f"{'running' if inst['running'] else 'stopped'}")
    return 0 if report["up"] else 1


def _down(args: argparse.Namespace, progress: object = None) -> int:
    from heatdeploy.local import lifecycle

    lifecycle.down(_root(args), purge=args.purge)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (python -m heatdeploy.local.cli) until the main CLI wires it."""
    parser = argparse.ArgumentParser(prog="heatdeploy")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
