"""Problems found in user input, located by file, line and field path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from heatdeploy.errors import ExitStatus, HeatdeployError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, at a field path such as ``node_groups[1].count``."""

    path: str
    message: str


@dataclass(frozen=True)
class LocatedProblem:
    """A :class:`Problem` with the file and line it was found at."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class SpecError(HeatdeployError):
    """Raised when a spec is invalid; carries every problem found, in file order."""

    exit_status = ExitStatus.BAD_INPUT

    def __init__(self, problems: Iterable[LocatedProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` when a choice is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def allowed(choices: Iterable[str]) -> str:
    """Format a sorted, comma-separated list of allowed values."""
    return ", ".join(sorted(choices)) or "none"
