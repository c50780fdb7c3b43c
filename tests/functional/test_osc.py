"""``openstack heatdeploy ...`` (the OSC plugin) and ``heatdeploy -f table|value`` against the local cloud, as real
processes: the ``openstack`` command of the ``osc`` extra loads the plugin through its entry points."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from heatdeploy.cli.options import plugins
from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cluster import ClusterManager
from heatdeploy.pytest_plugin import CLOUD
from tests.functional.cloudtools import LocalCloud
from tests.unit.distributions import ROOT

BIN = Path(sys.executable).parent
TIMEOUT = 120.0
"""Seconds any one command may take (OSC loads every installed client plugin first: a few seconds)."""


def run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / program
    assert executable.exists(), f"{executable} is missing: install heatdeploy's osc extra (scripts/setup does)"
    return subprocess.run([str(executable), *args], capture_output=True, text=True, timeout=TIMEOUT, check=False)


def openstack(*args: str) -> subprocess.CompletedProcess[str]:
    return run("openstack", "--os-cloud", CLOUD, "heatdeploy", *args)


def heatdeploy(*args: str) -> subprocess.CompletedProcess[str]:
    return run("heatdeploy", *args, "--os-cloud", CLOUD)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.args, done.stderr)
    return done.stdout


@pytest.fixture
def spark_spec(local_cloud: LocalCloud, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Spark spec with a name of its own; its cluster is deleted afterwards whatever the test did."""
    name = f"ft-osc-{uuid.uuid4().hex[:6]}"
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    yield name, path
    manager = ClusterManager(load_cloud(CLOUD).session, plugins(), trustee_cloud=None)
    if manager.cloud.stacks.find(name) is not None or manager.cloud.records.load(name) is not None:
        manager.delete(name, force=True)


def test_launch_show_list_and_delete_through_the_openstack_command(spark_spec: tuple[str, Path]) -> None:
    name, spec = spark_spec
    # --no-wait: the stack is being created; what is tested here is the plugin, not the configuration.
    assert ok(openstack("cluster", "launch", str(spec), "--no-wait", "-f", "value", "-c", "name")) == f"{name}\n"
    shown = json.loads(ok(openstack("cluster", "show", name, "--no-health", "-f", "json", "-c", "name",
                                    "-c", "plugin", "-c", "trust_id")))
    assert shown["name"] == name and shown["plugin"] == "spark"
    assert shown["trust_id"], "the cloud entry's heatdeploy_trustee_cloud puts the cluster in trust mode"
    listed = json.loads(ok(openstack("cluster", "list", "-f", "json")))
    assert all(set(c) == {"name", "state", "plugin", "version", "stack_status"} for c in listed), listed
    assert [(c["plugin"], c["version"]) for c in listed if c["name"] == name] == [("spark", "4.0")], listed

    table = ok(heatdeploy("status", name, "--no-health", "-f", "table", "-c", "name", "-c", "plugin"))
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table.splitlines() if line.startswith("|")]
    assert rows == [["Field", "Value"], ["name", name], ["plugin", "spark"]], table
    assert name in ok(heatdeploy("list", "-f", "value", "-c", "name")).split()

    assert ok(openstack("cluster", "delete", name)) == ""
    assert name not in ok(heatdeploy("list", "-f", "value", "-c", "name")).split()


def test_errors_are_one_line_with_heatdeploys_exit_statuses(local_cloud: LocalCloud) -> None:
    missing = openstack("cluster", "show", "no-such-cluster", "-f", "json")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr.strip().splitlines()[-1] == "no cluster named no-such-cluster", missing.stderr
    assert "Traceback" not in missing.stderr
    bad_column = heatdeploy("list", "-f", "value", "-c", "nmae")
    assert bad_column.returncode == 2
    assert bad_column.stderr == ("heatdeploy: error: -c/--column: no column 'nmae' in a cluster list "
                                 "(columns: name, state, plugin, version, stack_status)\n")


def test_binary_upload_list_and_delete_through_the_openstack_command(local_cloud: LocalCloud, tmp_path: Path) -> None:
    container = f"ft-osc-{uuid.uuid4().hex[:6]}"
    program = tmp_path / "job.py"
    program.write_text(f"print({container!r})\n")
    url = ok(openstack("binary", "upload", str(program), "--container", container, "-f", "value", "-c", "url"))
    url = url.strip()
    assert url.startswith(f"swift://{container}/sha256/"), url
    listed = json.loads(ok(openstack("binary", "list", "--container", container, "-f", "json")))
    assert [(b["url"], b["size"]) for b in listed] == [(url, program.stat().st_size)]
    assert ok(openstack("binary", "delete", url)) == ""
    assert ok(heatdeploy("binary", "list", "--container", container, "-f", "value", "-c", "url")) == ""
