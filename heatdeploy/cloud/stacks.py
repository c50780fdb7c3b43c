"""Heat stacks: create, update, delete, preview, and waiting on them.

Waiting streams Heat's events from a marker saved before the action
(heatclient's own poller), so a status left over from an earlier action is
never mistaken for the new one, and gives up at a deadline.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from heatclient import client as heat_client
from heatclient import exc as heat_exc
from heatclient.common import event_utils
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from heatdeploy.cloud.outputs import from_output
from heatdeploy.errors import HeatdeployError, blame
from heatdeploy.plugin.instance import Instance
from heatdeploy.render.renderer import Rendered

TAG = "heatdeploy"
NESTED_DEPTH = 3  # cluster -> resource group -> instance -> server


class HotLoader(yaml.SafeLoader):
    """Reads HOT as Heat does: dates such as heat_template_version stay strings."""


def _plain_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


HotLoader.add_constructor("tag:yaml.org,2002:timestamp", _plain_string)


class StackError(HeatdeployError):
    """A stack action failed or did not finish in time; lists the failed resources."""

    def __init__(self, message: str, failures: list[tuple[str, str]] | None = None) -> None:
        self.failures = failures or []
        details = "".join(f"\n  {name}: {reason}" for name, reason in self.failures)
        super().__init__(message + details)


@dataclass(frozen=True)
class StackInfo:
    id: str
    name: str
    status: str
    reason: str
    tags: tuple[str, ...]
    updated: str | None


class _HeatCalls:
    """A heatclient object whose calls check a deadline first and blame Heat for its unreachable endpoint.

    keystoneauth raises the same connection errors for Keystone and Heat; an
    error naming Heat's own endpoint is Heat's (a Heat engine that is down).
    """

    def __init__(self, target: Any, endpoint: Callable[[], str | None], deadline: float = math.inf,
                 before_call: Callable[[], None] = lambda: None) -> None:
        self._target, self._endpoint, self._deadline, self._before_call = target, endpoint, deadline, before_call

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name in ("stacks", "events", "resources"):
            return _HeatCalls(attr, self._endpoint, self._deadline, self._before_call)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if time.monotonic() > self._deadline:
                raise TimeoutError
            self._before_call()
            try:
                return attr(*args, **kwargs)
            except ks_exc.ConnectionError as exc:
                endpoint = self._endpoint()
                if endpoint and urllib.parse.urlsplit(endpoint).netloc in str(exc):
                    blame(exc, "Heat")
                raise
        return call


class _Lines:
    """A text sink handing heatclient's event log to a callback, a line at a time."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink

    def write(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                self._sink(line.strip())


@dataclass(frozen=True)
class Stall:
    """A stack operation Heat has shown nothing new of for a while."""

    stack: str
    action: str
    silent_for: float
    """Seconds since the last event (or since the wait began)."""
    last_event: str
    """Heat's last event line, ``""`` if none came during the wait."""
    time_left: float
    """Seconds until the wait gives up."""


class _StallWatch:
    """Notices when no event has come for ``after`` seconds; says so once per silence."""

    def __init__(self, stack: str, action: str, after: float, deadline: float,
                 on_stall: Callable[[Stall], None]) -> None:
        self._stack, self._action, self._after, self._deadline = stack, action, after, deadline
        self._on_stall = on_stall
        self._since, self._last, self._told = time.monotonic(), "", False

    def event(self, line: str) -> None:
        self._since, self._last, self._told = time.monotonic(), line, False

    def check(self) -> None:
        now = time.monotonic()
        if not self._told and now - self._since >= self._after:
            self._told = True
            self._on_stall(Stall(self._stack, self._action, now - self._since, self._last, self._deadline - now))


class Stacks:
    """The orchestration service of one project, through one session."""

    def __init__(self, session: ks_session.Session, region: str | None = None, poll_period: float = 1.0) -> None:
        self._client = heat_client.Client("1", session=session, region_name=region)
        self.client: Any = _HeatCalls(self._client, self._heat_endpoint)
        self.poll_period = poll_period

    def _heat_endpoint(self) -> str | None:
        """Heat's URL from the token already held, or ``None`` (asking Keystone again could hang again)."""
        adapter = self._client.http_client
        access = getattr(adapter.auth or adapter.session.auth, "auth_ref", None)
        if access is None:
            return None
        try:
            return str(access.service_catalog.url_for(service_type="orchestration",
                                                      interface=adapter.interface or "public",
                                                      region_name=adapter.region_name))
        except Exception:  # noqa: BLE001 - no token or no catalog: then it is not Heat's endpoint we know
            return None

    def find(self, name: str) -> StackInfo | None:
        try:
            stack = self.client.stacks.get(name, resolve_outputs=False)
        except heat_exc.HTTPNotFound:
            return None
        if stack.stack_status == "DELETE_COMPLETE":
            return None
        return StackInfo(stack.id, stack.stack_name, stack.stack_status, stack.stack_status_reason or "",
                         tuple(getattr(stack, "tags", None) or ()), getattr(stack, "updated_time", None))

    def all(self) -> list[StackInfo]:
        found = self.client.stacks.list(tags=TAG)
        return [StackInfo(s.id, s.stack_name, s.stack_status, s.stack_status_reason or "",
                          tuple(getattr(s, "tags", None) or ()), getattr(s, "updated_time", None)) for s in found]

    def create(self, name: str, rendered: Rendered, parameters: dict[str, str], tags: list[str],
               timeout_minutes: int) -> str:
        body = self._fields(rendered, parameters, timeout_minutes)
        created = self.client.stacks.create(stack_name=name, tags=",".join([TAG, *tags]), **body)
        return str(created["stack"]["id"])

    def update(self, stack_id: str, rendered: Rendered, parameters: dict[str, str], tags: list[str],
               timeout_minutes: int) -> None:
        body = self._fields(rendered, parameters, timeout_minutes)
        self.client.stacks.update(stack_id, tags=",".join([TAG, *tags]), **body)

    def delete(self, stack_id: str) -> None:
        try:
            self.client.stacks.delete(stack_id)
        except heat_exc.HTTPNotFound:
            pass
        except heat_exc.HTTPException as exc:  # a stack stuck in an action may refuse another
            raise StackError(f"Heat refused to delete stack {stack_id}: {exc}") from None

    @staticmethod
    def _fields(rendered: Rendered, parameters: dict[str, str], timeout_minutes: int) -> dict[str, Any]:
        return {"template": rendered.template, "files": dict(rendered.files),
                "environment": rendered.environment, "parameters": parameters,
                "timeout_mins": timeout_minutes, "disable_rollback": True}

    def last_event_id(self, name: str) -> str | None:
        """The marker to stream the next action's events from."""
        events = event_utils.get_events(self.client, stack_id=name, nested_depth=0,
                                        event_args={"sort_dir": "desc", "limit": 1})
        return getattr(events[0], "id", None) if events else None

    def wait(self, name: str, action: str, marker: str | None, timeout: float,
             on_event: Callable[[str], None] = lambda line: None, *, stall_after: float = math.inf,
             on_stall: Callable[[Stall], None] = lambda stall: None) -> str:
        """Stream events until ``action`` completes or fails; raise :class:`StackError` on failure.

        When no event comes for ``stall_after`` seconds, ``on_stall`` hears of
        it once (again after each later event): the wait itself goes on.
        """
        deadline = time.monotonic() + timeout
        watch = _StallWatch(name, action, stall_after, deadline, on_stall)

        def event(line: str) -> None:
            watch.event(line)
            on_event(line)
        client = _HeatCalls(self._client, self._heat_endpoint, deadline, watch.check)
        try:
            status, _ = event_utils.poll_for_events(client, name, action=action, poll_period=self.poll_period,
                                                    marker=marker, out=_Lines(event), nested_depth=NESTED_DEPTH)
        except TimeoutError:
            raise StackError(f"stack {name} did not finish {action} within {timeout:.0f} s") from None
        except (heat_exc.HTTPNotFound, heat_exc.CommandError):
            # heatclient reports a stack that disappeared while polling either way.
            if action == "DELETE":
                return "DELETE_COMPLETE"
            raise
        if status != f"{action}_COMPLETE":
            info = self.find(name)
            reason = info.reason if info else ""
            raise StackError(f"stack {name} {status}: {reason}".rstrip(": "), self.failures(name))
        return status

    def failures(self, name: str) -> list[tuple[str, str]]:
        """Failed resources, innermost first, like ``openstack stack failures list``."""
        try:
            resources = self.client.resources.list(name, nested_depth=NESTED_DEPTH)
        except heat_exc.HTTPNotFound:
            return []
        failed = [r for r in resources if r.resource_status.endswith("_FAILED")]
        failed.sort(key=lambda r: -len(getattr(r, "parent_resource", None) or ""))
        return [(_resource_path(r), r.resource_status_reason or r.resource_status) for r in failed]

    def instances(self, name: str) -> list[Instance]:
        try:
            output = self.client.stacks.output_show(name, "instances")["output"]
        except heat_exc.HTTPNotFound:
            return []
        if output.get("output_error"):
            raise StackError(f"stack {name} has no instance list: {output['output_error']}")
        return from_output(output.get("output_value"))

    def preview_create(self, name: str, rendered: Rendered, parameters: dict[str, str]) -> list[str]:
        preview = self.client.stacks.preview(stack_name=name, template=rendered.template,
                                             files=dict(rendered.files), environment=rendered.environment,
                                             parameters=parameters)
        return sorted(_flatten_preview(getattr(preview, "resources", [])))

    def matches(self, stack_id: str, rendered: Rendered) -> bool:
        """Whether the stack was created or last updated from exactly ``rendered``."""
        template = yaml.load(rendered.template, Loader=HotLoader)
        return (self.client.stacks.template(stack_id) == template
                and self.client.stacks.files(stack_id) == dict(rendered.files))

    def preview_update(self, stack_id: str, rendered: Rendered, parameters: dict[str, str]) -> dict[str, list[str]]:
        """Heat's top-level view of an update.

        Not nested: inside instances Heat cannot resolve attributes before the
        update runs, so it reports every server as replaced when none is.
        """
        changes = self.client.stacks.preview_update(
            stack_id, **self._fields(rendered, parameters, 60))["resource_changes"]
        return {kind: sorted(_change_name(c) for c in changes.get(kind, []))
                for kind in ("added", "updated", "replaced", "deleted", "unchanged")}


def _resource_path(resource: Any) -> str:
    parent = getattr(resource, "parent_resource", None)
    stack = getattr(resource, "stack_name", "")
    return f"{stack}/{resource.resource_name}" if parent else resource.resource_name


def _change_name(change: dict[str, Any]) -> str:
    """``name (type)``, prefixed with its nested stack (``cluster-worker-0/server``) below the top."""
    name = f"{change.get('resource_name')} ({change.get('resource_type')})"
    if change.get("parent_resource") and change.get("stack_name"):
        return f"{change['stack_name']}/{name}"
    return name


def _flatten_preview(resources: list[Any]) -> list[str]:
    names: list[str] = []
    for item in resources:
        if isinstance(item, list):
            names.extend(_flatten_preview(item))
        elif isinstance(item, dict):
            names.append(_change_name(item))
    return names
