"""Plugin discovery through real entry points, and what happens when plugins break."""

from __future__ import annotations

import configparser
import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

from heatdeploy import PluginError, Problem, Step, hookimpl, plugins_from
from heatdeploy.plugin.manager import Plugins
from heatdeploy.plugins import spark
from tests.unit.distributions import ROOT, add_distribution, plugins_json, run_cli

TOY = '''
from heatdeploy import Framework, hookimpl

@hookimpl
def heatdeploy_register_frameworks(register):
    register(Framework(name="toy", title="Toy", versions=("1",), processes={"box": "a box"}))
'''


class EntryPointTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.site = Path(tmp.name)
        add_distribution(self.site, "toy-plugin", {"toy": "toy_plugin"}, {"toy_plugin": TOY})
        add_distribution(self.site, "broken-plugin", {"broken": "broken_plugin"},
                         {"broken_plugin": "import a_dependency_that_is_not_installed\n"})

    def test_builtins_and_third_party_load_and_broken_is_reported(self) -> None:
        report = plugins_json(self.site)
        names = {p["name"]: p for p in report["plugins"]}
        self.assertEqual(sorted(names), ["hadoop", "spark", "toy"])
        self.assertEqual(names["toy"]["package"], "toy-plugin")
        self.assertEqual(names["toy"]["frameworks"], {"toy": ["1"]})
        self.assertEqual(names["spark"]["package"], "heatdeploy")
        self.assertEqual(names["spark"]["hooks"], ["heatdeploy_job_engine", "heatdeploy_register_frameworks"])
        self.assertEqual(report["errors"], [{
            "name": "broken", "package": "broken-plugin",
            "error": "ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'"}])

    def test_a_broken_plugin_does_not_stop_validation_and_is_reported_once(self) -> None:
        warning = ("heatdeploy: warning: plugin 'broken' (broken-plugin) failed to load: ModuleNotFoundError: "
                   "No module named 'a_dependency_that_is_not_installed'; 'heatdeploy plugins' lists what is "
                   "installed\n")
        for command in (("validate", "examples/spark.yaml"), ("render", "examples/spark.yaml")):
            with self.subTest(command=command[0]):
                result = run_cli(self.site, *command)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stderr, warning)
        result = run_cli(self.site, "validate", "examples/spark.yaml", env={"HEATDEPLOY_STRICT_PLUGINS": "1"})
        self.assertEqual(result.returncode, 1, result.stderr)

    def test_strict_mode_makes_load_errors_fatal(self) -> None:
        result = run_cli(self.site, "plugins", env={"HEATDEPLOY_STRICT_PLUGINS": "1"})
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.strip(), "heatdeploy: error: plugin 'broken' failed to load: "
                         "ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'")
        self.assertNotIn("Traceback", result.stderr)

    def test_load_only_selected_plugins(self) -> None:
        report = plugins_json(self.site, env={"HEATDEPLOY_LOAD_PLUGINS": "spark, toy"})
        self.assertEqual([p["name"] for p in report["plugins"]], ["spark", "toy"])
        self.assertEqual(report["errors"], [])
        self.assertEqual(plugins_json(self.site, env={"HEATDEPLOY_LOAD_PLUGINS": ""})["plugins"], [])
        misspelt = plugins_json(self.site, env={"HEATDEPLOY_LOAD_PLUGINS": "spark,spak"})
        self.assertEqual(misspelt["errors"], [{"name": "spak", "package": None, "error": (
            "HEATDEPLOY_LOAD_PLUGINS names it, but no installed package provides it (installed: broken, hadoop, "
            "spark, toy)")}])

    def test_the_contrib_example_installs_through_its_entry_point(self) -> None:
        contrib = ROOT / "contrib" / "heatdeploy-node-exporter"
        add_distribution(self.site, "heatdeploy-node-exporter", {"node-exporter": "heatdeploy_node_exporter"})
        report = plugins_json(self.site, extra_path=(contrib,))
        names = {p["name"]: p for p in report["plugins"]}
        self.assertEqual(names["node-exporter"]["hooks"], [
            "heatdeploy_security_group_rules", "heatdeploy_template_parts",
            "heatdeploy_user_data", "heatdeploy_validate_cluster"])
        rendered = run_cli(self.site, "render", "examples/spark.yaml", extra_path=(contrib,))
        self.assertEqual(rendered.returncode, 0, rendered.stderr)
        self.assertIn('"node_exporter_port"', rendered.stdout)
        self.assertIn('"port_range_min": 9100', rendered.stdout)


    def test_the_contrib_framework_installs_through_the_entry_point_its_setup_cfg_declares(self) -> None:
        contrib = ROOT / "contrib" / "heatdeploy-dask"
        setup = configparser.ConfigParser()
        setup.read(contrib / "setup.cfg")
        declared = dict(line.split(" = ") for line in setup["options.entry_points"]["heatdeploy"].split("\n") if line)
        add_distribution(self.site, setup["metadata"]["name"], declared)
        report = plugins_json(self.site, extra_path=(contrib,))
        dask = report["frameworks"]["dask"]
        self.assertEqual((dask["job_types"], dask["between_instances"]),
                         (["python"], {"scheduler": ["8786-8787"], "worker": ["8788-8789"]}))
        spec = self.site / "dask.yaml"
        spec.write_text("name: d\nplugin: dask\nversion: '2026'\nimage: i\nflavor: f\nnetwork: n\nnode_groups:\n"
                        "  - {name: s, count: 1, processes: [scheduler]}\n"
                        "  - {name: w, count: 2, processes: [worker]}\n")
        result = run_cli(self.site, "validate", str(spec), extra_path=(contrib,))
        self.assertEqual(result.returncode, 0, result.stderr)


