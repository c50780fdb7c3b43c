"""The local cloud's networks: a routed port per instance, floating IPs by NAT, security groups by nftables.

Each local cloud (state dir) claims a subnet pair of the loopback range, so
that nothing leaves the machine: fixed addresses in 127.N.0.0/16, floating
ones in 127.(N+1).0.0/16, N even from 42. The host holds 127.N.0.1, the
gateway: the cloud's services listen there, so instances reach them as they
reach public endpoints on a real cloud.

A port is a veth pair: ``eth<i>`` inside the instance's network namespace
with the port's address, ``hd<N><port id>`` on the host with a /32 route to
it. Routed rather than bridged, every packet to an instance crosses the
host's IP layer, where one nftables table (``ip hd<N>``) does what Neutron
does on a hypervisor:

- floating IPs: DNAT of the floating address to the fixed one (from the
  controller and from instances), SNAT to the gateway of what comes from
  outside the subnet;
- fixed addresses are not reachable from the controller, except on network
  ``provider`` (a documented option for tests of the fixed-address path),
  so the floating-IP and proxy paths are the real ones;
- security groups: each port has a chain of its groups' ingress rules (IPv4;
  remote prefixes and remote groups, the latter as sets of member
  addresses), stateful, default deny. Egress is not filtered.

The table is rendered whole from the registry and replaced in one nftables
transaction after every change (``sync``), so it never drifts from the
records. Only values parsed here (addresses, networks, integers) and names
made from hex ids reach the ruleset: a name from a template never does.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatdeploy.local import registry
from heatdeploy.local.state import State

FIRST_OCTET, LAST_OCTET = 42, 98
CLAIMS = Path("/run/heatdeploy-local/networks")
REACHABLE_NETWORK = "provider"
"""Fixed addresses on this network are reachable from the controller; on ``private`` they are not."""
_TIMEOUT = 30


class NetworkError(Exception):
    """A network set-up command failed."""


# -- the subnet pair of a cloud ---------------------------------------------------------------------------------


def claim(state: State) -> int:
    """The cloud's second octet, chosen once (the first free even one from 42) and recorded in its state."""
    CLAIMS.mkdir(parents=True, exist_ok=True)
    with (CLAIMS / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two `up` at once must not take the same octet
        octet = _claim(state)
        state.network = octet
        state.save()
        return octet


def _claim(state: State) -> int:
    wanted = [state.network] if state.network else range(FIRST_OCTET, LAST_OCTET + 1, 2)
    for octet in wanted:
        path = CLAIMS / str(octet)
        try:
            with path.open("x") as f:
                f.write(str(state.root))
            return octet
        except FileExistsError:
            holder = path.read_text()
            if holder == str(state.root) or not _claims(Path(holder), octet):
                path.write_text(str(state.root))
                return octet
    raise NetworkError(f"no free local network in 127.{FIRST_OCTET}-{LAST_OCTET}.0.0: other local clouds hold them")


def _claims(root: Path, octet: int) -> bool:
    """Whether the cloud in ``root`` still holds ``octet`` (its state dir exists and names it)."""
    return root.is_absolute() and (root / "state.json").exists() and State.load(root).network == octet


def release(state: State) -> None:
    path = CLAIMS / str(state.network)
    with contextlib.suppress(FileNotFoundError):
        if path.read_text() == str(state.root):
            path.unlink()


def fixed_subnet(octet: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"127.{octet}.0.0/16")


def floating_subnet(octet: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"127.{octet + 1}.0.0/16")


def gateway(octet: int) -> str:
    return f"127.{octet}.0.1"


def interface(octet: int, port_id: str) -> str:
    """The host end of a port's veth (15 characters at most, as Linux wants)."""
    return f"hd{octet}{port_id.replace('-', '')[:9]}"


# -- ports --------------------------------------------------------------------------------------------------------


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT)
    if done.returncode != 0:
        raise NetworkError(f"{argv[0]} failed: {done.stderr.strip() or done.returncode}")


# Inside the instance: $1 = gateway, $2 = fixed subnet, $3 = floating subnet, then address per eth<i>.
_GUEST = r"""
set -e
gw=$1 fixed=$2 floating=$3; shift 3
ip link set lo up
sysctl -qw net.ipv4.conf.all.route_localnet=1
i=0
for address in "$@"; do
  sysctl -qw "net.ipv4.conf.eth$i.route_localnet=1"
  # Scope global: a 127/8 address gets scope host by default, and is then never chosen as a source.
  ip addr add "$address/32" dev "eth$i" scope global
  ip link set "eth$i" up
  if [ "$i" -eq 0 ]; then
    ip route add "$gw/32" dev eth0 scope link src "$address"
    ip route add "$fixed" via "$gw" dev eth0 onlink src "$address"
    ip route add "$floating" via "$gw" dev eth0 onlink src "$address"
  fi
  i=$((i + 1))
done
"""


