"""Which instances a scale-down removes, and how instances are read from stack outputs."""

from __future__ import annotations

import json
import unittest

from heatdeploy.cloud.outputs import OutputError, from_output
from heatdeploy.cluster import ClusterError, _leaving, _spec_text_with_counts, _with_counts
from heatdeploy.plugin.instance import Instance
from tests.unit.helpers import SPARK_SPEC, load


def workers(*indices: int) -> list[Instance]:
    master = Instance("demo-master-0", "m", "master", ("master",), "10.0.0.1", None, "k")
    return [master] + [Instance(f"demo-worker-{i}", f"w{i}", "worker", ("worker",), f"10.0.1.{i}", None, "k")
                       for i in indices]


class LeavingTest(unittest.TestCase):
    def setUp(self) -> None:
        self.spec = load(SPARK_SPEC.replace("count: 2", "count: 4")).spec

    def names(self, counts: dict[str, int], remove: list[str], instances: list[Instance]) -> list[str]:
        return [i.name for i in _leaving(instances, self.spec, _with_counts(self.spec, counts), remove)]

    def test_highest_indices_go_by_default(self) -> None:
        self.assertEqual(self.names({"worker": 2}, [], workers(0, 1, 2, 3)), ["demo-worker-3", "demo-worker-2"])
        self.assertEqual(self.names({"worker": 2}, [], workers(0, 2, 5, 11)), ["demo-worker-11", "demo-worker-5"])

    def test_named_instances_go_first_then_highest(self) -> None:
        self.assertEqual(self.names({"worker": 2}, ["demo-worker-0"], workers(0, 1, 2, 3)),
                         ["demo-worker-0", "demo-worker-3"])
        self.assertEqual(self.names({"worker": 1}, ["demo-worker-1", "demo-worker-0", "demo-worker-2"],
                                    workers(0, 1, 2, 3)), ["demo-worker-1", "demo-worker-0", "demo-worker-2"])

    def test_growing_removes_nothing(self) -> None:
        self.assertEqual(self.names({"worker": 6}, [], workers(0, 1, 2, 3)), [])

    def test_refusals(self) -> None:
        with self.assertRaisesRegex(ClusterError, "no instance named demo-worker-9"):
            self.names({"worker": 3}, ["demo-worker-9"], workers(0, 1, 2, 3))
        with self.assertRaisesRegex(ClusterError, "2 instance.s. of worker named for removal, but its count goes "
                                                  "from 4 to 3"):
            self.names({"worker": 3}, ["demo-worker-0", "demo-worker-1"], workers(0, 1, 2, 3))
        with self.assertRaisesRegex(ClusterError, r"unknown node group\(s\) workers \(groups: master, worker\)"):
            _with_counts(self.spec, {"workers": 1})

    def test_recorded_spec_keeps_everything_but_counts(self) -> None:
        text = _spec_text_with_counts(SPARK_SPEC, _with_counts(self.spec, {"worker": 7}))
        spec = load(text).spec
        self.assertEqual([g.count for g in spec.node_groups], [1, 7])
        self.assertEqual(spec.version, "4.0")


class OutputTest(unittest.TestCase):
    def test_instances_from_stack_output(self) -> None:
        output = [
            {"name": "demo-worker-10", "id": "b", "group": "worker", "processes": ["worker"], "fixed_ip": "10.0.0.3",
             "floating_ip": None, "host_key": json.dumps({"1": "ssh-ed25519 AAAAB"}), "proxy_gateway": False},
            {"name": "demo-worker-9", "id": "a", "group": "worker", "processes": ["worker"], "fixed_ip": "10.0.0.2",
             "floating_ip": "172.24.4.9", "host_key": {"1": "ssh-ed25519 AAAAC"}, "proxy_gateway": True},
            None,
        ]
        found = from_output(output)
        self.assertEqual([i.name for i in found], ["demo-worker-9", "demo-worker-10"])
        self.assertEqual(found[0].host_key, "ssh-ed25519 AAAAC")
        self.assertEqual(found[1].host_key, "ssh-ed25519 AAAAB")
        self.assertEqual((found[0].floating_ip, found[0].proxy_gateway, found[0].index), ("172.24.4.9", True, 9))

    def test_the_key_reported_under_the_servers_id_wins(self) -> None:
        item = {"name": "demo-master-0", "id": "srv-2", "group": "master", "processes": ["master"],
                "fixed_ip": "10.0.0.2"}
        reports = {"srv-1": "ssh-ed25519 OLD", "srv-2": "ssh-ed25519 NEW", "3": "ssh-ed25519 FORGED"}
        self.assertEqual(from_output([{**item, "host_key": json.dumps(reports)}])[0].host_key, "ssh-ed25519 NEW")
        two = {"1": "ssh-ed25519 A", "2": "ssh-ed25519 B"}  # no id to tell them apart: pin nothing
        self.assertIsNone(from_output([{**item, "host_key": two}])[0].host_key)
        same = {"1": "ssh-ed25519 A", "2": "ssh-ed25519 A"}
        self.assertEqual(from_output([{**item, "host_key": same}])[0].host_key, "ssh-ed25519 A")

    def test_host_key_not_reported(self) -> None:
        item = {"name": "demo-master-0", "id": "a", "group": "master", "processes": ["master"],
                "fixed_ip": "10.0.0.2", "host_key": None}
        self.assertIsNone(from_output([item])[0].host_key)

    def test_malformed_output(self) -> None:
        with self.assertRaises(OutputError):
            from_output([{"name": "demo-master-0", "group": "master"}])


if __name__ == "__main__":
    unittest.main()
