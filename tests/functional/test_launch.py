"""The main job end to end on the local cloud: launch, inspect, scale and delete a real Spark cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from heatdeploy.local import processes
from tests.functional.cloudtools import LocalCloud, heat_for

ROOT = Path(__file__).resolve().parents[2]
CLOUD = "heatdeploy-local"


def heatdeploy(*args: str, check: bool = True, timeout: float = 600) -> tuple[int, list[dict[str, Any]], str]:
    """Run the CLI with JSON output; return (exit status, JSON lines, stderr)."""
    result = subprocess.run([sys.executable, "-m", "heatdeploy", *args, "--format", "json"], cwd=ROOT,
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

    trust_id = launched["trust_id"]
    heatdeploy("delete", "ft-spark", "--os-cloud", CLOUD)
    cleanup.clear()
    heat = heat_for(local_cloud.session("demo", "demo"))
    assert not [s for s in heat.stacks.list() if s.stack_name == "ft-spark"]
    admin = local_cloud.admin()
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


def test_failing_step_names_the_instance(local_cloud: LocalCloud, tmp_path: Path, cleanup: list[str]) -> None:
    spec = write_spec(tmp_path, "ft-step", configs={"spark_home": "/nonexistent/spark"})
    cleanup.append("ft-step")
    status, lines, _ = heatdeploy("launch", str(spec), "--os-cloud", CLOUD, check=False)
    assert status == 1
    failed = [line for line in lines if line["event"] == "instance_failed"]
    assert failed and failed[0]["instance"] == "ft-step-master-0", lines
    assert "spark-start-master" in result_of(lines)["message"]
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
