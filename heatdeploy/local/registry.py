"""The local cloud's compute and network objects, kept as JSON files.

DIR/cloud/<kind>/<id>.json holds one object; addresses are claimed by
creating DIR/cloud/addresses/<ip> exclusively, which is atomic across the
engine's threads without a lock. Flavors, images and networks are fixed.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from heatdeploy.local.state import State, default_dir, write_json

# name: vcpus, ram (MiB), disk (GB). Nothing is enforced locally.
FLAVORS: dict[str, dict[str, int]] = {
    "m1.tiny": {"vcpus": 1, "ram": 512, "disk": 1},
    "m1.small": {"vcpus": 1, "ram": 2048, "disk": 20},
    "m1.medium": {"vcpus": 2, "ram": 4096, "disk": 40},
    "m1.large": {"vcpus": 4, "ram": 8192, "disk": 80},
    "m1.xlarge": {"vcpus": 8, "ram": 16384, "disk": 160},
}
# Every image is the host's own system seen through the instance's namespaces: `local` and
# `debian-local` with Spark at /opt/spark and a Java runtime, `debian-bare` with neither (an empty /opt).
IMAGES = ("local", "debian-local", "debian-bare")
BARE_IMAGES = ("debian-bare",)
FIXED_NETWORK = "private"
PROVIDER_NETWORK = "provider"
"""Like ``private``, but its fixed addresses are reachable from the controller (see local.network)."""
FLOATING_NETWORK = "public"
FIXED_NETWORKS = (FIXED_NETWORK, PROVIDER_NETWORK)
AVAILABILITY_ZONE = "nova"


class NotFound(Exception):
    """Raised with the same wording OpenStack uses for a missing object."""


_ROOT_OVERRIDE: Path | None = None


@contextlib.contextmanager
def using(state_dir: Path) -> Iterator[None]:
    """Work on state_dir's objects (the CLI's --dir) instead of the default one."""
    global _ROOT_OVERRIDE
    saved, _ROOT_OVERRIDE = _ROOT_OVERRIDE, state_dir
    try:
        yield
    finally:
        _ROOT_OVERRIDE = saved


def root() -> Path:
    """DIR/cloud; heat-engine finds DIR through HEATDEPLOY_LOCAL_DIR."""
    path = (_ROOT_OVERRIDE or default_dir()) / "cloud"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_id() -> str:
    return str(uuid.uuid4())


def _path(kind: str, obj_id: str) -> Path:
    return root() / kind / f"{obj_id}.json"


def save(kind: str, obj_id: str, record: dict[str, Any]) -> None:
    write_json(_path(kind, obj_id), record)


def load(kind: str, obj_id: str) -> dict[str, Any] | None:
    try:
        return json.loads(_path(kind, obj_id).read_text())
    except FileNotFoundError:
        return None


def delete(kind: str, obj_id: str) -> None:
    _path(kind, obj_id).unlink(missing_ok=True)


def all_of(kind: str) -> list[dict[str, Any]]:
    folder = root() / kind
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            continue
    return records


def find(kind: str, ref: str) -> dict[str, Any] | None:
    """An object by id, else by name (names of security groups and the like)."""
    record = load(kind, ref)
    if record is not None:
        return record
    for candidate in all_of(kind):
        if candidate.get("name") == ref:
            return candidate
    return None


def check_flavor(name: str) -> dict[str, int]:
    if name not in FLAVORS:
        raise NotFound(f"Flavor {name} could not be found.")
    return FLAVORS[name]


def check_image(name: str) -> None:
    if name not in IMAGES:
        raise NotFound(f"Image {name} could not be found.")


def check_network(name: str, external: bool = False) -> None:
    if name not in ((FLOATING_NETWORK,) if external else FIXED_NETWORKS):
        raise NotFound(f"Network {name} could not be found.")


@functools.cache
def _octet(root_dir: Path) -> int:
    octet = State.load(root_dir.parent).network
    if not octet:
        raise NotFound("The local cloud has no network yet: run `heatdeploy local up`.")
    return octet


def octet() -> int:
    """Second octet of this cloud's fixed subnet (local.network)."""
    return _octet(root())


def subnet(network: str) -> ipaddress.IPv4Network:
    """Fixed networks share 127.N.0.0/16; floating IPs come from 127.(N+1).0.0/16."""
    n = octet() + (1 if network == FLOATING_NETWORK else 0)
    return ipaddress.IPv4Network(f"127.{n}.0.0/16")


def claim_address(network: str, owner: str) -> str:
    """First free address of the network, claimed for owner (.1 to .9 stay free: .1 is the gateway)."""
    folder = root() / "addresses"
    folder.mkdir(parents=True, exist_ok=True)
    for host in subnet(network).hosts():
        if host.packed[2] == 0 and host.packed[3] < 10:
            continue
        try:
            fd = os.open(folder / str(host), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as f:
            f.write(owner)
        return str(host)
    raise NotFound(f"No more IP addresses available on network {network}.")


def release_address(address: str | None) -> None:
    if address:
        (root() / "addresses" / address).unlink(missing_ok=True)
