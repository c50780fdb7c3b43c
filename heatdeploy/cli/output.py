"""How the command line shows progress and results: for people, or as JSON lines for CI."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from heatdeploy.events import Event

if TYPE_CHECKING:
    from heatdeploy.cli.views import View


class Progress:
    """Prints events: readable lines on stderr, or one JSON object per line on stdout.

    In a terminal, per-instance progress of a step updates one line in place.
    With ``view``, formats ``table``, ``yaml`` and ``value`` print the result
    as that resource (only the ``columns`` named, when any), events as text.
    """

    def __init__(self, fmt: str, out: TextIO | None = None, err: TextIO | None = None, *,
                 view: View | None = None, columns: Sequence[str] = ()) -> None:
        self.format = fmt
        self.json = fmt == "json"
        self.view = view
        self.columns = columns
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live = not self.json and self.err.isatty()
        self._open_line = False

    def __call__(self, event: Event) -> None:
        if self.json:
            self.emit({"event": event.kind, **{k: v for k, v in event.to_dict().items() if k != "kind"}})
            return
        text = _describe(event)
        if text is None:
            return
        if self.live and event.kind == "instance_done":
            self.err.write(f"\r  {text}\033[K")
            self._open_line = True
        else:
            self._line(text)
        self.err.flush()

    def _line(self, text: str) -> None:
        if self._open_line:
            self.err.write("\n")
            self._open_line = False
        self.err.write(text + "\n")

    def emit(self, data: dict[str, Any]) -> None:
        """Write one JSON line (JSON mode)."""
        self.out.write(json.dumps(data, sort_keys=True) + "\n")
        self.out.flush()

    def result(self, data: dict[str, Any], text: str) -> None:
        """The operation's final result: a JSON object, or text on stdout."""
        if self.json:
            self.emit({"event": "result", **data})
            return
        if self._open_line:
            self.err.write("\n")
            self._open_line = False
        if self.view is not None and self.format != "text":
            from heatdeploy.cli.formats import render

            render(self.view, data, self.format, self.columns, self.out)
        else:
            self.out.write(text.rstrip("\n") + "\n")

    def error(self, message: str, status: int) -> None:
        if self.json:
            self.emit({"event": "error", "message": message, "exit_status": status})
        else:
            self._line(f"heatdeploy: error: {message}")


def _describe(event: Event) -> str | None:
    if event.kind == "phase":
        return f"==> {event.message}"
    if event.kind == "stack":
        return f"    {event.message}"
    if event.kind == "step_started":
        return f"--> {event.step} on {event.total} instance(s)" + (f": {event.message}" if event.message else "")
    if event.kind == "instance_done":
        return f"{event.step}: {event.done}/{event.total} done ({event.instance})"
    if event.kind == "instance_failed":
        tail = "\n".join("      " + line for line in event.output.splitlines()[-15:])
        return f"  ! {event.step} failed on {event.message}" + (f"\n{tail}" if tail else "")
    if event.kind == "step_skipped":
        return f"--> {event.step}: skipped ({event.message})"
    if event.kind in ("warning", "stack_stalled"):
        return f"warning: {event.message}"
    return None


def summary_text(summary: dict[str, Any]) -> str:
    """A cluster summary for people."""
    lines = [f"cluster {summary['name']}: {summary['state']} ({summary['plugin']} {summary['version']}, "
             f"stack {summary['stack_status'] or 'missing'})"]
    for instance in summary["instances"]:
        address = instance["fixed_ip"] + (f", floating {instance['floating_ip']}" if instance["floating_ip"] else "")
        lines.append(f"  {instance['name']:<32} {address:<30} {','.join(instance['processes'])}")
    for name, value in sorted(summary["endpoints"].items()):
        lines.append(f"  {name}: {value}")
    health = summary.get("health")
    if health:
        lines.append(f"  health: {health['status']}")
        for check, result in sorted(health["checks"].items()):
            lines.append(f"    {check}: {result['status']}: {result['message']}")
    return "\n".join(lines)
