"""Printing a resource as a table, YAML or bare values, with cliff's formatters (those of the ``openstack`` command).

``heatdeploy STATUS-LIKE-COMMAND -f table|yaml|value [-c COLUMN ...]`` prints
its result's :class:`~heatdeploy.cli.views.View` here, exactly as the
``openstack heatdeploy`` commands print the same view. cliff and osc-lib come
with python-heatclient; they are imported only when such a format is asked
for, so other commands do not pay for them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from heatdeploy.cli.views import Row, View

RESOURCE_FORMATS = ("table", "yaml", "value")
"""The formats that print a command's result as a resource (``json`` keeps its meaning: JSON lines of events)."""


def cells(row: Row) -> Row:
    """``row`` with lists and dicts wrapped in osc-lib's columns: readable in a table, structured in YAML."""
    from osc_lib.cli import format_columns

    def cell(value: Any) -> Any:
        if isinstance(value, dict):
            return format_columns.DictColumn(value)
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            return format_columns.ListDictColumn(value)
        if isinstance(value, list):
            return format_columns.ListColumn(value)
        return value

    return tuple(cell(value) for value in row)


def render(view: View, data: dict[str, Any], fmt: str, wanted: Sequence[str], out: TextIO) -> None:
    """Print ``data`` as ``view`` in format ``fmt`` (one of :data:`RESOURCE_FORMATS`), only the ``wanted`` columns."""
    columns, rows = view.select(data, wanted)
    formatter = _formatter(fmt)
    options = _defaults(formatter)
    if view.single:
        formatter.emit_one(columns, cells(rows[0]), out, options)
    else:
        formatter.emit_list(columns, [cells(row) for row in rows], out, options)


def _formatter(fmt: str) -> Any:
    from cliff.formatters.table import TableFormatter
    from cliff.formatters.value import ValueFormatter
    from cliff.formatters.yaml_format import YAMLFormatter

    formatters: dict[str, type[Any]] = {"table": TableFormatter, "yaml": YAMLFormatter, "value": ValueFormatter}
    return formatters[fmt]()


def _defaults(formatter: Any) -> argparse.Namespace:
    """The formatter's own options at their defaults (cliff reads them from the parsed arguments)."""
    parser = argparse.ArgumentParser(add_help=False)
    formatter.add_argument_group(parser)
    return parser.parse_args([])
