"""Waiting for a service, and for every member of a cluster to join it: what every framework's steps do."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from heatdeploy.plugin.health import Health
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Remote
from heatdeploy.plugin.steps import DeadlineExceeded, StepContext


def by_address(instance: Instance) -> str:
    """How most frameworks name a member: by its fixed address."""
    return instance.fixed_ip


def http_json(remote: Remote, port: int, path: str) -> dict[str, Any]:
    """``GET path`` on ``port`` of ``remote``'s instance, as a JSON object; ``{}`` unless it answered 200 with one.

    A service still starting may answer before its status page works, so an
    odd answer reads as "nothing yet" rather than an error. Connection
    errors (:class:`RemoteError`) are raised.
    """
    status, body = remote.http("GET", port, path)
    try:
        value = json.loads(body) if status == 200 else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def wait_for_http(ctx: StepContext, remote: Remote, port: int, path: str, timeout: float, *,
                  what: str = "", ready: Callable[[int, bytes], bool] = lambda status, body: status == 200,
                  probe: Callable[[], None] | None = None) -> bytes:
    """Poll ``GET path`` on ``port`` of ``remote``'s instance (through its SSH connection) until
    ``ready(status, body)``; return the body that was ready.

    ``probe`` runs before each request: pass a daemon's ``check`` so that a
    service that died fails at once. Raises :class:`DeadlineExceeded` after
    ``timeout`` seconds, naming ``what`` (default: the URL).
    """
    answer: list[bytes] = []

    def answered() -> bool:
        if probe is not None:
            probe()
        status, body = remote.http("GET", port, path)
        answer[:] = [body]
        return ready(status, body)

    ctx.wait_until(what or f"http://{remote.instance.fixed_ip}:{port}{path} to answer", answered, timeout)
    return answer[0]


def wait_for_members(ctx: StepContext, what: str, members: Callable[[], Iterable[str]],
                     expected: Sequence[Instance], timeout: float, *,
                     name: Callable[[Instance], str] = by_address, hint: str = "") -> None:
    """Poll ``members()`` (the names a service reports, such as a master's list of workers) until
    it holds exactly ``expected``, each named by ``name(instance)`` (default: its fixed address).

    After ``timeout`` seconds, :class:`DeadlineExceeded` names the instances
    still missing, followed by ``hint`` (say, which ports must be open).
    """
    wanted = {name(i) for i in expected}
    seen: set[str] = set()

    def complete() -> bool:
        seen.clear()
        seen.update(members())
        return seen == wanted

    try:
        ctx.wait_until(what, complete, timeout)
    except DeadlineExceeded:
        missing = [i.name for i in expected if name(i) not in seen]
        if not missing:  # all in, with extra ones that never left
            raise
        raise DeadlineExceeded(f"{what}: still missing {', '.join(missing)} after {timeout:.0f} s"
                               + (f"; {hint}" if hint else "")) from None


def members_health(seen: Iterable[str], expected: Sequence[Instance], noun: str, *,
                   name: Callable[[Instance], str] = by_address) -> Health:
    """Green when every expected member is ``seen``, yellow when some are, red when none is.

    The message counts them (``"2 of 3 workers alive; missing 10.0.0.7"``),
    ``noun`` saying what a member is.
    """
    wanted = {name(i) for i in expected}
    present = wanted & set(seen)
    if not present:
        return Health("red", f"no {noun}")
    missing = sorted(wanted - present)
    summary = f"{len(present)} of {len(wanted)} {noun}"
    return Health("yellow", f"{summary}; missing {', '.join(missing)}") if missing else Health("green", summary)
