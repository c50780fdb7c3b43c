"""Progress events: what the library reports while it works, for display or JSON lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["phase", "stack", "step_started", "step_done", "step_skipped", "step_failed",
               "instance_done", "instance_failed", "warning", "stack_stalled"]


@dataclass(frozen=True)
class Event:
    """One progress event.

    ``phase`` events mark the stages of an operation (``message`` says which);
    ``stack`` events carry Heat's event log lines, ``stack_stalled`` says
    Heat has shown nothing new for a while (the operation goes on waiting); ``step_*`` and
    ``instance_*`` events follow the configuration steps, with ``done`` of
    ``total`` instances.
    """

    kind: Kind
    step: str = ""
    instance: str = ""
    message: str = ""
    output: str = ""
    done: int = 0
    total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in ("", 0) or k == "kind"}


EventSink = Callable[[Event], None]
"""What the library reports progress to (``on_event``): called with each :class:`~heatdeploy.Event`, in order."""


def ignore(event: Event) -> None:
    """The default sink: the library never prints."""