class LoadErrorTest(unittest.TestCase):
    """Plugins that load but are wrong are reported with their name, not raised."""

    def lenient(self, **objects: object) -> Plugins:
        return plugins_from(objects, strict=False)

    def test_unknown_hook(self) -> None:
        bad = SimpleNamespace(heatdeploy_no_such_hook=hookimpl(lambda: None))
        plugins = self.lenient(bad=bad)
        self.assertEqual([(e.name, e.error) for e in plugins.errors],
                         [("bad", "unknown hook(s): heatdeploy_no_such_hook")])
        self.assertEqual(plugins.info, [])

    def test_duplicate_framework(self) -> None:
        again = SimpleNamespace(heatdeploy_register_frameworks=spark.heatdeploy_register_frameworks)
        plugins = self.lenient(spark=spark, again=again)
        self.assertEqual([e.error for e in plugins.errors],
                         ["ValueError: framework 'spark' is already registered"])
        self.assertEqual(list(plugins.frameworks), ["spark"])

    def test_register_with_wrong_type_or_exception(self) -> None:
        @hookimpl
        def heatdeploy_register_frameworks(register):  # type: ignore[no-untyped-def]
            register("spark")

        @hookimpl
        def failing(register):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        plugins = self.lenient(wrong=SimpleNamespace(heatdeploy_register_frameworks=heatdeploy_register_frameworks),
                               failing=SimpleNamespace(heatdeploy_register_frameworks=failing))
        self.assertEqual([(e.name, e.error) for e in plugins.errors], [
            ("wrong", "TypeError: register() takes a Framework, got str"),
            ("failing", "RuntimeError: boom"),
        ])

    def test_hook_failure_names_the_plugin(self) -> None:
        @hookimpl
        def heatdeploy_validate_cluster(spec, framework):  # type: ignore[no-untyped-def]
            raise KeyError("oops")

        plugins = plugins_from({"spark": spark, "flaky": SimpleNamespace(
            heatdeploy_validate_cluster=heatdeploy_validate_cluster)})
        with self.assertRaises(PluginError) as caught:
            plugins.validate_cluster(spec=None, framework=None)  # type: ignore[arg-type]
        self.assertEqual(str(caught.exception), "plugin 'flaky' failed in heatdeploy_validate_cluster: "
                                                "KeyError: 'oops'")


    def test_a_failure_inside_a_generator_names_its_plugin_too(self) -> None:
        @hookimpl
        def heatdeploy_validate_cluster(spec, framework):  # type: ignore[no-untyped-def]
            yield Problem("name", "fine")
            raise ValueError("late")

        def quiet() -> SimpleNamespace:
            return SimpleNamespace(heatdeploy_validate_cluster=hookimpl(lambda spec, framework: None))

        plugins = plugins_from({"a-quiet": quiet(), "lazy": SimpleNamespace(
            heatdeploy_validate_cluster=heatdeploy_validate_cluster), "z-quiet": quiet()})
        with self.assertRaisesRegex(PluginError, "^plugin 'lazy' failed in heatdeploy_validate_cluster: "
                                                 "ValueError: late$"):
            plugins.validate_cluster(spec=None, framework=None)  # type: ignore[arg-type]


