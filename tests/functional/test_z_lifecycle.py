"""up/status/down through the CLI hooks (runs last: it stops the cloud)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from heatdeploy import ClusterManager, Options
from heatdeploy.local import cli, instances, lifecycle, processes, volumes
from heatdeploy.local.state import State
from heatdeploy.steps.common import MOUNT_SCRIPT
from heatdeploy.testing import bare_cluster
from tests.functional.cloudtools import (
    LocalCloud,
    access_info,
    heat_for,
    host_key_from_wait_data,
    node_template,
    outputs,
    poll,
    run,
    ssh_pinned,
    wait_stack,
)

TRUSTEE = "heatdeploy-local-trustee"


def test_up_when_running_is_a_quick_no_op(local_cloud: LocalCloud) -> None:
    pids = dict(State.load(local_cloud.root).pids)
    started = time.monotonic()
    assert cli.main(["local", "up", "--dir", str(local_cloud.root)]) == 0
    assert time.monotonic() - started < 5
    assert State.load(local_cloud.root).pids == pids


def test_status_reports_every_service_healthy(local_cloud: LocalCloud,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["local", "status", "--dir", str(local_cloud.root), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["up"] is True
    names = {s["name"] for s in report["services"]}
    assert names == {"postgres", "keystone", "heat", "swift-proxy", "swift-account",
                     "swift-container", "swift-object"}
    # The public services on the cloud's gateway, where instances reach them too; the others on 127.0.0.1.
    gateway = State.load(local_cloud.root).host
    assert gateway != "127.0.0.1"
    for service in report["services"]:
        public = service["name"] in ("keystone", "heat", "swift-proxy")
        assert service["healthy"] and service["address"].startswith(f"{gateway}:" if public else "127.0.0.1:")


def test_token_expiration_change_restarts_keystone_only(local_cloud: LocalCloud) -> None:
    before = dict(State.load(local_cloud.root).pids)
    original = State.load(local_cloud.root).token_expiration
    try:
        lifecycle.up(local_cloud.root, token_expiration=120, log=lambda line: None)
        after = State.load(local_cloud.root)
        assert after.token_expiration == 120
        assert after.pids["keystone"] != before["keystone"]
        assert {k: v for k, v in after.pids.items() if k != "keystone"} == \
            {k: v for k, v in before.items() if k != "keystone"}
        session = local_cloud.session("demo", "demo")
        access = access_info(session)
        lifetime = (access.expires - access.issued).total_seconds()
        assert 110 <= lifetime <= 121
    finally:
        lifecycle.up(local_cloud.root, token_expiration=original, log=lambda line: None)


def test_volumes_are_block_devices_mounted_by_the_volumes_step_and_survive_down_and_up(
        local_cloud: LocalCloud) -> None:
    plugins, loaded = bare_cluster("ft-volumes", 1, volumes=2)
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE)

    def mounts() -> list[list[str]]:
        with manager.connect("ft-volumes") as connections:
            remote = connections.remote("ft-volumes-node-0")
            table = [line.split() for line in remote.run(["cat", "/proc/mounts"]).stdout.splitlines()]
            found = sorted([m[1], m[0], m[2]] for m in table if m[1].startswith("/volumes/"))
            for _, source, _ in found:
                assert remote.run(["test", "-b", source], check=False).status == 0, source
            return found

    try:
        manager.launch(loaded, Options())
        before = mounts()
        assert [(m[0], m[2]) for m in before] == [("/volumes/disk1", "ext4"), ("/volumes/disk2", "ext4")], before
        assert all(m[1].startswith("/dev/disk/by-id/virtio-") for m in before), before
        with manager.connect("ft-volumes") as connections:
            connections.remote("ft-volumes-node-0").write_file("/volumes/disk2/kept", "on the volume\n")
        images = sorted((local_cloud.root / "cloud" / "volume-data").glob("*.img"))
        assert len(images) == 2 and all(volumes.loops_of(i) for i in images)

        lifecycle.down(local_cloud.root, log=lambda line: None)  # like powering the hosts off
        assert not [i for i in images if volumes.loops_of(i)], "down releases every loop device"
        lifecycle.up(local_cloud.root, log=lambda line: None)
        manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE)
        # Booting mounts the fstab the volumes step wrote, each volume at its own target; the step,
        # run again, keeps them (nothing reformatted, nothing swapped).
        assert mounts() == before
        with manager.connect("ft-volumes") as connections:
            connections.remote("ft-volumes-node-0").run(["sh", "-c", MOUNT_SCRIPT, "sh", "/volumes/disk", "2"])
        assert mounts() == before
        with manager.connect("ft-volumes") as connections:
            assert connections.remote("ft-volumes-node-0").run(["cat", "/volumes/disk2/kept"]).stdout == \
                "on the volume\n"
    finally:
        manager.delete("ft-volumes", force=True)
    assert not list((local_cloud.root / "cloud" / "volume-data").glob("*.img"))
    assert not [i for i in images if volumes.loops_of(i)]


def test_down_leaves_no_process(local_cloud: LocalCloud, ssh_key) -> None:  # type: ignore[no-untyped-def]
    client_key, public = ssh_key
    heat = heat_for(local_cloud.session("demo", "demo"))
    body = node_template(1)
    stack_id = heat.stacks.create(stack_name="left-running", template=body["template"],
                                  files=body["files"], parameters={"key": public})["stack"]["id"]
    stack = wait_stack(heat, stack_id)
    assert stack.stack_status == "CREATE_COMPLETE", stack.stack_status_reason
    node = outputs(stack)["nodes"][0]
    # A daemon started over SSH, as a framework's start step would.
    marker = f"sleep {uuid.uuid4().int % 100000 + 100000}"
    with ssh_pinned(node["floating"], host_key_from_wait_data(node["host_key"]),
                    client_key) as client:
        run(client, f"nohup {marker} > /dev/null 2>&1 &")
    poll(lambda: bool(processes.pids_mentioning(marker)), 10, "daemon running")
    instance_pid = instances.recorded_pid(node["server_id"])
    recorded = list(State.load(local_cloud.root).pids.values()) + [instance_pid]
    assert all(processes.alive(pid) for pid in recorded)

    assert cli.main(["local", "down", "--dir", str(local_cloud.root)]) == 0
    assert not [pid for pid in recorded if processes.alive(pid)]
    assert not processes.pids_mentioning(f"{local_cloud.root}/")
    assert not processes.pids_mentioning(marker)
    assert not lifecycle.status_dict(local_cloud.root)["up"]
