"""Heat resource types of the local cloud (loaded by heat-engine from plugin_dirs).

The environment written by `heatdeploy local up` maps the OpenStack types of
the rendered templates onto these, so the same template runs here and on a
real cloud. Properties with no local meaning are accepted and recorded.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from typing import Any

from heat.common import exception
from heat.engine import attributes, constraints, properties, resource

from heatdeploy.local import cloudconfig, instances, network, processes, registry, volumes

S = properties.Schema
A = attributes.Schema
# Associating floating IPs touches a port, a server and a floating IP record;
# nested stacks run in parallel engine threads, so one lock keeps it consistent.
LOG = logging.getLogger(__name__)
_ASSOCIATION = threading.Lock()
_INLINE_WAIT = 1.0  # seconds a check_*_complete may wait for a local process


def _fail(message: str) -> exception.Error:
    return exception.Error(message)


def _sync_network(deleting: bool = False) -> None:
    """Bring the cloud's nftables table (NAT, security groups) in line with the records just changed.

    A delete must always go through (the next sync catches up), or one bad
    table would leave stacks that can never be deleted.
    """
    try:
        network.sync(registry.octet())
    except (network.NetworkError, subprocess.TimeoutExpired) as exc:
        if not deleting:
            raise _fail(f"Network set-up failed: {exc}") from None
        LOG.warning("network sync after a delete failed: %s", exc)


class _Local(resource.Resource):
    """Common behaviour: a JSON record in the registry named by resource_id."""

    kind = ""

    def record(self) -> dict[str, Any] | None:
        return registry.load(self.kind, self.resource_id) if self.resource_id else None

    def _show_resource(self) -> dict[str, Any] | None:
        return self.record()

    def handle_delete(self) -> str | None:
        if self.resource_id:
            registry.delete(self.kind, self.resource_id)
        return None

    def handle_update(self, json_snippet: Any, tmpl_diff: Any, prop_diff: dict[str, Any]) -> None:
        record = self.record()
        if record is not None and prop_diff:
            record.update(prop_diff)
            registry.save(self.kind, self.resource_id, record)


class LocalSecurityGroup(_Local):
    """A security group, enforced on every port that has it (ingress, IPv4; see local.network)."""

    kind = "security_groups"
    rule_schema = {
        "direction": S(S.STRING, default="ingress",
                       constraints=[constraints.AllowedValues(["ingress", "egress"])]),
        "ethertype": S(S.STRING, default="IPv4",
                       constraints=[constraints.AllowedValues(["IPv4", "IPv6"])]),
        # Heat's own constraints: a rule Neutron would refuse is refused here too.
        "protocol": S(S.STRING, constraints=[constraints.AllowedValues(
            ["tcp", "udp", "icmp", "icmpv6", "sctp", "gre", "vrrp", *map(str, range(256))])]),
        "port_range_min": S(S.INTEGER, constraints=[constraints.Range(0, 65535)]),
        "port_range_max": S(S.INTEGER, constraints=[constraints.Range(0, 65535)]),
        "remote_ip_prefix": S(S.STRING, constraints=[constraints.CustomConstraint("net_cidr")]),
        "remote_mode": S(S.STRING, default="remote_ip_prefix",
                         constraints=[constraints.AllowedValues(
                             ["remote_ip_prefix", "remote_group_id"])]),
        "remote_group_id": S(S.STRING),
    }
    properties_schema = {
        "name": S(S.STRING, update_allowed=True),
        "description": S(S.STRING, update_allowed=True),
        "rules": S(S.LIST, schema=S(S.MAP, schema=rule_schema), update_allowed=True),
    }

    def handle_create(self) -> None:
        sg_id = registry.new_id()
        registry.save(self.kind, sg_id, {
            "id": sg_id, "name": self.properties["name"] or self.physical_resource_name(),
            "description": self.properties["description"] or "",
            "rules": self.properties["rules"] or [], "enforced": True,
        })
        self.resource_id_set(sg_id)
        _sync_network()

    def handle_update(self, json_snippet: Any, tmpl_diff: Any, prop_diff: dict[str, Any]) -> None:
        super().handle_update(json_snippet, tmpl_diff, prop_diff)
        _sync_network()

    def handle_delete(self) -> str | None:
        super().handle_delete()
        _sync_network(deleting=True)
        return None


class LocalServerGroup(_Local):
    """A server group: recorded, policies not enforced (one host)."""

    kind = "server_groups"
    properties_schema = {
        "name": S(S.STRING),
        "policies": S(S.LIST, default=["anti-affinity"]),
        "rules": S(S.MAP),
    }

    def handle_create(self) -> None:
        group_id = registry.new_id()
        registry.save(self.kind, group_id, {
            "id": group_id, "name": self.properties["name"] or self.physical_resource_name(),
            "policies": self.properties["policies"] or [], "members": [], "enforced": False,
        })
        self.resource_id_set(group_id)


def _security_group_ids(refs: list[str] | None) -> list[str]:
    ids = []
    for ref in refs or []:
        found = registry.find("security_groups", ref)
        if found is None and ref != "default":
            raise _fail(f"Security group {ref} not found.")
        ids.append(found["id"] if found else "default")
    return ids


def _new_port(network: str, name: str, owner: str, security_groups: list[str]) -> dict[str, Any]:
    registry.check_network(network)
    port_id = registry.new_id()
    address = registry.claim_address(network, port_id)
    record = {
        "id": port_id, "name": name, "network": network, "address": address,
        "subnet_id": f"{network}-subnet", "security_groups": security_groups,
        "mac_address": "fa:16:3e:" + ":".join(f"{int(x):02x}" for x in address.split(".")[1:]),
        "owner": owner, "device_id": None,
    }
    registry.save("ports", port_id, record)
    return record


def _delete_port(port_id: str) -> None:
    record = registry.load("ports", port_id)
    if record:
        registry.release_address(record.get("address"))
        registry.delete("ports", port_id)


class LocalPort(_Local):
    """A port: one address from 127.42.0.0/16 on network `private`."""

    kind = "ports"
    properties_schema = {
        "network": S(S.STRING, required=True),
        "name": S(S.STRING, update_allowed=True),
        "security_groups": S(S.LIST, update_allowed=True),
        "fixed_ips": S(S.LIST),
        "port_security_enabled": S(S.BOOLEAN),
        "allowed_address_pairs": S(S.LIST),
        "admin_state_up": S(S.BOOLEAN, default=True),
    }
    attributes_schema = {
        "fixed_ips": A("[{ip_address, subnet_id}] of the port.", type=A.LIST),
        "name": A("Name of the port.", type=A.STRING),
        "network_id": A("Network of the port.", type=A.STRING),
        "mac_address": A("MAC address (made up).", type=A.STRING),
        "device_id": A("Server using the port.", type=A.STRING),
    }

    def handle_create(self) -> None:
        groups = self.properties["security_groups"]
        record = _new_port(self.properties["network"],
                           self.properties["name"] or self.physical_resource_name(),
                           "heat", _security_group_ids(["default"] if groups is None else groups))
        self.resource_id_set(record["id"])
        _sync_network()

    def handle_update(self, json_snippet: Any, tmpl_diff: Any, prop_diff: dict[str, Any]) -> None:
        if "security_groups" in prop_diff:
            prop_diff["security_groups"] = _security_group_ids(prop_diff["security_groups"] or ["default"])
        super().handle_update(json_snippet, tmpl_diff, prop_diff)
        _sync_network()

    def handle_delete(self) -> None:
        if self.resource_id:
            _delete_port(self.resource_id)
            _sync_network(deleting=True)

    def _resolve_attribute(self, name: str) -> Any:
        record = self.record()
        if record is None:
            return None
        if name == "fixed_ips":
            return [{"ip_address": record["address"], "subnet_id": record["subnet_id"]}]
        if name == "network_id":
            return record["network"]
        return record.get(name)


def _floating_addresses(port_ids: list[str]) -> list[str]:
    return [fip["address"] for fip in registry.all_of("floating_ips")
            if fip.get("port_id") in port_ids]


class LocalFloatingIP(_Local):
    """A floating IP: an address of the public subnet NATed to its port's fixed address."""

    kind = "floating_ips"
    properties_schema = {
        "floating_network": S(S.STRING, required=True),
        "port_id": S(S.STRING, update_allowed=True),
        "fixed_ip_address": S(S.STRING),
        "floating_ip_address": S(S.STRING),
        "value_specs": S(S.MAP),
    }
    attributes_schema = {
        "floating_ip_address": A("The floating address.", type=A.STRING),
        "port_id": A("Port it is associated with.", type=A.STRING),
        "fixed_ip_address": A("Fixed address it forwards to.", type=A.STRING),
        "floating_network_id": A("Its network.", type=A.STRING),
    }

    def handle_create(self) -> None:
        registry.check_network(self.properties["floating_network"], external=True)
        fip_id = registry.new_id()
        address = registry.claim_address(registry.FLOATING_NETWORK, fip_id)
        registry.save(self.kind, fip_id, {"id": fip_id, "address": address, "port_id": None,
                                          "network": self.properties["floating_network"]})
        self.resource_id_set(fip_id)
        self._associate(self.properties["port_id"])

    def _associate(self, port_id: str | None) -> None:
        """Point the floating IP at port_id (NAT on the host, as Neutron's L3 agent does)."""
        record = self.record()
        assert record is not None
        if port_id and registry.load("ports", port_id) is None:
            raise _fail(f"Port {port_id} could not be found.")
        record["port_id"] = port_id
        registry.save(self.kind, self.resource_id, record)
        _sync_network()

    def handle_update(self, json_snippet: Any, tmpl_diff: Any, prop_diff: dict[str, Any]) -> None:
        if "port_id" in prop_diff:
            self._associate(prop_diff["port_id"])

    def handle_delete(self) -> None:
        record = self.record()
        if self.resource_id and record:
            registry.delete(self.kind, self.resource_id)
            registry.release_address(record["address"])
            _sync_network(deleting=True)

    def _resolve_attribute(self, name: str) -> Any:
        record = self.record()
        if record is None:
            return None
        if name == "floating_ip_address":
            return record["address"]
        if name == "floating_network_id":
            return record["network"]
        if name == "fixed_ip_address":
            port = registry.load("ports", record["port_id"]) if record["port_id"] else None
            return port["address"] if port else None
        return record.get(name)


