"""A launched cluster's instances, read from the stack's ``instances`` output."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.instance import Instance


class OutputError(HeatdeployError, ValueError):
    """The stack's outputs do not describe instances as heatdeploy renders them."""


def _host_key(data: Any) -> str | None:
    """The wait condition's ``data``: a JSON object of signal id to reported value."""
    if not data:
        return None
    values = json.loads(data) if isinstance(data, str) else data
    if not isinstance(values, dict):
        return None
    # A replaced server signals the same wait condition again: the latest signal wins.
    reported = [v for _, v in sorted(values.items(), key=lambda kv: _signal_order(kv[0])) if v]
    return str(reported[-1]).strip() if reported else None


def _signal_order(key: str) -> tuple[int, str]:
    return (int(key), key) if str(key).isdigit() else (0, str(key))


def from_output(value: Iterable[Mapping[str, Any]] | None) -> list[Instance]:
    """Instances from the stack's ``instances`` output, sorted by group and index."""
    instances = []
    for item in value or ():
        if not isinstance(item, Mapping) or not item.get("name"):
            continue  # a member still being created has no attributes yet
        try:
            instances.append(Instance(
                name=item["name"], id=item["id"], group=item["group"],
                processes=tuple(item["processes"]), fixed_ip=item["fixed_ip"],
                floating_ip=item.get("floating_ip") or None, host_key=_host_key(item.get("host_key")),
                proxy_gateway=bool(item.get("proxy_gateway"))))
        except (KeyError, TypeError, ValueError) as exc:
            raise OutputError(f"unexpected instance output {item!r}: {exc}") from None
    return sorted(instances, key=lambda i: (i.group, i.index))
