"""Health checks as frameworks declare them: a named check that says green, yellow or red."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from heatdeploy.plugin.steps import StepContext

Colour = Literal["green", "yellow", "red"]
_RANK = {"green": 0, "yellow": 1, "red": 2}


@dataclass(frozen=True)
class Health:
    """What a health check found: ``green``, ``yellow`` or ``red``, and a message saying why."""

    status: Colour
    message: str


@dataclass(frozen=True)
class HealthCheck:
    """A named check over the whole cluster; it reaches instances through ``ctx``."""

    name: str
    check: Callable[[StepContext], Health]