def _authorized_keys(key_name: str | None) -> list[str]:
    """Key pairs: a public key file DIR/cloud/keypairs/<name>.pub, if present."""
    if not key_name:
        return []
    path = registry.root() / "keypairs" / f"{key_name}.pub"
    return [path.read_text().strip()] if path.exists() else []


class LocalServer(_Local):
    """A server: an sshd in its own namespaces on its ports' addresses."""

    kind = "servers"
    network_schema = {
        "port": S(S.STRING),
        "network": S(S.STRING),
        "fixed_ip": S(S.STRING),
        "subnet": S(S.STRING),
    }
    properties_schema = {
        "name": S(S.STRING, update_allowed=True),
        "flavor": S(S.STRING, required=True),
        "image": S(S.STRING, required=True),
        "key_name": S(S.STRING),
        "availability_zone": S(S.STRING),
        "networks": S(S.LIST, schema=S(S.MAP, schema=network_schema)),
        "user_data_format": S(S.STRING, default="RAW",
                              constraints=[constraints.AllowedValues(["RAW"])]),
        "user_data": S(S.STRING, default=""),
        "scheduler_hints": S(S.MAP),
        "metadata": S(S.MAP, update_allowed=True),
        "security_groups": S(S.LIST),
        "config_drive": S(S.BOOLEAN),
    }
    attributes_schema = {
        "name": A("Name (and hostname) of the server.", type=A.STRING),
        "first_address": A("First fixed address.", type=A.STRING),
        "networks": A("{network name: [addresses]}.", type=A.MAP),
        "addresses": A("{network name: [{addr, version, OS-EXT-IPS:type}]}.", type=A.MAP),
        "accessIPv4": A("Address to reach the server.", type=A.STRING),
        "host_key": A("The instance's SSH host public key.", type=A.STRING),
    }

    def _ports(self, server_id: str) -> list[dict[str, Any]]:
        ports = []
        for net in self.properties["networks"] or [{"network": registry.FIXED_NETWORK}]:
            if net.get("port"):
                port = registry.load("ports", net["port"])
                if port is None:
                    raise _fail(f"Port {net['port']} could not be found.")
            else:
                port = _new_port(net.get("network") or registry.FIXED_NETWORK, f"{server_id}-port", server_id,
                                 _security_group_ids(self.properties["security_groups"] or ["default"]))
            ports.append(port)
        return ports

    def handle_create(self) -> list[str]:
        try:
            registry.check_flavor(self.properties["flavor"])
            registry.check_image(self.properties["image"])
        except registry.NotFound as error:
            raise _fail(str(error)) from None
        hints = self.properties["scheduler_hints"] or {}
        if hints.get("group") and registry.find("server_groups", hints["group"]) is None:
            raise _fail(f"Server group {hints['group']} could not be found.")
        name = self.properties["name"] or self.physical_resource_name()
        hostname = _hostname(name)
        server_id = registry.new_id()
        try:
            boot = cloudconfig.parse(self.properties["user_data"])
        except ValueError as error:
            raise _fail(str(error)) from None
        with _ASSOCIATION:
            ports = self._ports(server_id)
            server = {
                "id": server_id, "name": name, "hostname": hostname,
                "flavor": self.properties["flavor"], "image": self.properties["image"],
                "key_name": self.properties["key_name"],
                "availability_zone": self.properties["availability_zone"]
                or registry.AVAILABILITY_ZONE,
                "scheduler_hints": hints, "metadata": self.properties["metadata"] or {},
                "ports": [p["id"] for p in ports],
                "networks": {p["network"]: [p["address"]] for p in ports},
                "fixed_addresses": [p["address"] for p in ports],
                "status": "BUILD",
            }
            for port in ports:
                port["device_id"] = server_id
                registry.save("ports", port["id"], port)
            server["addresses"] = server["fixed_addresses"] + _floating_addresses(server["ports"])
            self.resource_id_set(server_id)
            server["host_key"] = instances.prepare(
                server_id, hostname, server["addresses"],
                boot.authorized_keys + _authorized_keys(self.properties["key_name"]), boot.script)
            registry.save(self.kind, server_id, server)
        _sync_network()
        instances.start(server_id, hostname, ports, self.properties["image"])
        return server["addresses"]

    def check_create_complete(self, addresses: list[str]) -> bool:
        if not instances.running(self.resource_id):
            console = instances.instance_dir(self.resource_id) / "console.log"
            tail = console.read_text()[-500:] if console.exists() else ""
            raise _fail(f"Server {self.resource_id} failed to start: {tail}")
        # Heat polls check_* once per second: waiting briefly here (sshd listens
        # ~70 ms after start) saves a whole poll round per server.
        if not processes.wait_until(lambda: instances.listening(self.resource_id), _INLINE_WAIT,
                                    interval=0.01, raise_on_timeout=False):
            return False
        record = self.record()
        if record is not None:
            record["status"] = "ACTIVE"
            registry.save(self.kind, self.resource_id, record)
        return True

    def handle_delete(self) -> str | None:
        if not self.resource_id:
            return None
        instances.kill(self.resource_id)
        return self.resource_id

    def prepare_for_replace(self) -> None:
        """A replacement (e.g. new user data) reuses the ports: stop this
        instance first so their addresses are free, as Nova detaches ports."""
        if self.resource_id:
            instances.kill(self.resource_id)
            processes.wait_until(lambda: instances.gone(self.resource_id), 10.0,
                                 what=f"server {self.resource_id} stopped")

    def restore_prev_rsrc(self, convergence: bool = False) -> None:
        """Rollback of a failed replacement: start this instance again."""
        record = self.record()
        if record and not instances.running(self.resource_id):
            ports = [p for p in (registry.load("ports", i) for i in record["ports"]) if p]
            instances.start(self.resource_id, record["hostname"], ports, record["image"])
            processes.wait_until(lambda: instances.listening(self.resource_id), 30.0,
                                 what=f"server {self.resource_id} listening")

    def check_delete_complete(self, server_id: str | None) -> bool:
        if not server_id:
            return True
        if not processes.wait_until(lambda: instances.gone(server_id), _INLINE_WAIT,
                                    interval=0.01, raise_on_timeout=False):
            instances.kill(server_id)
            return False
        record = registry.load(self.kind, server_id)
        instances.remove(server_id)
        for port_id in (record or {}).get("ports", []):
            port = registry.load("ports", port_id)
            if port and port.get("owner") == server_id:
                _delete_port(port_id)
            elif port and port.get("device_id") == server_id:
                port["device_id"] = None  # not when a replacement took the port over
                registry.save("ports", port_id, port)
        for attachment in registry.all_of("volume_attachments"):
            if attachment.get("server_id") == server_id:
                _release_loop(attachment["volume_id"], attachment["id"])
                registry.delete("volume_attachments", attachment["id"])
        _sync_network(deleting=True)
        registry.delete(self.kind, server_id)
        return True

    def _resolve_attribute(self, name: str) -> Any:
        record = self.record()
        if record is None:
            return None
        fixed = record["fixed_addresses"]
        floating = _floating_addresses(record["ports"])
        if name == "first_address":
            return fixed[0] if fixed else ""
        if name == "accessIPv4":
            return (floating or fixed or [""])[0]
        if name == "networks":
            nets: dict[str, list[str]] = {}
            for port_id in record["ports"]:
                port = registry.load("ports", port_id)
                if port:
                    nets.setdefault(port["network"], []).append(port["address"])
                    nets[port["network"]] += _floating_addresses([port_id])
            return nets
        if name == "addresses":
            return {net: [{"addr": a, "version": 4,
                           "OS-EXT-IPS:type": "floating" if a in floating else "fixed"}
                          for a in addrs]
                    for net, addrs in self._resolve_attribute("networks").items()}
        return record.get(name)


