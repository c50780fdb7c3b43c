"""The object store's steps through heatdeploy's recording doubles: facts flow from role to role."""

from __future__ import annotations

import hashlib
import json
import shlex

import pytest
from heatdeploy_objectstore import OBJECTSTORE, RING

from heatdeploy import SpecError, StepsFailed
from heatdeploy.testing import Responses, make_cluster, run_operation

SPEC = """
name: demo
plugin: objectstore
version: "2"
image: debian-local
flavor: m1.small
network: private
node_groups:
  - {name: builder, count: 1, processes: [ring-builder]}
  - {name: proxy, count: 1, processes: [proxy]}
  - {name: storage, count: 3, processes: [storage]}
"""
RING_FILES = {ring: f"{ring} ring".encode() for ring in ("account", "container", "object")}
SUMS = {ring: hashlib.sha256(data).hexdigest() for ring, data in RING_FILES.items()}


def cluster(sums: dict[str, str] = SUMS):  # type: ignore[no-untyped-def]
    health = {(port, "/healthcheck"): (200, b"OK") for port in (6200, 6201, 6202, 8080)}
    check = " ".join(f"{sums[ring]}  /etc/swift/{ring}.ring.gz" for ring in ("account", "container", "object"))
    responses = Responses(commands={shlex.join(["python3", "-c", RING]): json.dumps(sums), "sha256sum": check},
                          http=health)
    files = {("demo-builder-0", f"/etc/swift/{ring}.ring.gz"): data for ring, data in RING_FILES.items()}
    return make_cluster(SPEC, OBJECTSTORE, responses=responses, files=files)


def test_launch_passes_devices_to_the_builder_and_rings_to_every_node() -> None:
    ctx = cluster()
    run_operation(OBJECTSTORE, "launch", ctx)
    assert ["python3", "-c", RING] in ctx.recorder.commands("demo-builder-0")
    assert sorted(ctx.fact_store.of("devices")) == ["demo-storage-0", "demo-storage-1", "demo-storage-2"]
    assert ctx.fact_store.secret == {"swift-hash", "auth"}
    for node in ("demo-proxy-0", "demo-storage-0", "demo-storage-2"):
        assert ctx.recorder.file(node, "/etc/swift/object.ring.gz") == "object ring"
    conf = ctx.recorder.file("demo-proxy-0", "/etc/swift/proxy-server.conf") or ""
    assert f"user_admin_admin = {ctx.fact_store.of('auth')['demo-builder-0']['key']} .admin" in conf


def test_a_ring_that_does_not_match_its_checksum_stops_the_launch() -> None:
    ctx = cluster({**SUMS, "object": "0" * 64})
    with pytest.raises(StepsFailed, match="the object ring fetched from demo-builder-0 does not match"):
        run_operation(OBJECTSTORE, "launch", ctx)


def test_too_few_storage_nodes_for_the_replicas_is_a_spec_problem() -> None:
    with pytest.raises(SpecError, match=r"node_groups\[2\].count: at least 3 'storage' instance\(s\) needed "
                                        r"\(one per replica: replicas is 3\), found 2"):
        make_cluster(SPEC.replace("count: 3", "count: 2"), OBJECTSTORE)
