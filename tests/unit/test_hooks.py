"""Each hook, exercised; plus checks that every hook is documented and tested here."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import unittest
from pathlib import Path
from types import SimpleNamespace

import yaml

from heatdeploy import (
    File,
    Framework,
    PluginError,
    Problem,
    SecurityRule,
    SpecError,
    TemplatePart,
    UserDataPart,
    hookimpl,
)
from heatdeploy.plugin import hookspecs
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.steps import Step, StepContext
from heatdeploy.render.renderer import RenderError
from heatdeploy.steps.orchestrator import run_steps
from tests.unit.helpers import SPARK_SPEC, builtin_plugins, load, parsed, render_text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "contrib" / "heatdeploy-node-exporter"))
import heatdeploy_node_exporter  # noqa: E402

HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("heatdeploy_"))


def plugin(**hooks: object) -> SimpleNamespace:
    return SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


class HookTest(unittest.TestCase):
    def test_hook_heatdeploy_register_frameworks(self) -> None:
        toy = Framework(name="toy", title="Toy", versions=("1.0",), processes={"box": "a box"},
                        ports={"box": (1234,)})
        plugins = builtin_plugins(toy=plugin(heatdeploy_register_frameworks=lambda register: register(toy)))
        self.assertIs(plugins.framework("toy"), toy)
        text = SPARK_SPEC.replace("spark", "toy").replace('"4.0"', '"1.0"').replace("[master]", "[box]")
        rendered = render_text(text.replace("[worker]", "[box]") + "access_cidrs: [192.0.2.0/24]\n", plugins)
        self.assertIn('"port_range_min": 1234', rendered.template)

    def test_hook_heatdeploy_validate_cluster(self) -> None:
        def rule(spec, framework):  # type: ignore[no-untyped-def]
            self.assertEqual(framework.name, "spark")
            if spec.key_name is None:
                yield Problem("name", "this cloud requires key_name")

        plugins = builtin_plugins(policy=plugin(heatdeploy_validate_cluster=rule))
        with self.assertRaises(SpecError) as caught:
            load(SPARK_SPEC, plugins)
        self.assertEqual(str(caught.exception), "spec.yaml:1: name: this cloud requires key_name")
        load(SPARK_SPEC + "key_name: mine\n", plugins)

    def test_hook_heatdeploy_security_group_rules(self) -> None:
        seen = []

        def rules(spec, node_group, framework):  # type: ignore[no-untyped-def]
            seen.append(node_group.name)
            return [SecurityRule("udp", 5000, 5010, "192.0.2.0/24")]

        plugins = builtin_plugins(extra=plugin(heatdeploy_security_group_rules=rules))
        text = SPARK_SPEC.replace("processes: [worker]", "processes: [worker]\n    auto_security_group: false")
        template, _, _ = parsed(render_text(text, plugins))
        self.assertEqual(seen, ["master"])
        self.assertIn({"direction": "ingress", "protocol": "udp", "port_range_min": 5000,
                       "port_range_max": 5010, "remote_ip_prefix": "192.0.2.0/24"},
                      template["resources"]["master_security_group"]["properties"]["rules"])
        self.assertNotIn("worker_security_group", template["resources"])

    def test_hook_heatdeploy_user_data(self) -> None:
        part = UserDataPart(files=(File("/etc/agent.conf", "a: 'b'\nc: \"d\"\n", "0600"),),
                            commands=(("agent", "--config", "/etc/agent.conf"), "echo started > /tmp/x"))
        plugins = builtin_plugins(agent=plugin(heatdeploy_user_data=lambda spec, node_group, framework: part))
        _, files, _ = parsed(render_text(SPARK_SPEC, plugins))
        server = files["instance-worker.yaml"]["resources"]["server"]["properties"]
        config = yaml.safe_load(server["user_data"]["str_replace"]["template"])
        self.assertEqual(config["write_files"][0],
                         {"path": "/etc/agent.conf", "content": "a: 'b'\nc: \"d\"\n", "permissions": "0600"})
        self.assertEqual(config["runcmd"][:2], [["agent", "--config", "/etc/agent.conf"], "echo started > /tmp/x"])
        self.assertEqual(config["runcmd"][-1], ["sh", "/var/lib/heatdeploy/report-host-key.sh"])

    def test_hook_heatdeploy_template_parts(self) -> None:
        part = TemplatePart(parameters={"alert_email": {"type": "string", "default": "ops@example.org"}},
                            resources={"alerts": {"type": "OS::Heat::None"}},
                            outputs={"alerts_id": {"value": {"get_resource": "alerts"}}})
        plugins = builtin_plugins(alerts=plugin(heatdeploy_template_parts=lambda spec, framework: part))
        template, _, _ = parsed(render_text(SPARK_SPEC, plugins))
        self.assertEqual(template["parameters"]["alert_email"]["default"], "ops@example.org")
        self.assertEqual(template["resources"]["alerts"], {"type": "OS::Heat::None"})
        self.assertEqual(template["outputs"]["alerts_id"], {"value": {"get_resource": "alerts"}})

    def test_hook_heatdeploy_cluster_steps(self) -> None:
        ran: list[tuple[str, str]] = []

        def agent(ctx, remote):  # type: ignore[no-untyped-def]
            ran.append((ctx.framework.name, remote.instance.name))

        def extra(spec, framework, operation):  # type: ignore[no-untyped-def]
            if operation == "launch":
                return [Step("agent-install", agent, processes=("worker",))]
            return None

        plugins = builtin_plugins(agent=plugin(heatdeploy_cluster_steps=extra))
        spec = load(SPARK_SPEC, plugins).spec
        framework = plugins.framework("spark")
        steps = plugins.cluster_steps(spec, framework, "launch")
        self.assertEqual([s.name for s in steps], ["agent-install"])
        self.assertEqual(plugins.cluster_steps(spec, framework, "decommission"), [])
        instances = [Instance(f"demo-{g}-{n}", f"id-{g}{n}", g, (g,), f"10.0.0.{i}", None, "ssh-ed25519 AAAA")
                     for i, (g, n) in enumerate([("master", 0), ("worker", 0), ("worker", 1)])]
        context = StepContext(spec=spec, framework=framework, instances=instances, targets=instances,
                              connect=lambda i: SimpleNamespace(instance=i))
        run_steps(context, steps)
        self.assertEqual(sorted(ran), [("spark", "demo-worker-0"), ("spark", "demo-worker-1")])

    def test_hook_heatdeploy_job_engine(self) -> None:
        plugins = builtin_plugins()
        spark_engine = plugins.job_engine(plugins.framework("spark"))
        self.assertEqual(spark_engine.types, ("spark", "shell"))
        self.assertEqual(plugins.job_engine(plugins.framework("hadoop")).types, ("mapreduce", "streaming"))
        mapreduce = SimpleNamespace(types=("mapreduce",))  # a later plugin's engine comes first
        extra = plugin(heatdeploy_job_engine=lambda framework: mapreduce if framework.name == "hadoop" else None)
        plugins = builtin_plugins(mapreduce=extra)
        self.assertIs(plugins.job_engine(plugins.framework("hadoop")), mapreduce)
        self.assertEqual(plugins.job_engine(plugins.framework("spark")).types, ("spark", "shell"))

    def test_template_parts_may_not_clash(self) -> None:
        part = TemplatePart(resources={"worker": {"type": "OS::Heat::None"}})
        plugins = builtin_plugins(clash=plugin(heatdeploy_template_parts=lambda spec, framework: part))
        with self.assertRaisesRegex(RenderError, "adds resource 'worker', which is already defined "
                                                 r"\(template parts come from plugins clash\)"):
            render_text(SPARK_SPEC, plugins)
        wrong = builtin_plugins(wrong=plugin(heatdeploy_template_parts=lambda spec, framework: {}))
        with self.assertRaisesRegex(PluginError, "plugin 'wrong' failed in heatdeploy_template_parts: "
                                                 "returned dict, not TemplatePart"):
            render_text(SPARK_SPEC, wrong)

    def test_user_data_may_not_use_reserved_tokens(self) -> None:
        part = UserDataPart(commands=("echo __heatdeploy_wc_token__",))
        plugins = builtin_plugins(sneaky=plugin(heatdeploy_user_data=lambda spec, node_group, framework: part))
        with self.assertRaisesRegex(RenderError, "plugin 'sneaky': user data contains a reserved"):
            render_text(SPARK_SPEC, plugins)

    def test_contrib_node_exporter_example(self) -> None:
        plugins = builtin_plugins(node_exporter=heatdeploy_node_exporter)
        template, files, _ = parsed(render_text(SPARK_SPEC, plugins))
        self.assertEqual(template["outputs"]["node_exporter_port"]["value"], 9100)
        rules = template["resources"]["worker_security_group"]["properties"]["rules"]
        self.assertIn({"direction": "ingress", "protocol": "tcp", "port_range_min": 9100,
                       "port_range_max": 9100, "remote_ip_prefix": "10.0.0.0/8"}, rules)
        text = SPARK_SPEC.replace("processes: [worker]", "processes: [worker]\n    auto_security_group: false")
        with self.assertRaisesRegex(SpecError, r"node_groups\[1\].auto_security_group: node exporter port"):
            load(text, plugins)


class HookCoverageTest(unittest.TestCase):
    """Every hook must be documented and exercised, as datasette insists for its own."""

    def test_every_hook_has_a_test(self) -> None:
        tested = {name[len("test_hook_"):] for name in dir(HookTest) if name.startswith("test_hook_")}
        self.assertEqual(sorted(set(HOOKS) - tested), [])

    def test_every_hook_is_documented_in_the_guide(self) -> None:
        guide = (ROOT / "docs" / "plugin-guide.md").read_text()
        documented = set(re.findall(r"^### `(heatdeploy_\w+)", guide, re.MULTILINE))
        self.assertEqual(sorted(set(HOOKS) - documented), [])
        self.assertEqual(sorted(documented - set(HOOKS)), [])

    def test_documented_signatures_match_the_hooks(self) -> None:
        guide = (ROOT / "docs" / "plugin-guide.md").read_text()
        documented = dict(re.findall(r"^### `(heatdeploy_\w+)\((.*?)\)`", guide, re.MULTILINE))
        for name in HOOKS:
            with self.subTest(hook=name):
                real = list(inspect.signature(getattr(hookspecs, name)).parameters)
                self.assertEqual([a.strip() for a in documented[name].split(",") if a.strip()], real)

    def test_the_guides_code_parses_and_imports_only_names_heatdeploy_has(self) -> None:
        for guide in ("plugin-guide.md", "hadoop.md"):
            text = (ROOT / "docs" / guide).read_text()
            blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
            self.assertTrue(blocks or guide != "plugin-guide.md")
            for n, block in enumerate(blocks):
                with self.subTest(guide=guide, block=n):
                    tree = ast.parse(block)
                    for node in ast.walk(tree):
                        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("heatdeploy"):
                            module = importlib.import_module(node.module or "")
                            missing = [a.name for a in node.names if not hasattr(module, a.name)]
                            self.assertEqual(missing, [], f"from {node.module} import ...")

    def test_every_exported_name_is_in_the_guide(self) -> None:
        import heatdeploy
        import heatdeploy.testing

        guide = (ROOT / "docs" / "plugin-guide.md").read_text()
        for module in (heatdeploy, heatdeploy.testing):
            missing = [n for n in module.__all__ if not re.search(rf"\b{re.escape(n)}\b", guide)]
            self.assertEqual(missing, [], module.__name__)

    def test_every_hook_has_a_docstring_and_types(self) -> None:
        for name in HOOKS:
            function = getattr(hookspecs, name)
            with self.subTest(hook=name):
                self.assertGreater(len(inspect.getdoc(function) or ""), 80)
                self.assertIn("return", function.__annotations__)


if __name__ == "__main__":
    unittest.main()