def _hostname(name: str) -> str:
    """Nova-like hostname from a server name."""
    cleaned = re.sub(r"[^a-zA-Z0-9.-]+", "-", name).strip("-.")[:63]
    return cleaned or "server"


class LocalVolume(_Local):
    """A volume: a sparse file of its size under DIR/cloud/volume-data, a loop device once attached."""

    kind = "volumes"
    properties_schema = {
        "name": S(S.STRING, update_allowed=True),
        "size": S(S.INTEGER, required=True, constraints=[constraints.Range(min=1, max=1024)]),
        "volume_type": S(S.STRING),
        "availability_zone": S(S.STRING),
        "description": S(S.STRING, update_allowed=True),
        "metadata": S(S.MAP, update_allowed=True),
    }
    attributes_schema = {
        "size": A("Size in GB.", type=A.INTEGER),
        "status": A("Status.", type=A.STRING),
        "display_name": A("Name.", type=A.STRING),
        "volume_type": A("Volume type.", type=A.STRING),
    }

    def handle_create(self) -> None:
        volume_id = registry.new_id()
        volumes.create(volume_id, self.properties["size"])
        registry.save(self.kind, volume_id, {
            "id": volume_id, "name": self.properties["name"] or self.physical_resource_name(),
            "size": self.properties["size"], "volume_type": self.properties["volume_type"],
            "availability_zone": self.properties["availability_zone"], "status": "available",
        })
        self.resource_id_set(volume_id)

    def handle_delete(self) -> None:
        if self.resource_id:
            volumes.remove(self.resource_id)
            registry.delete(self.kind, self.resource_id)

    def _resolve_attribute(self, name: str) -> Any:
        record = self.record() or {}
        return record.get("name") if name == "display_name" else record.get(name)


