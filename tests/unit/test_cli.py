"""The command line: exit statuses, output formats, files written."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
import unittest
import unittest.mock
from pathlib import Path

import jsonschema
import yaml

from heatdeploy import ExitStatus, HeatdeployError, SpecError
from heatdeploy.cli.main import describe_failure, main
from heatdeploy.errors import blame
from tests.unit.distributions import ROOT

EXAMPLES = ROOT / "examples"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse usage errors and --help
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


class UsageErrorTest(unittest.TestCase):
    def test_a_usage_error_is_one_line_and_exit_2(self) -> None:
        status, out, err = run("validate")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, "heatdeploy validate: error: the following arguments are required: SPEC "
                              "(see heatdeploy validate --help)\n")

    def test_a_usage_error_is_a_json_error_event_when_json_was_asked(self) -> None:
        for fmt in (["--format", "json"], ["-f", "json"], ["--format=json"]):
            with self.subTest(fmt=fmt):
                status, out, err = run("list", *fmt, "--no-such-option")
                self.assertEqual((status, err), (2, ""))
                self.assertEqual(json.loads(out), {"event": "error", "exit_status": 2,
                                                   "message": "heatdeploy: unrecognized arguments: "
                                                              "--no-such-option"})


class CliTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)

    def broken_spec(self) -> str:
        path = self.tmp / "broken.yaml"
        path.write_text((EXAMPLES / "spark.yaml").read_text().replace("count: 2", "count: -2")
                        .replace("plugin: spark", "plugin: sparc"))
        return str(path)

    @staticmethod
    def line_of(path: str, text: str) -> int:
        """The line ``text`` is on, so the example may gain lines without breaking these tests."""
        return next(n for n, line in enumerate(Path(path).read_text().splitlines(), 1) if text in line)

    def test_validate_examples(self) -> None:
        status, out, err = run("validate", str(EXAMPLES / "spark.yaml"), str(EXAMPLES / "hadoop.yaml"))
        self.assertEqual((status, err), (0, ""))
        self.assertIn("spark.yaml: valid (spark 4.0, 3 instance(s) in 2 node group(s))", out)

    def test_validate_reports_every_problem_and_exits_2(self) -> None:
        path = self.broken_spec()
        status, out, err = run("validate", path)
        self.assertEqual(status, 2)
        self.assertEqual(err.splitlines(), [
            f"{path}:5: plugin: unknown plugin 'sparc'; did you mean 'spark'? (installed: hadoop, spark)",
            f"{path}:{self.line_of(path, 'count: -2')}: node_groups[1].count: must be at least 0, not -2",
        ])
        self.assertNotIn("Traceback", err)

    def test_validate_json(self) -> None:
        path = self.broken_spec()
        status, out, _ = run("validate", "--format", "json", str(EXAMPLES / "spark.yaml"), path)
        self.assertEqual(status, 2)
        report = json.loads(out)
        self.assertFalse(report["valid"])
        self.assertEqual([f["valid"] for f in report["files"]], [True, False])
        self.assertEqual(report["files"][1]["errors"][1], {
            "file": path, "line": self.line_of(path, "count: -2"), "path": "node_groups[1].count",
            "message": "must be at least 0, not -2"})

    def test_render_to_stdout_and_directory(self) -> None:
        status, out, _ = run("render", str(EXAMPLES / "spark.yaml"))
        self.assertEqual(status, 0)
        self.assertEqual(str(yaml.safe_load(out)["heat_template_version"]), "2021-04-16")
        status, out, _ = run("render", str(EXAMPLES / "spark.yaml"), "-o", str(self.tmp / "out"))
        self.assertEqual(status, 0)
        self.assertEqual(sorted(p.name for p in (self.tmp / "out").iterdir()), [
            "cluster.yaml", "environment.yaml", "instance-master.yaml", "instance-worker.yaml"])

    def test_render_refuses_a_broken_spec(self) -> None:
        status, out, err = run("render", self.broken_spec(), "-o", str(self.tmp / "out"))
        self.assertEqual((status, out), (2, ""))
        self.assertFalse((self.tmp / "out").exists())

    def test_schema_matches_the_validator(self) -> None:
        status, out, _ = run("schema")
        self.assertEqual(status, 0)
        schema = json.loads(out)
        jsonschema.Draft202012Validator.check_schema(schema)
        for example in EXAMPLES.glob("*.yaml"):
            jsonschema.validate(yaml.safe_load(example.read_text()), schema)
        bad = yaml.safe_load((EXAMPLES / "spark.yaml").read_text()) | {"netwrk": "x"}
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        self.assertEqual(schema["properties"]["plugin"]["enum"], ["hadoop", "spark"])
        spark = yaml.safe_load((EXAMPLES / "spark.yaml").read_text())
        wrong = {
            "an unsupported version": spark | {"version": "9.9"},
            "an unknown process": spark | {"anti_affinity": ["executor"]},
            "an unknown config": spark | {"configs": {"executor_memery": "1g"}},
            "a config of the wrong type": spark | {"configs": {"start_timeout": "soon"}},
            "a cluster-scope config in a group": spark | {"node_groups": [
                spark["node_groups"][0] | {"configs": {"spark_home": "/opt/x"}}, spark["node_groups"][1]]},
        }
        for what, document in wrong.items():
            with self.subTest(what), self.assertRaises(jsonschema.ValidationError):
                jsonschema.validate(document, schema)
        jsonschema.validate(spark | {"node_groups": [spark["node_groups"][0] | {"configs": {"worker_cores": 2}},
                                                     spark["node_groups"][1]]}, schema)
        group = schema["properties"]["node_groups"]["items"]
        self.assertEqual(group["required"], ["name", "count", "processes"])
        self.assertEqual(group["properties"]["volumes"]["properties"]["mount_prefix"]["default"],
                         "/volumes/disk")

    def test_plugins_listing(self) -> None:
        status, out, _ = run("plugins")
        self.assertEqual(status, 0)
        self.assertIn("framework spark (Spark): versions 3.5, 4.0\n", out)
        self.assertIn("    config worker_cores (int, node_group, default 0): Cores a worker offers", out)
        self.assertIn("    between instances: master 7077, 7100-7115, 7200-7215, 8080; worker 7078", out)
        self.assertIn("    job types: spark, shell\n", out)
        status, out, _ = run("plugins", "--format", "json")
        report = json.loads(out)
        self.assertEqual(sorted(p["name"] for p in report["plugins"]), ["hadoop", "spark"])
        spark = report["frameworks"]["spark"]
        self.assertEqual((spark["job_types"], spark["ports"]), (["spark", "shell"], {"master": [7077, 8080],
                                                                                     "worker": [8081]}))
        self.assertEqual(spark["configs"][0], {"name": "spark_home", "type": "str", "default": "/opt/spark",
                                               "scope": "cluster",
                                               "description": "Where Spark is installed on the image."})
        self.assertEqual(report["frameworks"]["hadoop"]["job_types"], ["mapreduce", "streaming"])

    def test_job_run_help_lists_the_installed_job_types(self) -> None:
        status, out, _ = run("job", "run", "--help")
        self.assertEqual(status, 0)
        self.assertIn("spark, shell (spark)", " ".join(out.split()))

    def test_every_command_has_help_with_an_example(self) -> None:
        for command in ("validate", "render", "schema", "plugins"):
            with self.subTest(command=command):
                status, out, _ = run(command, "--help")
                self.assertEqual(status, 0)
                self.assertIn("example:\n  heatdeploy " + command, out)

    def test_usage_error_exits_2(self) -> None:
        status, _, err = run("validate")
        self.assertEqual(status, 2)
        self.assertIn("the following arguments are required: SPEC", err)



class ErrorReportTest(unittest.TestCase):
    """Every failure is one line and an exit status, reported in one place; --debug adds the traceback."""

    def test_a_failure_is_one_line_with_a_final_json_error_event(self) -> None:
        status, out, err = run("status", "demo", "--os-cloud", "no-such-cloud", "--format", "json")
        self.assertEqual(status, 1)
        event = json.loads(out.splitlines()[-1])
        self.assertEqual((event["event"], event["exit_status"]), ("error", 1))
        self.assertIn("cannot load cloud no-such-cloud", event["message"])
        self.assertNotIn("Traceback", out + err)

    def test_an_unexpected_error_is_one_line_unless_debug(self) -> None:
        with unittest.mock.patch("heatdeploy.cli.main.schema_for", side_effect=RuntimeError("boom")):
            status, out, err = run("schema")
            self.assertEqual((status, out), (1, ""))
            self.assertEqual(err, "heatdeploy: error: internal error: RuntimeError: boom "
                                  "(run with --debug for the traceback)\n")
            status, _, err = run("--debug", "schema")
        self.assertEqual(status, 1)
        self.assertIn("Traceback (most recent call last)", err)
        self.assertTrue(err.rstrip().endswith("(run with --debug for the traceback)"))

    def test_cloud_library_errors_name_the_service(self) -> None:
        from keystoneauth1 import exceptions as keystone
        from swiftclient.exceptions import ClientException

        self.assertEqual(describe_failure(ClientException("Object PUT failed", http_status=507)),
                         "Swift: Object PUT failed: 507")
        self.assertTrue(describe_failure(keystone.ConnectFailure("refused")).startswith("Keystone: "))
        heat_down = keystone.ConnectFailure("Unable to establish connection to http://heat:8004/v1/p/stacks")
        blame(heat_down, "Heat")  # keystoneauth's errors are every service's: the caller names it
        self.assertEqual(describe_failure(heat_down), f"Heat: {heat_down}")
        self.assertEqual(describe_failure(FileNotFoundError(2, "No such file", "x")), "[Errno 2] No such file: 'x'")

    def test_a_closed_pipe_ends_quietly(self) -> None:
        code = ("import unittest.mock, heatdeploy.cli.main as m\n"
                "unittest.mock.patch.object(m, 'schema_for', side_effect=BrokenPipeError()).start()\n"
                "import sys; sys.argv = ['heatdeploy', 'schema']; m.run()\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual((done.returncode, done.stderr), (1, ""))

    def test_exit_statuses_are_defined_once(self) -> None:
        self.assertEqual([(s.name, int(s)) for s in ExitStatus],
                         [("OK", 0), ("FAILED", 1), ("BAD_INPUT", 2), ("INTERRUPTED", 130)])
        self.assertEqual(SpecError([]).exit_status, ExitStatus.BAD_INPUT)
        self.assertEqual(HeatdeployError("x").exit_status, ExitStatus.FAILED)


if __name__ == "__main__":
    unittest.main()
