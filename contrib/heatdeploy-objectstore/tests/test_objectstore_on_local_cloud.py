"""The object store for real, on heatdeploy's local cloud: 100 objects stay readable while storage grows and shrinks."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import heatdeploy_objectstore

from heatdeploy import plugins_from
from heatdeploy.local.state import State


def client(url: str, auth: dict[str, str]) -> tuple[str, str]:
    """(storage URL, token) from the proxy's own auth, as any Swift client gets them."""
    request = urllib.request.Request(url, headers={"X-Auth-User": auth["user"], "X-Auth-Key": auth["key"]})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.headers["X-Storage-Url"], answer.headers["X-Auth-Token"]


def call(method: str, url: str, token: str, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, method=method, headers={"X-Auth-Token": token})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read()


def test_objects_survive_scaling_storage_up_and_down(heatdeploy_cluster: Any, heatdeploy_local_cloud: Path) -> None:
    here = f"{State.load(heatdeploy_local_cloud).host}/32"  # where the controller's traffic comes from
    spec = {"name": "ft-store", "plugin": "objectstore", "version": "2", "image": "debian-local",
            "flavor": "m1.small", "network": "private", "floating_ip_pool": "public", "access_cidrs": [here],
            "node_groups": [{"name": "builder", "count": 1, "processes": ["ring-builder"]},
                            {"name": "proxy", "count": 1, "processes": ["proxy"]},
                            {"name": "storage", "count": 3, "processes": ["storage"]}]}
    cluster = heatdeploy_cluster(spec, plugins=plugins_from({"objectstore": heatdeploy_objectstore}))
    assert cluster.summary.health.status == "green", cluster.summary.health
    auth = cluster.manager.record("ft-store").facts["values"]["auth"]["ft-store-builder-0"]
    storage, token = client(cluster.summary.endpoints["auth"], auth)

    call("PUT", f"{storage}/photos", token)
    sums = {}
    for n in range(100):
        body = os.urandom(256 + 97 * n)
        call("PUT", f"{storage}/photos/{n:03d}.bin", token, body)
        sums[n] = hashlib.sha256(body).hexdigest()

    def all_readable() -> None:
        for n, digest in sums.items():
            assert hashlib.sha256(call("GET", f"{storage}/photos/{n:03d}.bin", token)).hexdigest() == digest, n

    summary = cluster.scale(storage=4)
    assert summary.health.status == "green", summary.health
    rings = cluster.manager.record("ft-store").facts["values"]["rings"]["ft-store-builder-0"]
    assert set(rings) == {"account", "container", "object"}
    all_readable()

    summary = cluster.scale(remove=["ft-store-storage-0"], storage=3)
    assert summary.health.status == "green", summary.health
    assert json.dumps(cluster.manager.record("ft-store").facts).count("ft-store-storage-0") == 0
    all_readable()

    assert cluster.delete() == [] and cluster.gone()