def plumb(octet: int, pid: int, ports: list[dict[str, Any]]) -> None:
    """Give the instance whose network namespace is ``pid``'s its ports, eth0 first."""
    gw = gateway(octet)
    for index, port in enumerate(ports):
        host_end = interface(octet, port["id"])
        if os.path.exists(f"/sys/class/net/{host_end}"):
            # The namespace of an instance just stopped (a replacement reusing the port) may linger.
            subprocess.run(["ip", "link", "del", host_end], capture_output=True, timeout=_TIMEOUT)
        _run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", f"eth{index}", "netns", str(pid)])
        _sysctl(host_end, route_localnet=1, forwarding=1)
        _run(["ip", "link", "set", host_end, "up"])
        _run(["ip", "route", "replace", f"{port['address']}/32", "dev", host_end, "src", gw])
    _run(["nsenter", f"--target={pid}", "--net", "--", "/bin/sh", "-c", _GUEST, "sh", gw,
          str(fixed_subnet(octet)), str(floating_subnet(octet)), *[p["address"] for p in ports]])


def _sysctl(device: str, **settings: int) -> None:
    # Through /proc rather than the sysctl command: one process less per setting.
    for name, value in settings.items():
        Path(f"/proc/sys/net/ipv4/conf/{device}/{name}").write_text(f"{value}\n")


def listening(pid: int, port: int = 22) -> bool:
    """Whether something in ``pid``'s network namespace listens on TCP ``port`` (read from its /proc)."""
    wanted = f":{port:04X}"
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            return False
        if any(f[1].endswith(wanted) and f[3] == "0A" for f in (line.split() for line in lines)):
            return True
    return False


# -- the nftables table -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Port:
    id: str
    address: ipaddress.IPv4Address
    network: str
    groups: tuple[str, ...]


def _group_ref(rule: dict[str, Any], group_id: str) -> str:
    """The group a remote-group rule names: another group's id, or its own group when it names none."""
    return str(rule.get("remote_group_id") or group_id).lower()


def _name(kind: str, object_id: str) -> str:
    """An nftables identifier from a registry id (a UUID): its hex digits only; Neutron's ``default`` by name."""
    if object_id == "default":
        return f"{kind}_default"
    return f"{kind}_{''.join(c for c in object_id if c in '0123456789abcdef')[:32]}"


def _ports(octet: int) -> list[_Port]:
    subnet = fixed_subnet(octet)
    found = []
    for record in registry.all_of("ports"):
        try:
            address = ipaddress.IPv4Address(record.get("address", ""))
        except ValueError:
            continue
        if address in subnet:
            found.append(_Port(record["id"], address, str(record.get("network")),
                               tuple(record.get("security_groups") or ())))
    return found


def _prefix(value: Any) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.ip_network(str(value or "0.0.0.0/0"), strict=False)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None


_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}


def _rule(rule: dict[str, Any], group_id: str) -> str | None:
    """One security group rule as an nftables rule; ``None`` for what it does not filter (egress, IPv6)."""
    if rule.get("direction", "ingress") != "ingress" or rule.get("ethertype", "IPv4") != "IPv4":
        return None
    if rule.get("remote_mode") == "remote_group_id":
        source = f"ip saddr @{_name('sg', _group_ref(rule, group_id))} "
    else:
        prefix = _prefix(rule.get("remote_ip_prefix"))
        if prefix is None:
            return None
        source = "" if prefix.prefixlen == 0 else f"ip saddr {prefix} "
    protocol = rule.get("protocol")
    if protocol in (None, "", "any"):
        return f"{source}accept"
    name = _PROTOCOLS.get(str(protocol).lower())
    if name is None:
        return None
    if name == "icmp":
        return f"{source}meta l4proto icmp accept"
    ports = _port_range(rule.get("port_range_min"), rule.get("port_range_max"))
    if ports is None:
        return None
    return f"{source}{name} dport {ports} accept" if ports else f"{source}meta l4proto {name} accept"


def _port_range(low: Any, high: Any) -> str | None:
    """``"22"``, ``"8000-8100"``, ``""`` for every port, or ``None`` for a range no port fits (never filtered
    in: a rule Neutron would refuse must not break the table for every other port)."""
    if low is None and high is None:
        return ""
    try:
        first = int(low if low is not None else 0)
        last = int(high if high is not None else first)
    except (TypeError, ValueError):
        return None
    if not 0 <= first <= last <= 65535:
        return None
    return str(first) if first == last else f"{first}-{last}"


def _groups() -> dict[str, list[dict[str, Any]]]:
    """Rules by security group id, with Neutron's ``default`` group: all ingress from its own members."""
    groups = {"default": [{"remote_mode": "remote_group_id", "remote_group_id": "default"}]}
    for record in registry.all_of("security_groups"):
        groups[record["id"]] = list(record.get("rules") or [])
    return groups


