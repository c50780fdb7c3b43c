"""The ``openstack heatdeploy`` commands: each is a ``heatdeploy`` command run inside the ``openstack`` command.

A command takes the arguments of its ``heatdeploy`` counterpart (copied from
that command's parser, so both always agree) and runs the same handler, on
the cloud OSC loaded instead of ``--os-cloud``. The handler's result, the
data ``heatdeploy --format json`` prints, goes to OSC's formatters through
the same :mod:`~heatdeploy.cli.views` as ``heatdeploy -f table``, so
``-f table|json|yaml|value`` and ``-c`` work as for every ``openstack`` command.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any, ClassVar

from osc_lib.command import command

from heatdeploy.cli.formats import cells
from heatdeploy.cli.options import HELD_CLOUD, split_passthrough
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import BINARIES, BINARY, CLUSTER, CLUSTERS, JOB, JOBS, PLAN, PRUNED, View, check_columns
from heatdeploy.errors import HeatdeployError

_NOT_COPIED = frozenset({"help", "format", "columns", "trustee_cloud", "job", "transient"})
"""OSC has its own help, output and cloud options (``--os-heatdeploy-trustee-cloud``); ``launch --job``
prints a job, not a cluster: ``openstack heatdeploy job run`` runs one on the launched cluster."""


@functools.cache
def _heatdeploy_parser() -> argparse.ArgumentParser:
    from heatdeploy.cli.main import build_parser

    return build_parser()


def heatdeploy_parser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    """The parser of ``heatdeploy PATH...`` (``("job", "status")``, say)."""
    parser = _heatdeploy_parser()
    for name in path:
        parser = next(action.choices[name] for action in parser._actions  # argparse keeps sub-commands only there
                      if isinstance(action, argparse._SubParsersAction))
    return parser


def copy_arguments(source: argparse.ArgumentParser, target: argparse.ArgumentParser) -> None:
    """Give ``target`` the arguments and defaults (its handler among them) of the ``heatdeploy`` command ``source``."""
    for action in source._actions:
        if action.dest not in _NOT_COPIED:
            target._add_action(action)  # argparse has no public way to share an argument between parsers
        elif action.dest != "help":
            target.set_defaults(**{action.dest: action.default})  # what the handler reads when it is not given
    target.set_defaults(**source._defaults)


def _takes(parser: argparse.ArgumentParser, dest: str) -> bool:
    return any(action.dest == dest for action in parser._actions)


class _JobArguments(argparse.ArgumentParser):
    """A command's parser that hands what follows ``--`` to the job untouched, as ``heatdeploy job run`` does."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.__dict__.update(parser.__dict__)  # the same parser: its actions, groups and settings

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        before, passthrough = split_passthrough(list(sys.argv[1:] if args is None else args))
        parsed, extra = super().parse_known_args(before, namespace)
        parsed.args = [*parsed.args, *passthrough]
        return parsed, extra


class _Result(Progress):
    """Progress as text on stderr; the result is kept for OSC to print."""

    data: dict[str, Any] | None = None

    def result(self, data: dict[str, Any], text: str) -> None:
        self.data = data


class HeatdeployCommand:
    """Runs a ``heatdeploy`` command's handler; mixed into osc-lib's command classes."""

    path: ClassVar[tuple[str, ...]]
    """The ``heatdeploy`` command this one runs."""
    example: ClassVar[str]
    """What follows ``openstack heatdeploy`` in the example of ``--help``."""
    app: Any
    _status = 0

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)  # type: ignore[misc]
        parser.epilog = f"example:\n  openstack heatdeploy {self.example}"
        parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the example on a line of its own
        copy_arguments(heatdeploy_parser(self.path), parser)
        return _JobArguments(parser) if _takes(parser, "args") else parser

    def handle(self, args: argparse.Namespace) -> dict[str, Any] | None:
        """Run the handler on OSC's cloud; its result's data (``None`` for a command that prints its own)."""
        view: View | None = getattr(self, "view", None)
        if view is not None:  # a column it does not have is bad input: refused before any work, as heatdeploy does
            check_columns(view, getattr(args, "columns", None) or ())
        setattr(args, HELD_CLOUD, self.app.client_manager.heatdeploy.cloud)
        progress = _Result("text", out=self.app.stdout, err=self.app.stderr)
        self._status = args.handler(args, progress)
        return progress.data

    def run(self, parsed_args: argparse.Namespace) -> int:
        """The command's exit status: a heatdeploy error is one line and its status (2 for bad input)."""
        try:
            status: int = super().run(parsed_args)  # type: ignore[misc]
        except HeatdeployError as exc:
            if self.app.options.debug:
                raise
            self.app.stderr.write(f"{exc}\n")
            return int(exc.exit_status)
        return status or self._status


