"""The main job end to end on the local cloud: launch, inspect, scale and delete a real Spark cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml
from keystoneclient.v3 import client as ks_client

from heatdeploy import load_and_validate, load_plugins
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.local import lifecycle, processes
from tests.functional.cloudtools import LocalCloud, heat_for, one_token_user, poll

ROOT = Path(__file__).resolve().parents[2]
CLOUD = "heatdeploy-local"


def heatdeploy(*args: str, check: bool = True, timeout: float = 600) -> tuple[int, list[dict[str, Any]], str]:
    """Run the CLI with JSON output; return (exit status, JSON lines, stderr)."""
    options, rest = (args[:args.index("--")], args[args.index("--"):]) if "--" in args else (args, ())
    result = subprocess.run([sys.executable, "-m", "heatdeploy", *options, "--format", "json", *rest], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout, check=False)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if check and result.returncode != 0:
        raise AssertionError(f"heatdeploy {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                             f"{result.stderr}")
    return result.returncode, lines, result.stderr


def result_of(lines: list[dict[str, Any]]) -> dict[str, Any]:
    final = [line for line in lines if line["event"] in ("result", "error")]
    assert final, f"no result in {lines}"
    return final[-1]


def write_spec(tmp: Path, name: str, **changes: Any) -> Path:
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"] = name
    spec.update(changes)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def instance_pids(cloud: LocalCloud, name: str) -> list[int]:
    """Processes of the local instances whose name starts with ``name``."""
    return [pid for pid in processes.pids_mentioning(f"{cloud.root}/") if f" {name}" in _cmdline(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def workers_alive(status: dict[str, Any]) -> str:
    return status["health"]["checks"]["spark-workers"]["message"]


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        heatdeploy("delete", name, "--os-cloud", CLOUD, "--force", check=False)


def test_spark_cluster_lifecycle(local_cloud: LocalCloud, tmp_path: Path, cleanup: list[str]) -> None:
    spec = write_spec(tmp_path, "ft-spark")
    cleanup.append("ft-spark")
    _, lines, _ = heatdeploy("launch", str(spec), "--os-cloud", CLOUD)
    launched = result_of(lines)
    assert [i["name"] for i in launched["instances"]] == ["ft-spark-master-0", "ft-spark-worker-0",
                                                          "ft-spark-worker-1"]
    assert launched["trust_id"], "the CLI uses trust mode on the local cloud"
    assert {"phase", "stack", "step_started", "instance_done", "step_done"} <= {line["event"] for line in lines}

    _, lines, _ = heatdeploy("status", "ft-spark", "--os-cloud", CLOUD)
    status = result_of(lines)
    assert status["health"]["status"] == "green", status["health"]
    assert workers_alive(status).endswith("2 of 2 workers alive")

    _, lines, _ = heatdeploy("launch", str(spec), "--os-cloud", CLOUD)
    assert any("already matches" in line.get("message", "") for line in lines)

    _, lines, _ = heatdeploy("renew", "ft-spark", "--days", "1", "--os-cloud", CLOUD)
    renewed = result_of(lines)
    admin = local_cloud.admin()
    trusts = {t.id: t for t in admin.trusts.list()}
    assert launched["trust_id"] not in trusts and renewed["trust_id"] in trusts
    assert [r["name"] for r in admin.trusts.get(renewed["trust_id"]).roles] == ["member"]

    _, lines, _ = heatdeploy("scale", "ft-spark", "worker=3", "--os-cloud", CLOUD)
    assert len(result_of(lines)["instances"]) == 4
    _, lines, _ = heatdeploy("status", "ft-spark", "--os-cloud", CLOUD)
    assert workers_alive(result_of(lines)).endswith("3 of 3 workers alive")

    _, lines, _ = heatdeploy("scale", "ft-spark", "worker=1", "--remove", "ft-spark-worker-0", "--os-cloud", CLOUD)
    remaining = [i["name"] for i in result_of(lines)["instances"]]
    # worker-0 as named, then the highest index (worker-2) to get down to one.
    assert remaining == ["ft-spark-master-0", "ft-spark-worker-1"], remaining
    _, lines, _ = heatdeploy("status", "ft-spark", "--os-cloud", CLOUD)
    assert workers_alive(result_of(lines)).endswith("1 of 1 workers alive")
    assert not instance_pids(local_cloud, "ft-spark-worker-0")
    assert not instance_pids(local_cloud, "ft-spark-worker-2")
    assert instance_pids(local_cloud, "ft-spark-worker-1")

    trust_id = renewed["trust_id"]
    heatdeploy("delete", "ft-spark", "--os-cloud", CLOUD)
    cleanup.clear()
    heat = heat_for(local_cloud.session("demo", "demo"))
    assert not [s for s in heat.stacks.list() if s.stack_name == "ft-spark"]
    assert trust_id not in {t.id for t in admin.trusts.list()}
    assert not instance_pids(local_cloud, "ft-spark-")
    _, lines, _ = heatdeploy("list", "--os-cloud", CLOUD)
    assert "ft-spark" not in {c["name"] for c in result_of(lines)["clusters"]}


def test_unknown_flavor_fails_clearly_and_deletes(local_cloud: LocalCloud, tmp_path: Path,
                                                  cleanup: list[str]) -> None:
    spec = write_spec(tmp_path, "ft-flavor", flavor="m1.huge")
    cleanup.append("ft-flavor")
    status, lines, _ = heatdeploy("launch", str(spec), "--os-cloud", CLOUD, check=False)
    assert status == 1
    error = result_of(lines)
    assert error["event"] == "error"
    assert "Flavor m1.huge could not be found" in error["message"], error["message"]
    assert "server" in error["message"]
    heatdeploy("delete", "ft-flavor", "--os-cloud", CLOUD)
    cleanup.clear()
    assert not instance_pids(local_cloud, "ft-flavor-")


def test_an_image_without_the_framework_fails_the_image_check_naming_each_instance(
        local_cloud: LocalCloud, tmp_path: Path, cleanup: list[str]) -> None:
    spec = write_spec(tmp_path, "ft-step", configs={"spark_home": "/nonexistent/spark"})
    cleanup.append("ft-step")
    status, lines, _ = heatdeploy("launch", str(spec), "--os-cloud", CLOUD, check=False)
    assert status == 1
    failed = {line["instance"]: line for line in lines if line["event"] == "instance_failed"}
    assert sorted(failed) == ["ft-step-master-0", "ft-step-worker-0", "ft-step-worker-1"], lines
    assert {line["step"] for line in failed.values()} == {"image"}
    message = result_of(lines)["message"]
    assert "lacks what spark 4.0 needs: /nonexistent/spark/bin/spark-class" in message, message
    started = [line["step"] for line in lines if line["event"] == "step_started"]
    assert "ssh" in started and not [s for s in started if s.startswith("spark-")], started
    heatdeploy("delete", "ft-step", "--os-cloud", CLOUD)
    cleanup.clear()
    assert not instance_pids(local_cloud, "ft-step-")


def test_bad_spec_exits_2_and_creates_nothing(local_cloud: LocalCloud, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "ft-bad", version="9.9")
    status, lines, stderr = heatdeploy("launch", str(spec), "--os-cloud", CLOUD, check=False)
    assert status == 2
    assert "version: Spark version '9.9' is not supported" in stderr
    _, lines, _ = heatdeploy("list", "--os-cloud", CLOUD)
    assert "ft-bad" not in {c["name"] for c in result_of(lines)["clusters"]}


def test_launch_finishes_through_the_trust_after_the_users_token_expired(local_cloud: LocalCloud,
                                                                          tmp_path: Path) -> None:
    lifetime = 15
    lifecycle.up(local_cloud.root, token_expiration=lifetime, log=lambda line: None)
    # Once the stack is submitted, everything after must work with the user's token dead.
    user, token_expired, hold_until_expired = one_token_user(local_cloud, lifetime, "waiting for stack")

    plugins = load_plugins()
    loaded = load_and_validate(str(write_spec(tmp_path, "ft-token")), plugins)
    manager = ClusterManager(user, plugins, trustee_cloud="heatdeploy-local-trustee", on_event=hold_until_expired)
    try:
        summary = manager.launch(loaded, Options())
        assert token_expired()
        assert summary.state == "active"
        assert len(summary.instances) == 3
    finally:
        lifecycle.up(local_cloud.root, token_expiration=3600, log=lambda line: None)
        ClusterManager(local_cloud.session("demo", "demo"), plugins).delete("ft-token", force=True)
    assert not instance_pids(local_cloud, "ft-token-")


def test_proxy_gateway_plan_and_an_instance_refusing_ssh(local_cloud: LocalCloud, tmp_path: Path,
                                                          cleanup: list[str]) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"] = "ft-gw"
    spec["node_groups"][0]["proxy_gateway"] = True
    spec["node_groups"][1]["count"] = 1
    path = tmp_path / "ft-gw.yaml"
    path.write_text(yaml.safe_dump(spec))
    cleanup.append("ft-gw")

    _, lines, _ = heatdeploy("plan", str(path), "--os-cloud", CLOUD)
    added = result_of(lines)["changes"]["added"]
    assert {"ft-gw-master-0/server (OS::Nova::Server)", "ft-gw-worker-0/server (OS::Nova::Server)",
            "master_security_group (OS::Neutron::SecurityGroup)"} <= set(added), json.dumps(added)

    _, lines, _ = heatdeploy("launch", str(path), "--os-cloud", CLOUD)
    instances = {i["name"]: i for i in result_of(lines)["instances"]}
    assert instances["ft-gw-master-0"]["proxy_gateway"] and not instances["ft-gw-worker-0"]["proxy_gateway"]

    manager = ClusterManager(local_cloud.session("demo", "demo"), load_plugins())
    summary = manager.status("ft-gw", check_health=False)
    connections = manager.connections(manager.record("ft-gw"), summary.instances, Options())
    try:
        worker = next(i for i in summary.instances if i.group == "worker")
        remote = connections.get(worker)
        assert isinstance(remote.transport.sock, paramiko.Channel), "the worker is reached through the gateway"
        assert remote.run(["hostname"]).stdout.strip() == "ft-gw-worker-0"
    finally:
        connections.close()

    relay_log = tmp_path / "relay.log"
    relay = f"{sys.executable} {Path(__file__).parent / 'relay.py'} {{host}} {{port}} {relay_log}"
    _, lines, _ = heatdeploy("status", "ft-gw", "--os-cloud", CLOUD, "--proxy-command", relay)
    assert result_of(lines)["health"]["status"] == "green"
    master_ip = instances["ft-gw-master-0"]["floating_ip"]
    # Only the gateway is reached through the proxy command (at its floating IP); the worker through the gateway.
    assert set(relay_log.read_text().split()) == {f"{master_ip}:22"}

    spec["node_groups"][1]["count"] = 2
    path.write_text(yaml.safe_dump(spec))
    _, lines, _ = heatdeploy("plan", str(path), "--os-cloud", CLOUD)
    changes = result_of(lines)["changes"]
    assert changes["added"] == ["ft-gw-worker-1 (instance)"], json.dumps(changes)
    assert not changes["deleted"] and not changes["replaced"], json.dumps(changes)
    spec["node_groups"][1]["count"] = 1
    path.write_text(yaml.safe_dump(spec))
    _, lines, _ = heatdeploy("plan", str(path), "--os-cloud", CLOUD)
    assert result_of(lines)["changes"] == {}

    for pid in instance_pids(local_cloud, "ft-gw-worker-0"):
        os.kill(pid, signal.SIGKILL)
    poll(lambda: not instance_pids(local_cloud, "ft-gw-worker-0"), 30, "the worker's sshd to stop")
    status, lines, _ = heatdeploy("status", "ft-gw", "--os-cloud", CLOUD, "--check", check=False)
    assert status == 1
    health = result_of(lines)["health"]
    assert health["checks"]["ssh"]["status"] == "yellow"
    assert "ft-gw-worker-0" in health["checks"]["ssh"]["message"]
    status, lines, _ = heatdeploy("scale", "ft-gw", "worker=2", "--os-cloud", CLOUD, check=False)
    assert status == 1
    assert "ft-gw-worker-0" in result_of(lines)["message"], result_of(lines)

    heatdeploy("delete", "ft-gw", "--os-cloud", CLOUD)
    cleanup.clear()
    assert not instance_pids(local_cloud, "ft-gw-")


def test_token_and_application_credentials_work(local_cloud: LocalCloud) -> None:
    demo = local_cloud.session("demo", "demo")
    credential = ks_client.Client(session=demo).application_credentials.create(
        name="ft-appcred", roles=[{"name": "member"}])
    clouds_file = Path(os.environ["OS_CLIENT_CONFIG_FILE"])
    original = clouds_file.read_text()
    clouds = yaml.safe_load(original)
    base = {"region_name": "RegionOne", "interface": "public", "identity_api_version": 3}
    clouds["clouds"]["ft-appcred"] = {**base, "auth_type": "v3applicationcredential", "auth": {
        "auth_url": local_cloud.auth_url, "application_credential_id": credential.id,
        "application_credential_secret": credential.secret}}
    clouds["clouds"]["ft-token"] = {**base, "auth_type": "v3token", "auth": {
        "auth_url": local_cloud.auth_url, "token": demo.get_token(), "project_name": "demo",
        "project_domain_name": "Default"}}
    clouds_file.write_text(yaml.safe_dump(clouds))
    try:
        for cloud in ("ft-appcred", "ft-token"):
            status, lines, stderr = heatdeploy("list", "--os-cloud", cloud, check=False)
            assert status == 0, stderr
            assert "clusters" in result_of(lines)
        status, lines, _ = heatdeploy("list", "--os-cloud", "no-such-cloud", check=False)
        assert status == 1 and "no-such-cloud" in result_of(lines)["message"]
    finally:
        clouds_file.write_text(original)
        ks_client.Client(session=demo).application_credentials.delete(credential.id)


def test_pytest_fixture_for_plugin_authors(heatdeploy_cluster: Any, tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"], spec["node_groups"][1]["count"] = "ft-fixture", 1
    cluster = heatdeploy_cluster(spec)
    assert cluster.summary.health.status == "green", cluster.summary.health
    assert cluster.summary.endpoints["master"].startswith("spark://")
    assert cluster.ssh("ft-fixture-worker-0", ["hostname"]).stdout.strip() == "ft-fixture-worker-0"
    script = tmp_path / "count.sh"
    script.write_text('echo "$(grep -c ft-fixture /etc/hosts) members"\n')
    job = cluster.run_job("shell", script, wait=120)
    assert job.state == "SUCCEEDED", job
    assert cluster.jobs.logs(job.id).decode().strip() == "2 members"
    health = cluster.scale(worker=2).health
    assert health.checks["spark-workers"].message.endswith("2 of 2 workers alive"), health