def ruleset(octet: int) -> str:
    """The cloud's whole nftables table, from the registry."""
    ports, groups = _ports(octet), _groups()
    subnet, gw, table = fixed_subnet(octet), gateway(octet), f"hd{octet}"
    members: dict[str, list[str]] = {g: [] for g in groups}
    # A rule may name a group that is gone (deleted with another stack): its set is empty, not undeclared.
    for group_id, rules in groups.items():
        for rule in rules:
            if rule.get("remote_mode") == "remote_group_id":
                members.setdefault(_group_ref(rule, group_id), [])
    for port in ports:
        for group in port.groups:
            members.setdefault(group.lower(), []).append(str(port.address))
    floating = {}
    addresses = {p.id: str(p.address) for p in ports}
    for fip in registry.all_of("floating_ips"):
        if fip.get("port_id") in addresses:
            floating[str(ipaddress.IPv4Address(fip["address"]))] = addresses[fip["port_id"]]
    lines = [f"table ip {table} {{"]
    lines += _map("floating", "ipv4_addr : ipv4_addr", [f"{k} : {v}" for k, v in sorted(floating.items())])
    reachable = [str(p.address) for p in ports if p.network == REACHABLE_NETWORK]
    lines += _map("reachable", "ipv4_addr", reachable, kind="set")
    declared: dict[str, set[str]] = {}
    for group, addresses_in in members.items():
        declared.setdefault(_name("sg", group), set()).update(addresses_in)
    for set_name, in_set in sorted(declared.items()):
        lines += _map(set_name, "ipv4_addr", sorted(in_set), kind="set")
    for port in ports:
        lines.append(f"  chain {_name('port', port.id)} {{")
        for group in port.groups:
            for rule in groups.get(group, []):
                text = _rule(rule, group)
                if text is not None:
                    lines.append(f"    {text}")
        lines += ["    counter drop", "  }"]
    lines += _map("ports", "ifname : verdict",
                  [f'"{interface(octet, p.id)}" : jump {_name("port", p.id)}' for p in ports])
    ours = f'"hd{octet}*"'
    floating_net = floating_subnet(octet)
    lines += [
        "  chain nat_output {", "    type nat hook output priority -100; policy accept;",
        "    dnat to ip daddr map @floating", "  }",
        "  chain nat_prerouting {", "    type nat hook prerouting priority -100; policy accept;",
        "    dnat to ip daddr map @floating", "  }",
        "  chain nat_postrouting {", "    type nat hook postrouting priority 100; policy accept;",
        f"    oifname {ours} ip saddr != {subnet} snat to {gw}",
        # Instance to a floating IP (its own or another's): from the router, as Neutron's SNAT does it.
        f"    oifname {ours} ct status dnat snat to {gw}", "  }",
        # 127/8 is the host's: an address of the subnets with nobody behind it, or any host address
        # an instance tries besides the gateway, would reach the host's own services.
        "  chain host {", "    type filter hook input priority 0; policy accept;",
        "    ct state established,related accept", f"    iifname {ours} ip daddr != {gw} reject", "  }",
        "  chain unassigned {", "    type filter hook output priority 10; policy accept;",
        "    ct status dnat accept",  # a floating IP with a port behind it (the route is still lo's here)
        f"    oifname \"lo\" ip daddr {{ {subnet}, {floating_net} }} ip daddr != {gw} reject", "  }",
        # The controller reaches instances through floating IPs, or fixed addresses on `provider` only.
        "  chain controller {", "    type filter hook output priority 0; policy accept;",
        f"    oifname != {ours} accept", "    ct state established,related accept", "    ct status dnat accept",
        "    ip daddr @reachable accept", "    reject with icmp type host-unreachable", "  }",
        "  chain ingress {", "    type filter hook postrouting priority 110; policy accept;",
        f"    oifname != {ours} accept", "    ct state established,related accept",
        "    oifname vmap @ports", "    counter drop", "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _map(name: str, kind_type: str, elements: Iterable[str], kind: str = "map") -> list[str]:
    listed = list(elements)
    body = [f"  {kind} {name} {{", f"    type {kind_type}"]
    if listed:
        body.append(f"    elements = {{ {', '.join(listed)} }}")
    return body + ["  }"]


@contextlib.contextmanager
def _serialized() -> Iterator[None]:
    """One writer at a time, across Heat's engine threads and the CLI."""
    path = registry.root() / "network.lock"
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def sync(octet: int) -> None:
    """Replace the cloud's table with one rendered from the registry, in one transaction."""
    with _serialized():
        table = f"hd{octet}"
        # `add table` first so that the delete never fails on a first sync.
        _run(["nft", "-f", "-"], f"add table ip {table}\ndelete table ip {table}\n{ruleset(octet)}")


def remove(octet: int) -> None:
    """Delete the cloud's table (``down``); its veths went with the instances' namespaces."""
    with contextlib.suppress(NetworkError, OSError, subprocess.TimeoutExpired):
        _run(["nft", "delete", "table", "ip", f"hd{octet}"])


def table_exists(octet: int) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", f"hd{octet}"], capture_output=True,
                          timeout=_TIMEOUT).returncode == 0


def interfaces(octet: int) -> list[str]:
    """Host ends of this cloud's ports that exist now."""
    prefix = f"hd{octet}"
    return sorted(name for name in os.listdir("/sys/class/net") if name.startswith(prefix))