class _Show(HeatdeployCommand, command.ShowOne):
    view: ClassVar[View]

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        data = self.handle(parsed_args)
        assert data is not None
        columns, rows = self.view.select(data)
        return columns, cells(rows[0])


class _List(HeatdeployCommand, command.Lister):
    view: ClassVar[View]

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        data = self.handle(parsed_args)
        assert data is not None
        columns, rows = self.view.select(data)
        return columns, [cells(row) for row in rows]


class _Do(HeatdeployCommand, command.Command):
    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.handle(parsed_args)
        return self._status


class LaunchCluster(_Show):
    """Launch a cluster from its spec, or converge an existing one to it."""

    example = "cluster launch examples/spark.yaml -f value -c state"
    path, view = ("launch",), CLUSTER


class ShowCluster(_Show):
    """Show a cluster: instances, endpoints and health."""

    example = "cluster show spark-demo -f value -c state"
    path, view = ("status",), CLUSTER


class ListCluster(_List):
    """List the project's clusters."""

    example = "cluster list -f json"
    path, view = ("list",), CLUSTERS


class ScaleCluster(_Show):
    """Resize a cluster's node groups."""

    example = "cluster scale spark-demo worker=3"
    path, view = ("scale",), CLUSTER


class PlanCluster(_List):
    """Show what launching a spec would change, without changing it."""

    example = "cluster plan examples/spark.yaml"
    path, view = ("plan",), PLAN


class DeleteCluster(_Do):
    """Delete a cluster: stack, record, key, then its trust (its jobs' records and logs stay unless --purge-jobs)."""

    example = "cluster delete spark-demo"
    path = ("delete",)

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        data = self.handle(parsed_args) or {}
        for item in data.get("left", []):
            self.app.stderr.write(f"left behind: {item}\n")
        return self._status


class RunJob(_Show):
    """Run a job on a cluster."""

    example = ("job run spark-demo --type spark --binary wordcount.py --input swift://data/book.txt --wait "
               "-- {input}")
    path, view = ("job", "run"), JOB


class ShowJob(_Show):
    """Show a job's state: from its cluster while it runs, then from its record (also once the cluster is gone)."""

    example = "job show JOB -c state -f value"
    path, view = ("job", "status"), JOB


class ListJob(_List):
    """List jobs, of one cluster or all."""

    example = "job list spark-demo -f yaml"
    path, view = ("job", "list"), JOBS


class CancelJob(_Show):
    """Stop a job on the cluster."""

    example = "job cancel JOB"
    path, view = ("job", "cancel"), JOB


class JobLogs(_Do):
    """Print a job's driver log: from the cluster while the job runs, then from Swift."""

    example = "job logs JOB --follow"
    path = ("job", "logs")


class UploadBinary(_Show):
    """Upload a job binary to Swift (once per content) and show its swift:// reference."""

    example = "binary upload build/wordcount.jar -f value -c url"
    path, view = ("binary", "upload"), BINARY


class ListBinary(_List):
    """List the job binaries heatdeploy uploaded, with size and upload time."""

    example = "binary list -f value -c url"
    path, view = ("binary", "list"), BINARIES


class DeleteBinary(_Do):
    """Delete a job binary; refused while a recorded job that has not ended uses it."""

    example = "binary delete swift://heatdeploy-binaries/sha256/ab12.../wordcount.py"
    path = ("binary", "delete")


class PruneBinary(_List):
    """Delete the job binaries older than --older-than, except those of jobs that have not ended."""

    example = "binary prune --older-than 30d --dry-run"
    path, view = ("binary", "prune"), PRUNED
