"""A launched cluster's instances, read from the stack's ``instances`` output."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.instance import Instance


class OutputError(HeatdeployError, ValueError):
    """The stack's outputs do not describe instances as heatdeploy renders them."""


def _host_key(data: Any, server_id: str) -> str | None:
    """The host key this server reported through its wait condition, if it can be told apart.

    ``data`` is a JSON object of signal id to reported value; an instance
    signals under its server's id. A signal without that id (an image whose
    boot does not know its id) is used only when it is the one key reported:
    two different keys and no id to tell them apart pin nothing.
    """
    if not data:
        return None
    values = json.loads(data) if isinstance(data, str) else data
    if not isinstance(values, dict):
        return None
    if values.get(server_id):
        return str(values[server_id]).strip()
    reported = {str(v).strip() for v in values.values() if v}
    return reported.pop() if len(reported) == 1 else None


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
                floating_ip=item.get("floating_ip") or None,
                host_key=_host_key(item.get("host_key"), str(item["id"])),
                proxy_gateway=bool(item.get("proxy_gateway"))))
        except (KeyError, TypeError, ValueError) as exc:
            raise OutputError(f"unexpected instance output {item!r}: {exc}") from None
    return sorted(instances, key=lambda i: (i.group, i.index))
