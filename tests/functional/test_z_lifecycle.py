"""up/status/down through the CLI hooks (runs last: it stops the cloud)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from heatdeploy.local import cli, instances, lifecycle, processes
from heatdeploy.local.state import State
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
    assert all(s["healthy"] and s["address"].startswith("127.0.0.1:")
               for s in report["services"])


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
    with ssh_pinned(node["address"], host_key_from_wait_data(node["host_key"]),
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
