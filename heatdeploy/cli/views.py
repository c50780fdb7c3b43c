"""What a command's result looks like as a resource: its columns, and its rows from the result's data.

The data is what ``--format json`` prints as the final ``result`` event, so
every format shows the same thing. ``heatdeploy`` renders a view with
``-f table|yaml|value`` (:mod:`heatdeploy.cli.formats`) and the
``openstack heatdeploy`` commands hand the same view to OSC's formatters.
Nothing here imports more than the standard library: views are attached to
the parser of every command that prints a resource.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from heatdeploy.errors import UsageError

Row = tuple[Any, ...]


@dataclass(frozen=True)
class View:
    """A resource's columns, and how to read its rows from a result's data.

    ``single`` views show one record (a field and its value per line in a
    table); the others list one row per item.
    """

    name: str
    columns: tuple[str, ...]
    single: bool
    rows: Callable[[dict[str, Any]], list[Row]]

    def select(self, data: dict[str, Any], wanted: Sequence[str] = ()) -> tuple[tuple[str, ...], list[Row]]:
        """The columns and rows of ``data``, only the ``wanted`` columns (in that order) when any are named."""
        check_columns(self, wanted)
        rows = self.rows(data)
        if not wanted:
            return self.columns, rows
        picks = [self.columns.index(column) for column in wanted]
        return tuple(wanted), [tuple(row[i] for i in picks) for row in rows]


def check_columns(view: View, wanted: Sequence[str]) -> None:
    """Raise :class:`UsageError` naming a column ``view`` does not have."""
    unknown = [column for column in wanted if column not in view.columns]
    if unknown:
        raise UsageError(f"-c/--column: no column {', '.join(map(repr, unknown))} in a {view.name} "
                         f"(columns: {', '.join(view.columns)})")


def _pick(columns: Sequence[str]) -> Callable[[dict[str, Any]], Row]:
    return lambda item: tuple(item.get(column) for column in columns)


CLUSTER_COLUMNS = ("name", "state", "plugin", "version", "stack_status", "instances", "endpoints", "trust_id",
                   "health", "health_checks")


def _cluster_rows(summary: dict[str, Any]) -> list[Row]:
    health = summary.get("health") or {}
    flat = {**summary,
            "instances": [_instance_line(i) for i in summary["instances"]],
            "health": health.get("status"),
            "health_checks": {name: f"{c['status']}: {c['message']}" for name, c in health.get("checks", {}).items()}}
    return [_pick(CLUSTER_COLUMNS)(flat)]


def _instance_line(instance: dict[str, Any]) -> str:
    """``name fixed_ip [floating IP] processes``: one instance in one cell."""
    floating = f" (floating {instance['floating_ip']})" if instance.get("floating_ip") else ""
    return f"{instance['name']} {instance['fixed_ip']}{floating} {','.join(instance['processes'])}"


CLUSTER = View("cluster", CLUSTER_COLUMNS, True, _cluster_rows)
"""A cluster summary (``status``, ``scale``): the result is the summary itself."""

CLUSTER_LIST_COLUMNS = ("name", "state", "plugin", "version", "stack_status")
CLUSTERS = View("cluster list", CLUSTER_LIST_COLUMNS, False,
                lambda data: [_pick(CLUSTER_LIST_COLUMNS)(c) for c in data["clusters"]])
"""The project's clusters (``list``): the result is ``{"clusters": [summary, ...]}``."""

_CHANGE_KINDS = ("added", "updated", "replaced", "deleted")
PLAN = View("plan", ("change", "resource"), False,
            lambda data: [(kind, name) for kind in _CHANGE_KINDS for name in data["changes"].get(kind, [])])
"""What a launch would change (``plan``): the result is ``{"name": ..., "changes": {kind: [resource, ...]}}``."""

JOB_COLUMNS = ("id", "cluster", "type", "state", "instance", "binary", "args", "main_class", "conf", "inputs",
               "outputs", "created_at", "finished_at", "message")
JOB = View("job", JOB_COLUMNS, True, lambda job: [_pick(JOB_COLUMNS)(job)])
"""A job record (``job run``, ``job status``, ``job cancel``)."""

JOB_LIST_COLUMNS = ("id", "cluster", "type", "state", "instance", "created_at", "finished_at")
JOBS = View("job list", JOB_LIST_COLUMNS, False, lambda data: [_pick(JOB_LIST_COLUMNS)(j) for j in data["jobs"]])
"""Jobs (``job list``): the result is ``{"jobs": [job, ...]}``."""

BINARY_COLUMNS = ("url", "container", "object", "size", "sha256", "uploaded")
BINARY = View("binary", BINARY_COLUMNS, True, lambda ref: [_pick(BINARY_COLUMNS)(ref)])
"""An uploaded binary (``binary upload``)."""

STORED_COLUMNS = ("url", "size", "modified")
BINARIES = View("binary list", STORED_COLUMNS, False,
                lambda data: [_pick(STORED_COLUMNS)(b) for b in data["binaries"]])
"""The binaries in a container (``binary list``): the result is ``{"binaries": [binary, ...]}``."""

PRUNED = View("pruned binary", ("url", "deleted"), False,
              lambda data: [(url, True) for url in data.get("deleted", [])]
              + [(url, False) for url in data.get("would_delete", [])])
"""What ``binary prune`` deleted (``deleted`` true) or, with ``--dry-run``, would delete (false)."""
