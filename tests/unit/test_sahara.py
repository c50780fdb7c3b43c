"""Sahara templates and sahara-tests scenarios: conversion, notes, bad input, scenario runs on the fake cloud."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
import unittest.mock
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from heatdeploy.cli.main import main
from heatdeploy.jobs.manager import JobError, JobManager
from heatdeploy.jobs.spec import JobSpec
from heatdeploy.plugin.manager import load_plugins
from heatdeploy.sahara.convert import Overrides
from heatdeploy.sahara.importer import import_files, load_converted, spec_text
from heatdeploy.sahara.junit import write_junit
from heatdeploy.sahara.runner import ScenarioRunner, StepResult
from heatdeploy.sahara.scenario import PlannedJob, PlannedStep, ScalingOp, ScenarioCluster
from heatdeploy.spec.problems import SpecError
from tests.unit.test_lifecycle import OnFakeCloud

DATA = Path(__file__).resolve().parent / "data" / "sahara"
SPARK_DEFAULT = [str(p) for p in sorted((DATA / "spark-default").glob("*.json"))]
VANILLA_SHOW = [str(p) for p in sorted((DATA / "vanilla-show").glob("*.json"))]
SCENARIO = [str(DATA / "scenario" / name) for name in ("spark.yaml.mako", "edp.yaml.mako", "credentials.yaml.mako")]
SCENARIO_VARS = {"cluster_name": "ci-spark", "spark_image": "debian-local", "network_private_name": "private"}
PLUGINS = load_plugins()


def notes_of(imported: Any) -> list[str]:
    return [str(n) for c in imported.all for n in c.notes]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


class TemplatesTest(unittest.TestCase):
    def test_a_default_template_set_becomes_a_spark_spec_with_every_drop_reported(self) -> None:
        imported = import_files(SPARK_DEFAULT, {"flavor_id": "m1.small", "neutron_management_network": "private",
                                                "floating_ip_pool": "public"}, PLUGINS, Overrides(image="debian-local"))
        [spark] = imported.specs
        self.assertEqual(spark.spec, {
            "name": "spark-23-default-cluster", "plugin": "spark", "version": "4.0", "network": "private",
            "image": "debian-local",
            "node_groups": [
                {"name": "worker", "count": 2, "processes": ["worker"], "flavor": "m1.small",
                 "floating_ip_pool": "public", "configs": {"worker_cores": 2}},
                {"name": "master", "count": 1, "processes": ["master"], "flavor": "m1.small",
                 "floating_ip_pool": "public"}],
            "configs": {"worker_memory": "1g"}})
        notes = notes_of(imported)
        master = str(DATA / "spark-default" / "master.json")
        self.assertIn(f"{master}:4: node group master: process 'namenode' has no heatdeploy equivalent: dropped "
                      "(heatdeploy's Spark clusters run no HDFS: jobs read and write Swift through staged inputs "
                      "and outputs)", notes)
        self.assertTrue(any("cluster.json:20: config HDFS/dfs.replication has no heatdeploy spark" in n
                            for n in notes), notes)
        self.assertTrue(any("config Spark/Master webui port has no heatdeploy spark equivalent" in n for n in notes))
        self.assertTrue(any("auto_security_group is the unfilled placeholder {auto_security_group}" in n
                            for n in notes))
        self.assertEqual(load_converted(spark, PLUGINS).spec.instance_count, 3)

    def test_an_unfilled_required_placeholder_is_bad_input_naming_the_variable(self) -> None:
        with self.assertRaises(SpecError) as caught:
            import_files(SPARK_DEFAULT, {"neutron_management_network": "private"}, PLUGINS,
                         Overrides(image="debian-local"))
        self.assertRegex(str(caught.exception), r"worker\.json:\d+: node group worker: flavor is the unfilled "
                                                r"placeholder \{flavor_id\} \(pass --var flavor_id=VALUE or "
                                                r"--flavor NAME\)")
        self.assertEqual(caught.exception.exit_status, 2)

    def test_show_output_becomes_a_hadoop_spec_with_volumes_and_a_proxy_gateway(self) -> None:
        imported = import_files(VANILLA_SHOW, {}, PLUGINS, Overrides(image="hadoop-3.4", network="private"))
        spec = imported.specs[0].spec
        self.assertEqual((spec["plugin"], spec["version"], spec["anti_affinity"]), ("hadoop", "3.4", ["datanode"]))
        master, worker = spec["node_groups"]
        self.assertEqual((master["processes"], master["proxy_gateway"], master["floating_ip_pool"]),
                         (["namenode", "resourcemanager", "historyserver"], True, "public"))
        self.assertEqual((worker["count"], worker["flavor"], worker["floating_ip_pool"], worker["volumes"]),
                         (3, "m1.large", None, {"count": 2, "size": 10, "mount_prefix": "/volumes/disk"}))
        self.assertTrue(any("process 'oozie' has no heatdeploy equivalent: dropped" in n for n in notes_of(imported)))
        self.assertIn(f"{VANILLA_SHOW[0]}:1: 'show -f json' prints no cluster or node group configs: add any the "
                      "cluster had to the spec's configs", notes_of(imported))
        load_converted(imported.specs[0], PLUGINS)

    def test_node_group_templates_alone_and_missing_references_are_bad_input(self) -> None:
        with self.assertRaisesRegex(SpecError, "node group templates alone make no cluster"):
            import_files(VANILLA_SHOW[1:], {}, PLUGINS)
        with self.assertRaisesRegex(SpecError, r"node group hd-worker: its template 'hd-worker' is not among the "
                                               "files given"):
            import_files(VANILLA_SHOW[:2], {}, PLUGINS, Overrides(image="i", network="n"))

    def test_configs_convert_to_heatdeploy_types_and_scopes(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            template = {"name": "hd", "plugin_name": "vanilla", "hadoop_version": "2.7.1", "net_id": "private",
                        "default_image_id": "hadoop-3.4",
                        "cluster_configs": {"HDFS": {"dfs.replication": "1", "dfs.blocksize": 67108864}},
                        "node_groups": [
                            {"name": "m", "count": 1, "flavor_id": "2", "node_processes": ["namenode",
                             "resourcemanager"], "node_configs": {"YARN": {"yarn.scheduler.minimum-allocation-mb":
                                                                           "512"}}},
                            {"name": "w", "count": 1, "flavor_id": "2", "node_processes": ["datanode", "nodemanager"],
                             "node_configs": {"HDFS": {"DataNode Heap Size": 2048, "dfs.replication": "two"}}}]}
            path = Path(tmp) / "ct.json"
            path.write_text(json.dumps(template, indent=2))
            imported = import_files([str(path)], {}, PLUGINS)
        spec = imported.specs[0].spec
        self.assertEqual(spec["configs"], {"dfs.replication": 1, "dfs.blocksize": "67108864",
                                           "yarn.scheduler.minimum-allocation-mb": 512})
        self.assertEqual(spec["node_groups"][1]["configs"], {"datanode_heap_size": 2048})
        notes = notes_of(imported)
        self.assertTrue(any("yarn.scheduler.minimum-allocation-mb is set per cluster in heatdeploy: moved to the "
                            "top level" in n for n in notes), notes)
        self.assertTrue(any("config HDFS/dfs.replication: 'two' is not int" in n for n in notes), notes)


class BadInputTest(unittest.TestCase):
    def test_bad_json_is_one_located_line_exit_2(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "broken.json"
            path.write_text('{\n  "name": "x",\n  "node_groups": [\n}\n')
            status, out, err = run_cli("import", "sahara", str(path), "-o", tmp)
        self.assertEqual(status, 2)
        self.assertRegex(err, rf"^{path}:4: invalid JSON: .+\n$")

    def test_undefined_mako_variables_are_named_with_their_lines_exit_2(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            status, _, err = run_cli("import", "sahara", *SCENARIO, "--var", "spark_image=img", "-o", tmp)
            self.assertEqual(list(Path(tmp).iterdir()), [])
        self.assertEqual(status, 2)
        self.assertEqual(err.splitlines(), [
            f"{SCENARIO[2]}:5: undefined variable 'network_private_name' (pass --var network_private_name=VALUE)",
            f"{SCENARIO[0]}:30: undefined variable 'cluster_name' (pass --var cluster_name=VALUE)"])

    def test_a_mako_syntax_error_is_located(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "broken.yaml.mako"
            path.write_text("clusters:\n% for x in [1]:\n  - plugin_name: spark\n<%page args=\"a='1'\n")
            with self.assertRaises(SpecError) as caught:
                import_files([str(path)], {}, PLUGINS)
        [problem] = caught.exception.problems
        self.assertEqual(problem.file, str(path))
        self.assertRegex(problem.message, "^invalid Mako template: ")

    def test_bad_yaml_in_a_scenario_is_located_and_json_mode_ends_with_an_error_event(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bad.yaml"
            path.write_text("clusters:\n  - plugin_name: spark\n    image: [unclosed\n")
            status, out, err = run_cli("import", "sahara", str(path), "--format", "json")
        self.assertEqual(status, 2)
        final = json.loads(out.splitlines()[-1])
        self.assertEqual((final["event"], final["exit_status"]), ("error", 2))
        self.assertRegex(final["problems"][0]["message"], "invalid YAML")
        self.assertRegex(err, rf"^{path}:\d+: invalid YAML")

    def test_a_plugin_without_equivalent_is_bad_input(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cdh.json"
            path.write_text(json.dumps({"name": "c", "plugin_name": "cdh", "hadoop_version": "5.11",
                                        "node_groups": [{"name": "a", "count": 1, "node_processes": ["x"]}]}))
            with self.assertRaisesRegex(SpecError, "Sahara plugin 'cdh' has no heatdeploy equivalent"):
                import_files([str(path)], {}, PLUGINS)


class ScenarioImportTest(unittest.TestCase):
    def test_a_scenario_becomes_a_spec_and_a_flow(self) -> None:
        imported = import_files(SCENARIO, SCENARIO_VARS, PLUGINS)
        [scenario] = imported.scenarios
        spec = scenario.converted.spec
        self.assertEqual((spec["name"], spec["image"], spec["network"]), ("ci-spark", "debian-local", "private"))
        master, worker = spec["node_groups"]
        # sahara-tests gave floating IPs only to the proxy gateways, when there were some.
        self.assertEqual((master["processes"], master["proxy_gateway"], master["floating_ip_pool"]),
                         (["master"], True, "public"))
        self.assertEqual((worker["processes"], worker["count"], worker["floating_ip_pool"]), (["worker"], 1, None))
        self.assertEqual([s.kind for s in scenario.steps], ["run_jobs", "scale"])
        pi, pig = scenario.steps[0].jobs
        self.assertEqual(pi.job, JobSpec(type="spark", binary=str(DATA / "scenario" / "jobs" / "pi.py"), args=["4"],
                                         main_class=None, conf={"spark.executor.memory": "512m"}))
        self.assertEqual(pig.skip, "no heatdeploy job type runs Pig")
        self.assertEqual(scenario.steps[1].scaling, [ScalingOp("add", "worker", 1)])
        self.assertIn(f"{SCENARIO[1]}:13: EDP job pig_job[0] (Pig): skipped: no heatdeploy job type runs Pig",
                      notes_of(imported))
        load_converted(scenario.converted, PLUGINS)

    def test_a_vanilla_scenario_becomes_a_hadoop_spec_with_java_jobs(self) -> None:
        imported = import_files([str(DATA / "scenario" / "vanilla.yaml")], {}, PLUGINS)
        [scenario] = imported.scenarios
        spec = scenario.converted.spec
        self.assertEqual((spec["plugin"], spec["timeout"], spec["configs"]), ("hadoop", 30, {"dfs.replication": 1}))
        self.assertEqual([g["processes"] for g in spec["node_groups"]], [
            ["datanode", "nodemanager"], ["namenode", "resourcemanager", "nodemanager"],
            ["historyserver", "secondarynamenode"]])
        self.assertEqual([s.kind for s in scenario.steps], ["run_jobs", "scale", "run_jobs"])
        java, mapreduce, streaming, hive = scenario.steps[0].jobs
        self.assertEqual(java.job, JobSpec(type="mapreduce", binary=str(DATA / "scenario" / "jobs" /
                                                                        "hadoop-mapreduce-examples.jar"),
                                           main_class="org.apache.hadoop.examples.QuasiMonteCarlo",
                                           args=["10", "10"], conf={"mapreduce.job.maps": "2"}))
        self.assertRegex(mapreduce.skip, "^Sahara's MapReduce jobs are Oozie workflows")
        self.assertRegex(streaming.skip, "^the job has no main_lib")
        self.assertEqual(hive.skip, "no heatdeploy job type runs Hive")
        self.assertEqual(scenario.steps[1].scaling, [ScalingOp("resize", "worker-dn-nm", 1)])
        load_converted(scenario.converted, PLUGINS)

    def test_import_writes_specs_that_validate(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            args = [f"--var={k}={v}" for k, v in SCENARIO_VARS.items()]
            status, out, err = run_cli("import", "sahara", *SCENARIO, *args, "-o", tmp, "--format", "json")
            self.assertEqual(status, 0, err)
            result = json.loads(out.splitlines()[-1])
            [written] = result["specs"]
            self.assertEqual((written["name"], written["plugin"]), ("ci-spark", "spark"))
            self.assertTrue(any("process 'namenode' has no heatdeploy equivalent" in n for n in written["notes"]))
            self.assertEqual(run_cli("validate", written["file"])[0], 0)

    def test_import_never_replaces_a_file_unless_forced(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            args = [f"--var={k}={v}" for k, v in SCENARIO_VARS.items()]
            existing = Path(tmp) / "ci-spark.yaml"
            existing.write_text("mine\n")
            status, _, err = run_cli("import", "sahara", *SCENARIO, *args, "-o", tmp)
            self.assertEqual((status, existing.read_text()), (2, "mine\n"))
            self.assertIn("ci-spark.yaml:1: exists already", err)
            self.assertEqual(run_cli("import", "sahara", *SCENARIO, *args, "-o", tmp, "--force")[0], 0)
            self.assertNotEqual(existing.read_text(), "mine\n")

    def test_a_missing_job_file_is_bad_input_before_anything_runs(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            edp = Path(tmp) / "edp.yaml"
            edp.write_text("edp_jobs_flow:\n  spark_pi:\n    - type: Spark\n      main_lib:\n        type: database\n"
                           "        source: nowhere/pi.py\n")
            with self.assertRaisesRegex(SpecError, r"edp\.yaml:3: edp_jobs_flow: job spark_pi\[0\]: main_lib "
                                                   r"nowhere/pi\.py is not a file"):
                import_files([SCENARIO[0], str(edp), SCENARIO[2]], SCENARIO_VARS, PLUGINS)

    def test_long_names_still_make_host_names(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.yaml"
            group = "w" * 60
            path.write_text(f"clusters:\n  - plugin_name: spark\n    plugin_version: '2.2'\n    image: i\n"
                            f"    node_group_templates:\n      - {{name: m, flavor: f, node_processes: [master]}}\n"
                            f"      - {{name: {group}, flavor: f, node_processes: [slave]}}\n"
                            f"    cluster_template:\n      name: {'c' * 60}\n      node_group_templates:\n"
                            f"        m: 1\n        {group}: 2\n")
            (scenario,) = import_files([str(path)], {"network_private_name": "private"}, PLUGINS,
                                       Overrides(network="private")).scenarios
            load_converted(scenario.converted, PLUGINS)  # instance names within 63 characters

    def test_a_cluster_template_naming_an_unknown_group_is_bad_input(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.yaml"
            path.write_text("clusters:\n  - plugin_name: spark\n    plugin_version: '2.2'\n    image: i\n"
                            "    node_group_templates:\n      - {name: m, flavor: f, node_processes: [master, slave]}\n"
                            "    cluster_template:\n      node_group_templates:\n        m: 1\n        w: 2\n")
            with self.assertRaisesRegex(SpecError, r"s\.yaml:10: cluster_template: node group 'w' is not among"):
                import_files([str(path)], {}, PLUGINS)

    def test_spec_text_is_yaml_dumped_from_data(self) -> None:
        imported = import_files(SCENARIO, {**SCENARIO_VARS, "cluster_name": "CI Spark_1 'quoted'"}, PLUGINS)
        text = spec_text(imported.scenarios[0].converted)
        self.assertIn("name: ci-spark-1-quoted\n", text)
        self.assertTrue(any("cluster name \"CI Spark_1 'quoted'\" becomes 'ci-spark-1-quoted'" in n
                            for n in notes_of(imported)), notes_of(imported))


class ScenarioRunTest(OnFakeCloud):
    def scenario(self, *steps: PlannedStep) -> ScenarioCluster:
        converted = unittest.mock.Mock(spec=["name"])
        return ScenarioCluster(converted, list(steps), job_timeout=30)

    def shell_job(self, name: str) -> PlannedJob:
        program = self.keys / "job.sh"
        program.write_text("true\n")
        return PlannedJob(name, "Shell", job=JobSpec(type="shell", binary=str(program)))

    def run_steps(self, *steps: PlannedStep) -> list[StepResult]:
        runner = ScenarioRunner(self.manager)
        runner.run(self.scenario(*steps), self.spec(1))
        return runner.results

    def test_launch_jobs_scaling_and_delete_each_report_a_result(self) -> None:
        results = self.run_steps(PlannedStep("run_jobs", jobs=[self.shell_job("shell[0]"),
                                                               PlannedJob("pig[0]", "Pig", skip="no Pig")]),
                                 PlannedStep("scale", scaling=[ScalingOp("add", "worker", 2),
                                                               ScalingOp("resize", "master", 1)]),
                                 PlannedStep("transient", skip="no equivalent"))
        self.assertEqual([(r.name, r.status) for r in results], [
            ("launch", "passed"), ("1-run_jobs: shell[0]", "passed"), ("1-run_jobs: pig[0]", "skipped"),
            ("2-scale", "passed"), ("3-transient", "skipped"), ("delete", "passed")])
        self.assertEqual(results[3].message, "worker 1 -> 3")
        self.assertRegex(results[1].message, r"^job job-\S+ SUCCEEDED$")
        self.assertIsNone(self.cloud.records.load("toy"))
        self.assertIsNone(self.cloud.stacks.find("toy"))

    def test_a_failed_launch_skips_the_rest_and_still_deletes(self) -> None:
        with unittest.mock.patch.object(self.manager, "launch", side_effect=JobError("no capacity")):
            results = self.run_steps(PlannedStep("run_jobs", jobs=[self.shell_job("a[0]")]))
        self.assertEqual([(r.name, r.status, r.message) for r in results], [
            ("launch", "failed", "no capacity"), ("1-run_jobs", "skipped", "the cluster did not launch"),
            ("delete", "passed", "nothing to delete: the launch created nothing")])

    def test_ctrl_c_during_a_job_deletes_the_cluster_and_ends_the_run(self) -> None:
        runner = ScenarioRunner(self.manager)
        with unittest.mock.patch.object(JobManager, "wait", side_effect=KeyboardInterrupt), \
                self.assertRaises(KeyboardInterrupt):
            runner.run(self.scenario(PlannedStep("run_jobs", jobs=[self.shell_job("a[0]")]),
                                     PlannedStep("scale", scaling=[ScalingOp("add", "worker", 1)])), self.spec(1))
        self.assertEqual([(r.name, r.status) for r in runner.results], [("launch", "passed"), ("delete", "passed")])
        self.assertIsNone(self.cloud.records.load("toy"))
        # Settled before the delete: the fake's job had ended by then, and is recorded as it ended.
        self.assertEqual([j.state for j in self.cloud.records.list_jobs("toy")], ["SUCCEEDED"])

    def test_a_cluster_of_the_same_name_in_any_state_is_refused_and_kept(self) -> None:
        self.manager.launch(self.spec(1))
        record = self.cloud.records.load("toy")
        record.state = "creating"  # a launch that failed: not this run's to delete either
        self.cloud.records.save(record)
        with self.assertRaisesRegex(JobError, "already exists"):
            ScenarioRunner(self.manager).run(self.scenario(), self.spec(1))
        self.assertIsNotNone(self.cloud.records.load("toy"))

    def test_an_active_cluster_of_the_same_name_is_refused_and_kept(self) -> None:
        self.manager.launch(self.spec(1))
        with self.assertRaisesRegex(JobError, "already exists: a scenario run .* never one it did not make"):
            ScenarioRunner(self.manager).run(self.scenario(), self.spec(1))
        self.assertEqual(self.cloud.records.load("toy").state, "active")

    def test_results_become_junit_xml(self) -> None:
        results = [StepResult("c", "launch", "passed", "active", 12.0), StepResult("c", "1-run_jobs: a", "failed",
                   "job x FAILED: exit 1", 3.0), StepResult("c", "1-run_jobs: b", "skipped", "no Pig")]
        path = self.keys / "out" / "junit.xml"
        write_junit(results, path)
        root = ET.parse(path).getroot()
        self.assertEqual((root.get("tests"), root.get("failures"), root.get("skipped")), ("3", "1", "1"))
        cases = root.findall("testsuite/testcase")
        self.assertEqual([c.get("name") for c in cases], ["launch", "1-run_jobs: a", "1-run_jobs: b"])
        self.assertEqual(cases[1].find("failure").get("message"), "job x FAILED: exit 1")
        self.assertEqual(cases[2].find("skipped").get("message"), "no Pig")

    def test_junit_xml_holds_any_message(self) -> None:
        path = self.keys / "junit.xml"
        write_junit([StepResult("c", "a\x00b", "failed", "\x1b[31mred\x1b[0m & <tag>")], path)
        failure = ET.parse(path).getroot().find("testsuite/testcase/failure")
        self.assertEqual(failure.text, "\ufffd[31mred\ufffd[0m & <tag>")
