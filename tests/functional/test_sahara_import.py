"""A sahara-tests Spark scenario converted and run on the local cloud: launch, EDP jobs, scaling, delete."""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from swiftclient import client as swift_client
from swiftclient.exceptions import ClientException

from heatdeploy import load_and_validate, load_plugins
from heatdeploy.cloud.auth import load_cloud
from tests.functional.cloudtools import LocalCloud
from tests.functional.test_jobs import JOBS
from tests.functional.test_launch import CLOUD, ROOT, heatdeploy, result_of

NAME = "ft-sahara"
RESULTS = "ft-sahara-results"
TEXT = "to be or not to be\nthat is the question\n"

# As sahara-tests wrote them: a Mako template with <%page> defaults and variables, the master a proxy gateway.
SCENARIO = """<%page args="is_proxy_gateway='true', ci_flavor_id='m1.small'"/>

clusters:
  - plugin_name: spark
    plugin_version: 2.1.0
    image: ${spark_image}
    node_group_templates:
      - name: master
        flavor: ${ci_flavor_id}
        node_processes: [master, namenode]
        auto_security_group: true
        is_proxy_gateway: ${is_proxy_gateway}
      - name: worker
        flavor: ${ci_flavor_id}
        node_processes: [datanode, slave]
        auto_security_group: true
    cluster_template:
      name: spark210
      node_group_templates:
        master: 1
        worker: 1
      cluster_configs:
        HDFS:
          dfs.replication: 1
    cluster:
      name: ${cluster_name}
    scaling:
      - operation: add
        node_group: worker
        size: 1
    scenario: [run_jobs, scale]
    edp_jobs_flow: [spark_wordcount, spark_fail, pig_job]
"""


def edp(folder: Path) -> str:
    (folder / "input.txt").write_text(TEXT)
    flows = {
        "spark_wordcount": [{"type": "Spark", "main_lib": {"type": "database", "source": str(JOBS / "wordcount.py")},
                             "configs": {"edp.java.main_class": "main", "spark.executor.memory": "512m"},
                             "input_datasource": {"type": "swift", "source": "input.txt"},
                             "output_datasource": {"type": "swift", "destination": "edp-output"},
                             "args": ["{input_datasource}", "{output_datasource}"]}],
        "spark_fail": [{"type": "Spark", "main_lib": {"type": "database", "source": str(JOBS / "fail.py")}}],
        "pig_job": [{"type": "Pig", "main_lib": {"type": "swift", "source": "input.txt"}}],
    }
    return yaml.safe_dump({"edp_jobs_flow": flows, "network": {"private_network": "private",
                                                               "public_network": "public"}})


SLEEPING = """clusters:
  - plugin_name: spark
    plugin_version: 2.1.0
    image: debian-local
    node_group_templates:
      - name: all-in-one
        flavor: m1.small
        node_processes: [master, slave]
    cluster_template:
      node_group_templates: {all-in-one: 1}
    cluster: {name: ft-sahara-term}
    scenario: [run_jobs]
    edp_jobs_flow: [sleeping]
edp_jobs_flow:
  sleeping:
    - type: Spark
      main_lib: {type: database, source: %s}
"""


@pytest.fixture
def scenario(local_cloud: LocalCloud, tmp_path: Path) -> Iterator[list[str]]:
    (tmp_path / "spark.yaml.mako").write_text(SCENARIO)
    (tmp_path / "edp.yaml").write_text(edp(tmp_path))
    swift = swift_client.Connection(session=load_cloud(CLOUD).session)
    try:
        yield [str(tmp_path / "spark.yaml.mako"), str(tmp_path / "edp.yaml"), "--var", f"cluster_name={NAME}",
               "--var", "spark_image=debian-local"]
    finally:
        heatdeploy("delete", NAME, "--os-cloud", CLOUD, "--force", check=False)
        try:
            _, objects = swift.get_container(RESULTS)
            for item in objects:
                swift.delete_object(RESULTS, item["name"])
            swift.delete_container(RESULTS)
        except ClientException:
            pass


