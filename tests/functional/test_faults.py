"""Faults and attacks on the local cloud: each ends in a clean error or is refused, and nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from heatdeploy import ClusterManager, Event, Options
from heatdeploy.local import heat, instances, lifecycle, processes, registry
from heatdeploy.local.state import State
from heatdeploy.testing import bare_cluster
from tests.functional.cloudtools import LocalCloud, heat_for, one_token_user, poll
from tests.functional.test_launch import CLOUD, ROOT, heatdeploy, result_of, write_spec

TRUSTEE = "heatdeploy-local-trustee"


@pytest.fixture(scope="module")
def replay_cluster(local_cloud: LocalCloud,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterManager, list[Event]]]:
    plugins, loaded = bare_cluster("ft-replay", 1)
    events: list[Event] = []
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE,
                             on_event=events.append, key_dir=tmp_path_factory.mktemp("keys"))
    try:
        manager.launch(loaded, Options())
        yield manager, events
    finally:
        manager.delete("ft-replay", force=True)


def test_a_replayed_host_key_signal_never_replaces_the_pin(local_cloud: LocalCloud,
                                                          replay_cluster: tuple[ClusterManager, list[Event]]) -> None:
    manager, events = replay_cluster
    (server_id, pinned), = manager.record("ft-replay").host_keys.items()
    heat = heat_for(local_cloud.session("demo", "demo"))
    handle = next(r for r in heat.resources.list("ft-replay", nested_depth=3) if r.resource_name == "wait_handle")
    nested = next(link["href"].rsplit("/", 1)[-1] for link in handle.links if link["rel"] == "stack")
    forged = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFORGEDFORGEDFORGEDFORGEDFORGEDFORGEDFORGEDFO"
    # What anyone holding the handle's token can do: signal again, under the server's own id.
    heat.resources.signal(nested, "wait_handle", data={"id": server_id, "data": forged, "status": "SUCCESS",
                                                       "reason": "replayed"})
    (reported,) = manager.cloud.stacks.instances("ft-replay")
    assert reported.host_key == forged, "the stack now reports the forged key"

    summary = manager.status("ft-replay")
    assert summary.instances[0].host_key == pinned
    assert summary.health is not None and summary.health.status == "green", summary.health
    assert any("now reports another host key" in e.message for e in events if e.kind == "warning")
    argv = manager.ssh_command("ft-replay")
    known_hosts = Path(next(a for a in argv if a.startswith("UserKnownHostsFile=")).partition("=")[2]).read_text()
    assert pinned.split()[1] in known_hosts and "FORGED" not in known_hosts
    assert manager.record("ft-replay").host_keys == {server_id: pinned}


def test_the_signal_token_is_gone_from_the_instance_once_used(
        replay_cluster: tuple[ClusterManager, list[Event]]) -> None:
    manager, _ = replay_cluster
    with manager.connect("ft-replay") as connections:
        remote = connections.remote("ft-replay-node-0")
        assert remote.run(["test", "-e", "/var/lib/heatdeploy/signal.curl"], check=False).status == 1
        assert "X-Auth-Token" not in remote.run(["cat", "/var/lib/heatdeploy/report-host-key.sh"]).stdout


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "heatdeploy", *args, "--os-cloud", CLOUD, "--format", "json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = process.communicate(timeout=900)
    return process.returncode, result_of([json.loads(line) for line in out.splitlines() if line.startswith("{")]), err


def test_two_controllers_at_once_one_waits_for_nothing_and_nothing_leaks(local_cloud: LocalCloud,
                                                                          tmp_path: Path) -> None:
    path = write_spec(tmp_path, "ft-twice")
    trusts_before = {t.id for t in local_cloud.admin().trusts.list()}
    try:
        first, second = _start("launch", str(path)), _start("launch", str(path))
        results = sorted([_finish(first), _finish(second)], key=lambda r: r[0])
        (ok, launched, _), (busy, error, stderr) = results
        assert ok == 0 and launched["state"] == "active", results
        assert busy == 1 and error["event"] == "error", error
        assert error["message"].startswith("cluster ft-twice is busy: launch by "), error
        assert "Traceback" not in stderr

        first, second = _start("scale", "ft-twice", "worker=3"), _start("scale", "ft-twice", "worker=1")
        (ok, scaled, _), (busy, error, _) = sorted([_finish(first), _finish(second)], key=lambda r: r[0])
        assert ok == 0 and busy == 1 and "is busy: scale by" in error["message"], (scaled, error)
        workers = len([i for i in scaled["instances"] if i["group"] == "worker"])
        status, lines, _ = heatdeploy("status", "ft-twice", "--os-cloud", CLOUD, "--check")
        assert status == 0 and len([i for i in result_of(lines)["instances"] if i["group"] == "worker"]) == workers
    finally:
        heatdeploy("delete", "ft-twice", "--os-cloud", CLOUD, check=False)
    assert {t.id for t in local_cloud.admin().trusts.list()} <= trusts_before
    assert not [s for s in heat_for(local_cloud.session("demo", "demo")).stacks.list() if s.stack_name == "ft-twice"]



def test_a_stack_that_failed_at_create_is_replaced_once_the_spec_is_fixed(local_cloud: LocalCloud,
                                                                           tmp_path: Path) -> None:
    trusts_before = {t.id for t in local_cloud.admin().trusts.list()}
    try:
        status, lines, stderr = heatdeploy("launch", str(write_spec(tmp_path, "ft-flavor", flavor="m1.none")),
                                           "--os-cloud", CLOUD, check=False)
        error = result_of(lines)
        assert (status, error["event"]) == (1, "error") and "Traceback" not in stderr, (error, stderr)
        assert "stack ft-flavor CREATE_FAILED" in error["message"] and "m1.none" in error["message"], error
        status, lines, _ = heatdeploy("launch", str(write_spec(tmp_path, "ft-flavor")), "--os-cloud", CLOUD)
        phases = [line["message"] for line in lines if line["event"] == "phase"]
        assert any("deleting it to create it again" in p for p in phases), phases
        assert result_of(lines)["state"] == "active"
    finally:
        heatdeploy("delete", "ft-flavor", "--os-cloud", CLOUD, check=False)
    assert {t.id for t in local_cloud.admin().trusts.list()} <= trusts_before


def _interrupt_at(path: Path, phase: str, signum: int) -> tuple[int, list[dict[str, Any]]]:
    """Run ``launch`` and send ``signum`` as soon as it reports a phase starting with ``phase``."""
    process = _start("launch", str(path))
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    for raw in process.stdout:
        lines.append(json.loads(raw))
        if lines[-1]["event"] == "phase" and lines[-1]["message"].startswith(phase):
            process.send_signal(signum)
            break
    out, _ = process.communicate(timeout=300)
    lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return process.returncode, lines


@pytest.mark.parametrize("phase", ["creating a trust", "creating stack", "waiting for stack", "running"])
def test_ctrl_c_at_any_point_of_launch_is_finished_by_launching_again(local_cloud: LocalCloud, tmp_path: Path,
                                                                     phase: str) -> None:
    path = write_spec(tmp_path, "ft-sigint")
    trusts_before = {t.id for t in local_cloud.admin().trusts.list()}
    try:
        status, lines = _interrupt_at(path, phase, signal.SIGINT)
        assert status == 130 and lines[-1]["event"] == "error", lines[-3:]
        assert lines[-1]["message"].startswith("interrupted: run the same command again"), lines[-1]
        _, lines, _ = heatdeploy("launch", str(path), "--os-cloud", CLOUD)
        assert result_of(lines)["state"] == "active"
        status, lines, _ = heatdeploy("status", "ft-sigint", "--os-cloud", CLOUD, "--check")
        assert status == 0, result_of(lines)
    finally:
        heatdeploy("delete", "ft-sigint", "--os-cloud", CLOUD, check=False)
    assert {t.id for t in local_cloud.admin().trusts.list()} <= trusts_before
    assert not [s for s in heat_for(local_cloud.session("demo", "demo")).stacks.list() if s.stack_name == "ft-sigint"]


def test_a_launch_killed_during_its_steps_is_finished_once_its_lock_is_broken(local_cloud: LocalCloud,
                                                                              tmp_path: Path) -> None:
    path = write_spec(tmp_path, "ft-kill")
    try:
        status, _ = _interrupt_at(path, "running", signal.SIGKILL)
        assert status == -signal.SIGKILL
        status, lines, _ = heatdeploy("launch", str(path), "--os-cloud", CLOUD, check=False)
        assert status == 1 and "is busy: launch by" in result_of(lines)["message"], result_of(lines)
        assert "--break-lock" in result_of(lines)["message"]
        _, lines, _ = heatdeploy("launch", str(path), "--os-cloud", CLOUD, "--break-lock")
        assert result_of(lines)["state"] == "active"
    finally:
        heatdeploy("delete", "ft-kill", "--os-cloud", CLOUD, "--break-lock", check=False)


def test_rebooted_instances_lose_their_daemons_and_launch_brings_them_back(local_cloud: LocalCloud,
                                                                          tmp_path: Path) -> None:
    path = write_spec(tmp_path, "ft-reboot")
    try:
        heatdeploy("launch", str(path), "--os-cloud", CLOUD)
        with registry.using(local_cloud.root):  # like VMs rebooting: files kept, processes gone
            servers = [s["id"] for s in registry.all_of("servers") if str(s.get("name", "")).startswith("ft-reboot-")]
            for server_id in servers:
                instances.kill(server_id)
            poll(lambda: all(instances.gone(s) for s in servers), 30, "the instances to stop")
            assert sorted(instances.restart_stopped()) == sorted(servers)
        status, lines, _ = heatdeploy("status", "ft-reboot", "--os-cloud", CLOUD, "--check", check=False)
        assert status == 1 and result_of(lines)["health"]["status"] != "green", result_of(lines)
        _, lines, _ = heatdeploy("launch", str(path), "--os-cloud", CLOUD)
        assert any("running its launch steps again" in line.get("message", "") for line in lines), lines
        status, lines, _ = heatdeploy("status", "ft-reboot", "--os-cloud", CLOUD, "--check", check=False)
        assert status == 0, result_of(lines)
    finally:
        heatdeploy("delete", "ft-reboot", "--os-cloud", CLOUD, check=False)


def test_a_wrong_password_is_one_line_naming_keystone(local_cloud: LocalCloud, tmp_path: Path) -> None:
    config = tmp_path / "clouds.yaml"
    config.write_text(json.dumps({"clouds": {"wrong": {
        "auth": {"auth_url": local_cloud.auth_url, "username": "demo", "password": "not-the-password",
                 "project_name": "demo", "user_domain_name": "Default", "project_domain_name": "Default"},
        "identity_api_version": 3}}}))
    for command in (["status", "ft-nothing"], ["launch", str(write_spec(tmp_path, "ft-nothing"))]):
        result = subprocess.run([sys.executable, "-m", "heatdeploy", *command, "--os-cloud", "wrong",
                                 "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(config)})
        error = json.loads(result.stdout.splitlines()[-1])
        assert (result.returncode, error["event"]) == (1, "error"), (result.stdout, result.stderr)
        assert "of cluster ft-nothing failed: Keystone: " in error["message"], error
        assert "401" in error["message"] and "Traceback" not in result.stderr, error


def _status_while_paused(pause: Callable[[], None], resume: Callable[[], None]) -> tuple[dict[str, Any], str]:
    """``heatdeploy status`` with a 2 s request deadline while a service accepts connections and never
    answers; returns its final JSON line (an error, exit 1) and stderr."""
    pause()
    try:
        result = subprocess.run([sys.executable, "-m", "heatdeploy", "status", "ft-nothing", "--os-cloud", CLOUD,
                                 "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "HEATDEPLOY_REQUEST_TIMEOUT": "2"})
    finally:
        resume()
    error = json.loads(result.stdout.splitlines()[-1])
    assert (result.returncode, error["event"]) == (1, "error"), (result.stdout, result.stderr)
    return error, result.stderr


def test_a_swift_that_hangs_is_one_clean_error_after_the_request_deadline(local_cloud: LocalCloud) -> None:
    proxy = State.load(local_cloud.root).pids["swift-proxy"]
    error, stderr = _status_while_paused(lambda: os.kill(proxy, signal.SIGSTOP),
                                         lambda: os.kill(proxy, signal.SIGCONT))
    assert error["message"].startswith("status of cluster ft-nothing failed: cloud request: "), error
    assert "timed out" in error["message"] and "Traceback" not in stderr, error


def test_a_keystone_that_hangs_is_one_line_naming_keystone(local_cloud: LocalCloud) -> None:
    keystone = State.load(local_cloud.root).pids["keystone"]
    # gunicorn and its worker, the whole group
    error, stderr = _status_while_paused(lambda: os.killpg(keystone, signal.SIGSTOP),
                                         lambda: os.killpg(keystone, signal.SIGCONT))
    assert error["message"].startswith("status of cluster ft-nothing failed: Keystone: "), error
    assert "Traceback" not in stderr, stderr
    poll(lambda: local_cloud.session("demo", "demo").get_token() is not None, 60, "Keystone to answer again")


def test_heat_killed_mid_create_and_restarted_is_healed_by_launching_again(local_cloud: LocalCloud,
                                                                            tmp_path: Path) -> None:
    path = write_spec(tmp_path, "ft-heat")
    state = State.load(local_cloud.root)
    trusts_before = {t.id for t in local_cloud.admin().trusts.list()}
    try:
        process = _start("launch", str(path))
        assert process.stdout is not None
        for raw in process.stdout:
            if json.loads(raw).get("message", "").startswith("waiting for stack"):
                os.kill(state.pids["heat"], signal.SIGKILL)  # the engine dies with the stack in progress
                break
        status, error, stderr = _finish(process)
        assert (status, error["event"]) == (1, "error") and "Traceback" not in stderr, (error, stderr)
        assert error["message"].startswith("launch of cluster ft-heat failed: Heat: "), error
        processes.wait_until(lambda: not processes.alive(state.pids["heat"]), 30, what="Heat to exit")
        state.pids["heat"] = heat.start(state)  # as an operator restarts a crashed engine
        state.save()
        heat.wait_ready(state, state.pids["heat"])
        # The restarted engine marks the stack it abandoned as failed; launch replaces it.
        _, lines, _ = heatdeploy("launch", str(path), "--os-cloud", CLOUD)
        phases = [line["message"] for line in lines if line["event"] == "phase"]
        assert any("deleting it to create it again" in p for p in phases), phases
        assert result_of(lines)["state"] == "active"
        status, lines, _ = heatdeploy("status", "ft-heat", "--os-cloud", CLOUD, "--check", check=False)
        assert status == 0, result_of(lines)
    finally:
        heatdeploy("delete", "ft-heat", "--os-cloud", CLOUD, check=False)
    assert {t.id for t in local_cloud.admin().trusts.list()} <= trusts_before
    with registry.using(local_cloud.root):
        assert not [s for s in registry.all_of("servers") if str(s.get("name", "")).startswith("ft-heat-")]


def test_a_scale_finishes_through_the_trust_after_the_users_token_expired(local_cloud: LocalCloud,
                                                                           tmp_path: Path) -> None:
    lifetime = 15
    plugins, loaded = bare_cluster("ft-scale-token", 1)
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE)
    try:
        manager.launch(loaded, Options())
        lifecycle.up(local_cloud.root, token_expiration=lifetime, log=lambda line: None)
        # From the stack update on, everything must work with the user's token dead.
        user, token_expired, hold_until_expired = one_token_user(local_cloud, lifetime, "updating stack")
        summary = ClusterManager(user, plugins, on_event=hold_until_expired).scale("ft-scale-token", {"node": 3})
        assert token_expired()
        assert len(summary.instances) == 3 and summary.state == "active", summary
        assert len(manager.record("ft-scale-token").configured) == 3
        health = manager.status("ft-scale-token").health
        assert health is not None and health.status == "green", health
    finally:
        lifecycle.up(local_cloud.root, token_expiration=3600, log=lambda line: None)
        ClusterManager(local_cloud.session("demo", "demo"), plugins).delete("ft-scale-token", force=True)
