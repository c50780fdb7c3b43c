"""The command line: exit statuses, output formats, files written."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

import jsonschema
import yaml

from heatdeploy.cli import main
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
            f"{path}:18: node_groups[1].count: must be at least 0, not -2",
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
            "file": path, "line": 18, "path": "node_groups[1].count", "message": "must be at least 0, not -2"})

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
        group = schema["properties"]["node_groups"]["items"]
        self.assertEqual(group["required"], ["name", "count", "processes"])
        self.assertEqual(group["properties"]["volumes"]["properties"]["mount_prefix"]["default"],
                         "/volumes/disk")

    def test_plugins_listing(self) -> None:
        status, out, _ = run("plugins")
        self.assertEqual(status, 0)
        self.assertIn("framework spark: versions 3.5, 4.0", out)
        status, out, _ = run("plugins", "--format", "json")
        self.assertEqual(sorted(p["name"] for p in json.loads(out)["plugins"]), ["hadoop", "spark"])

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


if __name__ == "__main__":
    unittest.main()