def test_a_converted_spark_scenario_runs_and_reports_every_step(scenario: list[str], tmp_path: Path) -> None:
    _, lines, stderr = heatdeploy("import", "sahara", *scenario, "-o", str(tmp_path / "specs"))
    [written] = result_of(lines)["specs"]
    assert any("process 'namenode' has no heatdeploy equivalent" in line["message"] for line in lines
               if line["event"] == "warning"), lines
    assert load_and_validate(written["file"], load_plugins()).spec.name == NAME

    junit = tmp_path / "junit.xml"
    status, lines, stderr = heatdeploy("scenario", "run", *scenario, "--os-cloud", CLOUD, "--junit-xml", str(junit),
                                       "--results-container", RESULTS, check=False, timeout=600)
    steps = {line["step"]: line for line in lines if line["event"] == "scenario_step"}
    assert status == 1, f"a failing job fails the run:\n{stderr}"
    assert {name: line["status"] for name, line in steps.items()} == {
        "launch": "passed", "1-run_jobs: spark_wordcount[0]": "passed",
        "1-run_jobs: spark_fail[0]": "failed", "1-run_jobs: pig_job[0]": "skipped", "2-scale": "passed",
        "delete": "passed"}, stderr
    assert steps["1-run_jobs: spark_fail[0]"]["message"].startswith("job "), steps
    assert "FAILED" in steps["1-run_jobs: spark_fail[0]"]["message"]
    assert steps["2-scale"]["message"] == "worker 1 -> 2"
    result = result_of(lines)
    assert (result["event"], result["passed"], result["counts"]) == (
        "result", False, {"passed": 4, "failed": 1, "skipped": 1})

    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "1", "1")
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["1-run_jobs: spark_fail[0]"]

    # The word count's output went to Swift through the job's output folder.
    output = steps["1-run_jobs: spark_wordcount[0]"]["message"].split("outputs in swift://")[1]
    container, _, prefix = output.partition("/")
    swift = swift_client.Connection(session=load_cloud(CLOUD).session)
    _, body = swift.get_object(container, f"{prefix}counts.json")
    assert json.loads(body) == dict(collections.Counter(TEXT.split()))

    # Nothing is left of the cluster: no record, no stack.
    _, lines, _ = heatdeploy("list", "--os-cloud", CLOUD)
    assert NAME not in {c["name"] for c in result_of(lines)["clusters"]}


def test_a_terminated_scenario_run_deletes_its_cluster(local_cloud: LocalCloud, tmp_path: Path) -> None:
    path = tmp_path / "sleeping.yaml"
    path.write_text(SLEEPING % json.dumps(str(JOBS / "sleep.py")))
    junit = tmp_path / "junit.xml"
    process = subprocess.Popen([sys.executable, "-m", "heatdeploy", "scenario", "run", str(path), "--os-cloud", CLOUD,
                                "--junit-xml", str(junit), "--format", "json"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for raw in process.stdout:  # ends when the process does, whatever happens
            lines.append(json.loads(raw))
            if lines[-1]["event"] == "phase" and lines[-1]["message"].startswith("starting spark job"):
                process.send_signal(signal.SIGTERM)  # a CI job cancelled while the job runs
                break
        out, stderr = process.communicate(timeout=300)
        lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert process.returncode == 130, stderr
        steps = [(line["step"], line["status"]) for line in lines if line["event"] == "scenario_step"]
        assert steps == [("launch", "passed"), ("delete", "passed")], lines[-5:]
        assert lines[-1]["event"] == "error" and lines[-1]["message"].startswith("interrupted"), lines[-1]
        assert [case.get("name") for case in ET.parse(junit).getroot().iter("testcase")] == ["launch", "delete"]
        _, listed, _ = heatdeploy("list", "--os-cloud", CLOUD)
        assert "ft-sahara-term" not in {c["name"] for c in result_of(listed)["clusters"]}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        heatdeploy("delete", "ft-sahara-term", "--os-cloud", CLOUD, "--force", check=False)
