"""Shell completion scripts for ``heatdeploy``, generated from its argument parser by shtab.

The script is generated from the same parser the command runs with, so it
completes every command, option and choice there is, the deferred ``--os-*``
options included; arguments whose metavar names a file complete file names.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from heatdeploy.cli.os_options import complete_all

SHELLS = ("bash", "zsh")
FILE_METAVARS = frozenset({"SPEC", "FILE", "JOBFILE", "DIR"})
"""Arguments shown with these metavars are paths: they complete file names."""


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (one of :data:`SHELLS`)."""
    import shtab

    complete_all(parser)
    _mark_paths(parser, shtab.FILE)
    return str(shtab.complete(parser, shell=shell))


def _mark_paths(parser: argparse.ArgumentParser, files: Mapping[str, Any]) -> None:
    for action in parser._actions:  # argparse keeps sub-commands only there
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, files)
        elif action.metavar in FILE_METAVARS:
            action.complete = files  # type: ignore[attr-defined]  # shtab's attribute for what to complete
