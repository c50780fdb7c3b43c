"""One server of a launched cluster, as steps, health checks and job engines see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Instance:
    """One server of the cluster."""

    name: str
    id: str
    group: str
    processes: tuple[str, ...]
    fixed_ip: str
    floating_ip: str | None
    host_key: str | None
    """``"ssh-ed25519 AAAA..."``: the key the instance reported at boot, which heatdeploy pins."""
    proxy_gateway: bool = False

    @property
    def index(self) -> int:
        """The member index within the node group (the ``%index%`` of its name)."""
        return int(self.name.rsplit("-", 1)[1])

    def runs(self, process: str) -> bool:
        return process in self.processes

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "group": self.group, "processes": list(self.processes),
                "fixed_ip": self.fixed_ip, "floating_ip": self.floating_ip, "host_key": self.host_key,
                "proxy_gateway": self.proxy_gateway}
