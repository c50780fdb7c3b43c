"""Running a cluster's health checks and rolling them up to one colour."""

from __future__ import annotations

import concurrent.futures as futures
from collections.abc import Sequence
from dataclasses import dataclass

from heatdeploy.plugin.health import Colour, Health, HealthCheck
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.steps import StepContext

_RANK = {"green": 0, "yellow": 1, "red": 2}
SSH_CHECK_PARALLEL = 32


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


def _ssh_check(ctx: StepContext) -> Health:
    def reach(instance: Instance) -> str | None:
        try:
            ctx.remote(instance).run(["true"], timeout=20)
        except Exception as exc:  # every failure to reach an instance is a finding
            return f"{instance.name} ({exc})"
        return None

    # Connections are set up in parallel, as steps set them up: one at a time, 200 instances take seconds.
    with futures.ThreadPoolExecutor(max_workers=SSH_CHECK_PARALLEL, thread_name_prefix="ssh-check") as pool:
        unreachable = [found for found in pool.map(reach, ctx.instances) if found]
    if not unreachable:
        return Health("green", f"{len(ctx.instances)} instance(s) reachable over SSH")
    colour: Colour = "red" if len(unreachable) == len(ctx.instances) else "yellow"
    return Health(colour, "unreachable: " + "; ".join(unreachable))


SSH_CHECK = HealthCheck("ssh", _ssh_check)
"""The check every cluster gets before its framework's: each instance answers over SSH."""
