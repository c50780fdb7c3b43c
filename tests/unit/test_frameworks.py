"""The built-in frameworks' processes, configs and topology rules."""

from __future__ import annotations

import unittest

from heatdeploy import SpecError
from heatdeploy.plugins.hadoop import HADOOP
from heatdeploy.plugins.spark import SPARK
from tests.unit.helpers import HADOOP_SPEC, SPARK_SPEC, load


def errors(text: str) -> list[str]:
    try:
        load(text)
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    return []


class SparkTest(unittest.TestCase):
    def test_needs_exactly_one_master(self) -> None:
        self.assertEqual(errors(SPARK_SPEC.replace("count: 1", "count: 2")), [
            "spec.yaml:9: node_groups[0].count: exactly one 'master' instance is needed, found 2"])
        self.assertEqual(errors(SPARK_SPEC.replace("count: 1", "count: 0")), [
            "spec.yaml:9: node_groups[0].count: exactly one 'master' instance is needed, found 0"])

    def test_needs_a_worker(self) -> None:
        self.assertEqual(errors(SPARK_SPEC.replace("count: 2", "count: 0")), [
            "spec.yaml:12: node_groups[1].count: at least 1 'worker' instance(s) needed, found 0"])

    def test_unknown_process_and_version(self) -> None:
        text = SPARK_SPEC.replace("[worker]", "[wroker]").replace('"4.0"', '"9.9"')
        self.assertEqual(errors(text), [
            "spec.yaml:3: version: Spark version '9.9' is not supported (supported: 3.5, 4.0)",
            "spec.yaml:13: node_groups[1].processes[0]: unknown process 'wroker'; did you mean "
            "'worker'? (allowed: master, worker)",
        ])

    def test_config_names_scopes_and_types(self) -> None:
        text = SPARK_SPEC.replace("network: private", "network: private\nconfigs: {executor_memery: 1g, "
                                  "worker_cores: 2}") + "    configs: {worker_cores: two, daemon_memory: 1g}\n"
        self.assertEqual(errors(text), [
            "spec.yaml:7: configs.executor_memery: unknown Spark config 'executor_memery'; did you mean "
            "'executor_memory'? (allowed: daemon_memory, executor_memory, spark_home, start_timeout, worker_cores, "
            "worker_memory)",
            "spec.yaml:15: node_groups[1].configs.daemon_memory: is a cluster-scope config: set it at "
            "the top-level configs",
            "spec.yaml:15: node_groups[1].configs.worker_cores: must be an integer, not 'two'",
        ])

    def test_config_strings_may_not_break_lines(self) -> None:
        text = SPARK_SPEC.replace("network: private", 'network: private\nconfigs: {executor_memory: "1g\\nspark.x y"}')
        self.assertEqual(errors(text), ["spec.yaml:7: configs.executor_memory: must not contain line breaks or "
                                        "control characters"])

    def test_ports(self) -> None:
        self.assertEqual(SPARK.ports_for(["master", "worker"]), (7077, 8080, 8081))


class HadoopTest(unittest.TestCase):
    def test_valid(self) -> None:
        self.assertEqual(errors(HADOOP_SPEC), [])

    def test_datanodes_at_least_replication(self) -> None:
        self.assertEqual(errors(HADOOP_SPEC.replace("count: 3", "count: 2")), [
            "spec.yaml:12: node_groups[1].count: at least 3 'datanode' instance(s) needed "
            "(dfs.replication is 3), found 2"])
        lowered = HADOOP_SPEC.replace("network: private", "network: private\nconfigs: {dfs.replication: 2}")
        self.assertEqual(errors(lowered.replace("count: 3", "count: 2")), [])

    def test_single_masters(self) -> None:
        text = HADOOP_SPEC.replace("[namenode, resourcemanager]", "[resourcemanager]")
        self.assertEqual(errors(text), [
            "spec.yaml:8: node_groups: exactly one 'namenode' instance is needed, found 0"])
        text = HADOOP_SPEC.replace("[datanode, nodemanager]", "[datanode, nodemanager, historyserver]")
        self.assertEqual(errors(text), [
            "spec.yaml:12: node_groups[1].count: at most 1 'historyserver' instance(s) allowed, found 3"])

    def test_every_process_has_ports(self) -> None:
        self.assertEqual(set(HADOOP.ports), set(HADOOP.processes))
        self.assertIn(9870, HADOOP.ports_for(["namenode"]))


if __name__ == "__main__":
    unittest.main()
