"""Cluster health: checks that say green, yellow or red, rolled up to one colour."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from heatdeploy.steps import StepContext

Colour = Literal["green", "yellow", "red"]
_RANK = {"green": 0, "yellow": 1, "red": 2}


@dataclass(frozen=True)
class Health:
    status: Colour
    message: str


@dataclass(frozen=True)
class HealthCheck:
    """A named check over the whole cluster; it reaches instances through ``ctx``."""

    name: str
    check: Callable[[StepContext], Health]


@dataclass(frozen=True)
class HealthReport:
    status: Colour
    checks: dict[str, Health]

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status,
                "checks": {name: {"status": h.status, "message": h.message} for name, h in self.checks.items()}}


def roll_up(results: dict[str, Health]) -> HealthReport:
    worst: Colour = max((h.status for h in results.values()), key=_RANK.__getitem__, default="green")
    return HealthReport(worst, results)


def run_checks(ctx: StepContext, checks: Sequence[HealthCheck]) -> HealthReport:
    """Run every check; one that raises is red with its error, and the others still run."""
    results: dict[str, Health] = {}
    for check in checks:
        try:
            results[check.name] = check.check(ctx)
        except Exception as exc:  # a failing check is a finding, not a crash
            results[check.name] = Health("red", str(exc) or type(exc).__name__)
    return roll_up(results)