def _release_loop(volume_id: str, attachment_id: str) -> None:
    """Release the volume's loop device unless another attachment (a replacement server's) still uses it."""
    if not any(a["volume_id"] == volume_id and a["id"] != attachment_id
               for a in registry.all_of("volume_attachments")):
        volumes.detach_loops(volume_id)


def _device_name(server_id: str, requested: str | None) -> str:
    """The attachment's device: the one asked for when free, else the next free /dev/vdb, /dev/vdc ..."""
    used = {a["device"] for a in registry.all_of("volume_attachments") if a.get("server_id") == server_id}
    if requested and re.fullmatch(r"/dev/(vd|sd|xvd)[b-z]", requested) and requested not in used:
        return requested
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/vd{letter}" not in used:
            return f"/dev/vd{letter}"
    raise _fail(f"Instance {server_id} has no free device name left.")


class LocalVolumeAttachment(_Local):
    """Attaching shows the volume's loop device in the instance at its device name (and by id)."""

    kind = "volume_attachments"
    properties_schema = {
        "instance_uuid": S(S.STRING, required=True),
        "volume_id": S(S.STRING, required=True),
        "mountpoint": S(S.STRING),
    }

    def handle_create(self) -> None:
        server_id, volume_id = self.properties["instance_uuid"], self.properties["volume_id"]
        if registry.load("servers", server_id) is None:
            raise _fail(f"Instance {server_id} could not be found.")
        volume = registry.load("volumes", volume_id)
        if volume is None:
            raise _fail(f"Volume {volume_id} could not be found.")
        if any(a["volume_id"] == volume_id and a["server_id"] != server_id and instances.running(a["server_id"])
               for a in registry.all_of("volume_attachments")):
            # A server being replaced was stopped first (prepare_for_replace): its volume may move.
            raise _fail(f"Volume {volume_id} is already attached: it is not multiattach.")
        with _ASSOCIATION:
            device = _device_name(server_id, self.properties["mountpoint"])
            attachment_id = registry.new_id()
            registry.save(self.kind, attachment_id, {
                "id": attachment_id, "server_id": server_id, "volume_id": volume_id, "device": device})
            self.resource_id_set(attachment_id)
            instances.attach_volume(server_id, volume_id, device, volumes.attach_loop(volume_id))
        volume["status"] = "in-use"
        registry.save("volumes", volume_id, volume)

    def handle_delete(self) -> None:
        record = self.record()
        if record is None:
            return
        instances.detach_volume(record["server_id"], record["volume_id"], record["device"])
        _release_loop(record["volume_id"], record["id"])
        volume = registry.load("volumes", record["volume_id"])
        if volume:
            volume["status"] = "available"
            registry.save("volumes", record["volume_id"], volume)
        registry.delete(self.kind, self.resource_id)


def resource_mapping() -> dict[str, type[resource.Resource]]:
    return {
        "Local::Nova::Server": LocalServer,
        "Local::Nova::ServerGroup": LocalServerGroup,
        "Local::Neutron::Port": LocalPort,
        "Local::Neutron::FloatingIP": LocalFloatingIP,
        "Local::Neutron::SecurityGroup": LocalSecurityGroup,
        "Local::Cinder::Volume": LocalVolume,
        "Local::Cinder::VolumeAttachment": LocalVolumeAttachment,
    }