class PluggySemanticsTest(unittest.TestCase):
    """Hooks go through pluggy's relay, so pluggy's own markers work for third parties."""

    def engine_from(self, **plugins: object) -> object:
        loaded = plugins_from({"spark": spark, **plugins})
        return loaded.job_engine(loaded.frameworks["spark"])

    def test_firstresult_gives_the_last_registered_engine_unless_one_asks_to_go_first(self) -> None:
        mine, theirs = SimpleNamespace(types=("mine",)), SimpleNamespace(types=("theirs",))
        later = SimpleNamespace(heatdeploy_job_engine=hookimpl(lambda framework: mine))
        self.assertIs(self.engine_from(later=later), mine)
        first = SimpleNamespace(heatdeploy_job_engine=hookimpl(tryfirst=True)(lambda framework: theirs))
        self.assertIs(self.engine_from(first=first, later=later), theirs)

    def test_a_wrapper_sees_and_changes_every_result(self) -> None:
        extra = Step("audit", lambda ctx, remote: None)

        @hookimpl(wrapper=True)
        def heatdeploy_cluster_steps(spec, framework, operation):  # type: ignore[no-untyped-def]
            steps = yield
            return [*steps, [extra]]

        plugins = plugins_from({"spark": spark, "audit": SimpleNamespace(
            heatdeploy_cluster_steps=heatdeploy_cluster_steps)})
        self.assertEqual(plugins.cluster_steps(None, plugins.frameworks["spark"], "launch"),  # type: ignore[arg-type]
                         [extra])

    def test_a_second_plugin_under_a_taken_name_leaves_the_first_in_place(self) -> None:
        plugins = plugins_from({"spark": spark}, strict=False)
        plugins.add("spark", SimpleNamespace(heatdeploy_job_engine=hookimpl(lambda framework: None)))
        self.assertEqual(len(plugins.errors), 1)
        self.assertIs(plugins.manager.get_plugin("spark"), spark)
        self.assertEqual(plugins.job_engine(plugins.frameworks["spark"]).types, ("spark", "shell"))

    def test_a_misspelt_hook_is_a_load_error_naming_the_plugin(self) -> None:
        typo = SimpleNamespace(heatdeploy_clustre_steps=hookimpl(lambda spec: None))
        plugins = plugins_from({"spark": spark, "typo": typo}, strict=False)
        self.assertEqual([(e.name, e.error) for e in plugins.errors],
                         [("typo", "unknown hook(s): heatdeploy_clustre_steps")])
        self.assertEqual([i.name for i in plugins.info], ["spark"])
        optional = SimpleNamespace(heatdeploy_future_hook=hookimpl(optionalhook=True)(lambda: None))
        self.assertEqual(plugins_from({"optional": optional}).errors, [])


if __name__ == "__main__":
    unittest.main()
