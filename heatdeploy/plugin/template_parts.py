"""Pieces that plugins add to a cluster's Heat template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class SecurityRule:
    """An ingress rule for a node group's automatic security group.

    ``remote_ip_prefix`` defaults to everywhere (``0.0.0.0/0``): narrow it
    where the service should not be public (the framework's own ports are
    opened to the spec's ``access_cidrs`` only). An IPv6 prefix makes an
    IPv6 rule.
    """

    protocol: Literal["tcp", "udp", "icmp"]
    port_min: int | None = None
    port_max: int | None = None
    remote_ip_prefix: str = "0.0.0.0/0"

    def to_hot(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "direction": "ingress",
            "protocol": self.protocol,
            "remote_ip_prefix": self.remote_ip_prefix,
        }
        if ":" in self.remote_ip_prefix:
            # Neutron assumes IPv4 and refuses an IPv6 prefix on an IPv4 rule; it reads "icmp" as ICMPv6 here.
            rule["ethertype"] = "IPv6"
        if self.port_min is not None:
            rule["port_range_min"] = self.port_min
            rule["port_range_max"] = self.port_max if self.port_max is not None else self.port_min
        return rule


@dataclass(frozen=True)
class File:
    """A file written on every instance of a node group at first boot."""

    path: str
    content: str
    permissions: str = "0644"


@dataclass(frozen=True)
class UserDataPart:
    """Files to write and commands to run at first boot, before the instance reports in.

    A command is either an argument list (run without a shell: prefer this)
    or a string run by ``sh -c``.
    """

    files: tuple[File, ...] = ()
    commands: tuple[tuple[str, ...] | str, ...] = ()


@dataclass(frozen=True)
class TemplatePart:
    """Parameters, resources and outputs added to the cluster's main template.

    Each is a mapping from name to its HOT definition, as plain data; names
    must not clash with heatdeploy's own or another plugin's.
    """

    parameters: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
