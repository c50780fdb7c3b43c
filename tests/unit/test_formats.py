"""-f table|yaml|value and -c: views of a command's result, printed with cliff's formatters."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import unittest
from typing import Any

import yaml

from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import CLUSTER, CLUSTERS, JOBS, PLAN
from heatdeploy.errors import UsageError
from tests.unit.distributions import ROOT
from tests.unit.test_cli import run

SUMMARY: dict[str, Any] = {
    "name": "demo", "state": "active", "plugin": "spark", "version": "4.0", "stack_status": "CREATE_COMPLETE",
    "instances": [{"name": "demo-master-0", "fixed_ip": "10.0.0.2", "floating_ip": "172.24.4.9",
                   "processes": ["master"]},
                  {"name": "demo-worker-0", "fixed_ip": "10.0.0.3", "floating_ip": None, "processes": ["worker"]}],
    "endpoints": {"master": "spark://10.0.0.2:7077"}, "trust_id": None,
    "health": {"status": "green", "checks": {"ssh": {"status": "green", "message": "2 of 2 reachable"}}},
}


def printed(view: Any, data: dict[str, Any], fmt: str, columns: tuple[str, ...] = ()) -> str:
    out, err = io.StringIO(), io.StringIO()
    Progress(fmt, out=out, err=err, view=view, columns=columns).result(data, "the text form")
    return out.getvalue()


class ViewTest(unittest.TestCase):
    def test_a_cluster_is_one_record_with_readable_cells(self) -> None:
        columns, rows = CLUSTER.select(SUMMARY)
        record = dict(zip(columns, rows[0], strict=True))
        self.assertEqual(record["instances"], ["demo-master-0 10.0.0.2 (floating 172.24.4.9) master",
                                               "demo-worker-0 10.0.0.3 worker"])
        self.assertEqual((record["health"], record["health_checks"]), ("green", {"ssh": "green: 2 of 2 reachable"}))

    def test_columns_are_picked_in_the_order_named(self) -> None:
        data = {"clusters": [SUMMARY, {**SUMMARY, "name": "other", "state": "creating"}]}
        self.assertEqual(CLUSTERS.select(data, ["state", "name"]),
                         (("state", "name"), [("active", "demo"), ("creating", "other")]))

    def test_an_unknown_column_is_named_with_the_ones_there_are(self) -> None:
        with self.assertRaises(UsageError) as caught:
            JOBS.select({"jobs": []}, ["id", "stat"])
        self.assertEqual(str(caught.exception), "-c/--column: no column 'stat' in a job list (columns: id, "
                                                "cluster, type, state, instance, created_at, finished_at)")

    def test_a_plan_lists_each_change(self) -> None:
        data = {"name": "demo", "changes": {"added": ["a", "b"], "deleted": ["c"]}}
        self.assertEqual(PLAN.select(data)[1], [("added", "a"), ("added", "b"), ("deleted", "c")])


class FormatTest(unittest.TestCase):
    def test_value_prints_the_cells_of_the_named_columns(self) -> None:
        self.assertEqual(printed(CLUSTER, SUMMARY, "value", ("state", "name")), "active\ndemo\n")
        self.assertEqual(printed(CLUSTERS, {"clusters": [SUMMARY]}, "value", ("name", "stack_status")),
                         "demo CREATE_COMPLETE\n")

    def test_yaml_keeps_structure(self) -> None:
        record = yaml.safe_load(printed(CLUSTER, SUMMARY, "yaml"))
        self.assertEqual(record["endpoints"], {"master": "spark://10.0.0.2:7077"})
        self.assertEqual(len(record["instances"]), 2)

    def test_table_shows_a_record_as_fields_and_values(self) -> None:
        rows = [[cell.strip() for cell in line.split("|")[1:-1]]
                for line in printed(CLUSTER, SUMMARY, "table", ("name", "state")).splitlines() if line.startswith("|")]
        self.assertEqual(rows, [["Field", "Value"], ["name", "demo"], ["state", "active"]])

    def test_text_and_json_are_unchanged(self) -> None:
        self.assertEqual(printed(CLUSTER, SUMMARY, "text"), "the text form\n")
        self.assertEqual(json.loads(printed(CLUSTER, SUMMARY, "json")), {"event": "result", **SUMMARY})


class CommandLineTest(unittest.TestCase):
    def test_column_needs_a_resource_format_and_a_known_column(self) -> None:
        status, out, err = run("list", "--os-cloud", "nowhere", "-c", "name")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, "heatdeploy: error: -c/--column needs -f table, yaml or value (not text)\n")
        status, out, _ = run("status", "demo", "--os-cloud", "nowhere", "-f", "json", "-c", "name")
        self.assertEqual(status, 2)
        self.assertEqual(json.loads(out.splitlines()[-1]),
                         {"event": "error", "exit_status": 2,
                          "message": "-c/--column needs -f table, yaml or value (not json)"})
        status, out, err = run("status", "demo", "--os-cloud", "nowhere", "-f", "value", "-c", "nmae")
        self.assertEqual((status, out), (2, ""))
        self.assertIn("heatdeploy: error: -c/--column: no column 'nmae' in a cluster (columns: name, state,", err)

    def test_commands_without_a_resource_offer_text_and_json_only(self) -> None:
        status, _, err = run("delete", "demo", "-f", "table")
        self.assertEqual(status, 2)
        self.assertIn("invalid choice: 'table' (choose from 'text', 'json')", err)

    def test_offline_commands_import_no_cloud_or_formatting_library(self) -> None:
        code = ("import sys\nfrom heatdeploy.cli.main import main\n"
                f"assert main(['validate', {str(ROOT / 'examples' / 'spark.yaml')!r}]) == 0\n"
                "loaded = sorted(m for m in ('openstack', 'keystoneauth1', 'cliff', 'osc_lib', 'shtab') "
                "if m in sys.modules)\nprint(loaded)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
        self.assertEqual(done.stdout.splitlines()[-1], "[]")
