"""`heatdeploy plugin new`: the generated packages install, load through their entry point, and pass
their own unit tests as generated."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.unit.distributions import ROOT, plugins_json, run_cli


def installed(package: Path, site: Path) -> None:
    """pip-install ``package`` into ``site``, offline, as a user would from the generated folder."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), str(package)], check=True, capture_output=True, timeout=120)


class PluginNewTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        self.site = self.tmp / "site"

    def generate(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.site, "plugin", "new", *args, "-o", str(self.tmp))

    def own_unit_tests(self, package: Path) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("HEATDEPLOY_")}
        environ["PYTHONPATH"] = os.pathsep.join([str(self.site), str(ROOT)])
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_units.py"],
                              cwd=package, env=environ, capture_output=True, text=True, timeout=120, check=False)

    def test_a_framework_plugin_installs_lists_and_passes_its_own_tests(self) -> None:
        result = self.generate("my-flink")
        self.assertEqual(result.returncode, 0, result.stderr)
        package = self.tmp / "heatdeploy-my-flink"
        self.assertEqual(sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()), [
            "README.md", "conftest.py", "heatdeploy_my_flink.py", "pyproject.toml", "setup.cfg",
            "tests/test_on_local_cloud.py", "tests/test_units.py"])
        installed(package, self.site)
        framework = plugins_json(self.site)["frameworks"]["my-flink"]
        self.assertEqual((framework["title"], framework["job_types"], sorted(framework["processes"])),
                         ("My Flink", ["shell"], ["master", "worker"]))
        tests = self.own_unit_tests(package)
        self.assertEqual(tests.returncode, 0, tests.stdout + tests.stderr)
        self.assertIn("4 passed", tests.stdout)

    def test_an_addon_installs_lists_and_passes_its_own_tests(self) -> None:
        result = self.generate("--addon", "audit")
        self.assertEqual(result.returncode, 0, result.stderr)
        package = self.tmp / "heatdeploy-audit"
        installed(package, self.site)
        plugin = next(p for p in plugins_json(self.site)["plugins"] if p["name"] == "audit")
        self.assertEqual(plugin["hooks"], ["heatdeploy_cluster_steps", "heatdeploy_validate_cluster"])
        tests = self.own_unit_tests(package)
        self.assertEqual(tests.returncode, 0, tests.stdout + tests.stderr)
        self.assertIn("2 passed", tests.stdout)

    def test_bad_names_and_taken_folders_write_nothing(self) -> None:
        for name in ("My_Flink", "1flink", "flink-", "a" * 41, "../x"):
            with self.subTest(name=name):
                result = self.generate(name)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("is not usable", result.stderr)
        for name, why in (("none", "does not parse"), ("step", "would define Step"),
                          ("master-port", "would define MASTER_PORT"), ("spark", "heatdeploy has already")):
            with self.subTest(name=name):
                result = self.generate(name)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(why, result.stderr)
        self.assertEqual(list(self.tmp.iterdir()), [])
        (self.tmp / "heatdeploy-flink").mkdir()
        result = self.generate("flink")
        self.assertEqual((result.returncode, result.stderr.strip()), (2, (
            f"heatdeploy: error: {self.tmp}/heatdeploy-flink already exists; choose another folder with -o "
            "or remove it")))
        self.assertEqual(list((self.tmp / "heatdeploy-flink").iterdir()), [])
