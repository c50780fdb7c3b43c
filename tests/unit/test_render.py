"""Rendering HOT: resource structure, determinism, and inert hostile strings."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path
from typing import Any

import yaml

import heatdeploy.render.renderer as render_module
from heatdeploy import Framework
from heatdeploy.plugin.validation import checks
from heatdeploy.plugins.hadoop import HADOOP
from heatdeploy.plugins.spark import SPARK
from heatdeploy.render.renderer import RenderError
from heatdeploy.spec.model import parse_spec
from tests.unit.helpers import SPARK_SPEC, builtin_plugins, parsed, plugin_registering, render_text

HADOOP_EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "hadoop.yaml").read_text()

HOSTILE = [
    'q"uote\'s',
    "new\nline: {get_file: /etc/passwd}",
    "{get_file: /etc/shadow}",
    "{{ 7 * 7 }}{% raw %}{# c #}",
    "- [a, b]: &x *x",
    "\u2028line sep\u0085nel",
    "${HOME} $(reboot) `id`",
]


ROOT = Path(__file__).resolve().parents[2]


def ssh(cidr: str) -> dict[str, Any]:
    return tcp(22, cidr)


def tcp(port: int, cidr: str) -> dict[str, Any]:
    rule = {"direction": "ingress", "protocol": "tcp", "port_range_min": port, "port_range_max": port,
            "remote_ip_prefix": cidr}
    return rule | ({"ethertype": "IPv6"} if ":" in cidr else {})


def icmp(cidr: str) -> dict[str, Any]:
    return {"direction": "ingress", "protocol": "icmp", "remote_ip_prefix": cidr} | (
        {"ethertype": "IPv6"} if ":" in cidr else {})


def group_rules(text: str, group: str = "master", **plugins: Any) -> list[dict[str, Any]]:
    """The rules of ``group``'s automatic security group when ``text`` is rendered."""
    template, _, _ = parsed(render_text(text, builtin_plugins(**plugins) if plugins else None))
    rules: list[dict[str, Any]] = template["resources"][f"{group}_security_group"]["properties"]["rules"]
    return rules


def all_keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in all_keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in all_keys(v)}
    return set()


def all_strings(data: Any) -> set[str]:
    if isinstance(data, dict):
        return {s for v in [*data, *data.values()] for s in all_strings(v)}
    if isinstance(data, list):
        return {s for v in data for s in all_strings(v)}
    return {data} if isinstance(data, str) else set()


class StructureTest(unittest.TestCase):
    def setUp(self) -> None:
        self.template, self.files, self.environment = parsed(render_text(HADOOP_EXAMPLE))

    def test_main_template_resources(self) -> None:
        resources = self.template["resources"]
        self.assertEqual(sorted(resources), ["cluster_internal_security_group", "master",
                                             "master_security_group", "worker", "worker_security_group"])
        worker = resources["worker"]
        self.assertEqual(worker["type"], "OS::Heat::ResourceGroup")
        self.assertEqual(worker["properties"]["count"], 3)
        self.assertEqual(worker["properties"]["removal_policies"], [{"resource_list": []}])
        definition = worker["properties"]["resource_def"]
        self.assertEqual(definition["type"], "Heatdeploy::Instance::worker")
        self.assertEqual(definition["properties"]["name"], "hadoop-demo-worker-%index%")
        self.assertEqual(definition["properties"]["security_groups"], [
            {"get_resource": "worker_security_group"}, {"get_resource": "cluster_internal_security_group"}])
        self.assertEqual(self.template["outputs"]["instances"]["value"], {"list_concat": [
            {"get_attr": ["master", "instance"]}, {"get_attr": ["worker", "instance"]}]})

    def test_environment_maps_instance_types_to_nested_files(self) -> None:
        self.assertEqual(self.environment, {"resource_registry": {
            "Heatdeploy::Instance::master": "instance-master.yaml",
            "Heatdeploy::Instance::worker": "instance-worker.yaml"}})
        self.assertEqual(sorted(self.files), ["instance-master.yaml", "instance-worker.yaml"])

    def test_security_groups(self) -> None:
        resources = self.template["resources"]
        internal = resources["cluster_internal_security_group"]["properties"]["rules"]
        self.assertEqual({r["remote_mode"] for r in internal}, {"remote_group_id"})
        self.assertEqual(resources["master_security_group"]["properties"]["rules"], [ssh("0.0.0.0/0")])

    def test_instance_template(self) -> None:
        worker = self.files["instance-worker.yaml"]
        resources = worker["resources"]
        self.assertEqual(sorted(resources), ["port", "server", "volume_1", "volume_1_attachment", "volume_2",
                                             "volume_2_attachment", "wait", "wait_handle"])
        server = resources["server"]["properties"]
        self.assertEqual((server["flavor"], server["image"]), ("m1.large", "hadoop-3.4"))
        self.assertEqual(server["networks"], [{"port": {"get_resource": "port"}}])
        self.assertEqual(resources["volume_2"]["properties"]["size"], 10)
        self.assertEqual(resources["volume_2_attachment"]["properties"], {
            "instance_uuid": {"get_resource": "server"}, "volume_id": {"get_resource": "volume_2"}})
        self.assertEqual(resources["wait"]["properties"]["timeout"], 3600)
        output = worker["outputs"]["instance"]["value"]
        self.assertIsNone(output["floating_ip"])
        self.assertEqual(output["host_key"], {"get_attr": ["wait", "data"]})
        master = self.files["instance-master.yaml"]["resources"]
        self.assertEqual(master["floating_ip"]["properties"], {
            "floating_network": "public", "port_id": {"get_resource": "port"}})

    def test_user_data_reports_host_key_and_holds_no_membership(self) -> None:
        server = self.files["instance-worker.yaml"]["resources"]["server"]["properties"]
        replace = server["user_data"]["str_replace"]
        self.assertEqual(replace["params"]["__heatdeploy_wc_token__"], {"get_attr": ["wait_handle", "token"]})
        self.assertEqual(replace["params"]["__heatdeploy_wc_endpoint__"], {"get_attr": ["wait_handle", "endpoint"]})
        config_text = replace["template"]
        self.assertTrue(config_text.startswith("#cloud-config\n"))
        config = yaml.safe_load(config_text)
        self.assertEqual(config["ssh_authorized_keys"], ["__heatdeploy_public_key__"])
        self.assertFalse(config["disable_root"])
        headers, script = config["write_files"][-2], config["write_files"][-1]["content"]
        self.assertEqual((headers["path"], headers["permissions"]), ("/var/lib/heatdeploy/signal.curl", "0600"))
        self.assertIn('header = "X-Auth-Token: __heatdeploy_wc_token__"\n', headers["content"])
        self.assertIn('url = "__heatdeploy_wc_endpoint__"\n', headers["content"])
        self.assertIn("/etc/ssh/ssh_host_ed25519_key.pub", script)
        self.assertNotIn("__heatdeploy_wc_token__", script)  # the token never reaches a command line
        self.assertNotIn("__heatdeploy_wc_endpoint__", script)
        self.assertIn("-K /var/lib/heatdeploy/signal.curl", script)
        self.assertIn("trap 'rm -f /var/lib/heatdeploy/signal.curl' EXIT", script)
        self.assertNotIn(" -k", script)  # TLS verification stays on
        for other in ("hadoop-demo-master", "master"):
            self.assertNotIn(other, config_text)

    def test_anti_affinity_server_group(self) -> None:
        text = SPARK_SPEC.replace("network: private", "network: private\nanti_affinity: [worker]")
        template, files, _ = parsed(render_text(text))
        self.assertEqual(template["resources"]["anti_affinity_group"]["properties"]["policies"],
                         ["anti-affinity"])
        worker = template["resources"]["worker"]["properties"]["resource_def"]["properties"]
        self.assertEqual(worker["server_group"], {"get_resource": "anti_affinity_group"})
        hints = files["instance-worker.yaml"]["resources"]["server"]["properties"]["scheduler_hints"]
        self.assertEqual(hints, {"group": {"get_param": "server_group"}})
        self.assertNotIn("server_group", template["resources"]["master"]["properties"]["resource_def"]
                         ["properties"])

    def test_removal_list(self) -> None:
        template, _, _ = parsed(render_text(SPARK_SPEC, removals={"worker": ["0", "3"]}))
        self.assertEqual(template["resources"]["worker"]["properties"]["removal_policies"],
                         [{"resource_list": ["0", "3"]}])

    def test_no_security_groups_means_the_property_is_omitted(self) -> None:
        text = SPARK_SPEC.replace("processes: [worker]", "processes: [worker]\n    auto_security_group: false")
        template, files, _ = parsed(render_text(text))
        self.assertNotIn("security_groups", files["instance-worker.yaml"]["resources"]["port"]["properties"])
        self.assertNotIn("security_groups", files["instance-worker.yaml"]["parameters"])


class SecurityGroupTest(unittest.TestCase):
    """What the automatic groups open beyond the cluster, whose members the internal group already connects."""

    def test_by_default_ssh_only_and_no_framework_port_to_the_world(self) -> None:
        for group in ("master", "worker"):
            self.assertEqual(group_rules(SPARK_SPEC, group), [ssh("0.0.0.0/0")])
        for group in ("master", "worker"):
            rules = group_rules(HADOOP_EXAMPLE, group)
            self.assertEqual([r for r in rules if r["remote_ip_prefix"] == "0.0.0.0/0"], [ssh("0.0.0.0/0")])
            self.assertNotIn("icmp", {r["protocol"] for r in rules})

    def test_built_in_frameworks_mark_no_port_public(self) -> None:
        self.assertEqual((dict(SPARK.public_ports), dict(HADOOP.public_ports)), ({}, {}))

    def test_access_cidrs_open_exactly_the_framework_ports_and_icmp_to_exactly_those_networks(self) -> None:
        text = SPARK_SPEC + "access_cidrs: [192.0.2.0/24, '2001:DB8::/32']\n"
        self.assertEqual(group_rules(text), [
            ssh("0.0.0.0/0"),
            icmp("192.0.2.0/24"), tcp(7077, "192.0.2.0/24"), tcp(8080, "192.0.2.0/24"),
            icmp("2001:db8::/32"), tcp(7077, "2001:db8::/32"), tcp(8080, "2001:db8::/32"),
        ])
        self.assertEqual(group_rules(text, "worker")[1:], [
            icmp("192.0.2.0/24"), tcp(8081, "192.0.2.0/24"), icmp("2001:db8::/32"), tcp(8081, "2001:db8::/32")])

    def test_hadoop_opens_only_its_web_uis_beyond_the_cluster(self) -> None:
        text = (ROOT / "examples" / "hadoop.yaml").read_text() + "access_cidrs: [192.0.2.0/24]\n"
        beyond = {(r["port_range_min"], r["port_range_max"]) for group in ("master", "worker")
                  for r in group_rules(text, group)
                  if r.get("remote_ip_prefix") == "192.0.2.0/24" and "port_range_min" in r}
        self.assertEqual(beyond, {(9870, 9870), (8088, 8088), (19888, 19888), (9864, 9864), (8042, 8042)})

    def test_ssh_cidrs_narrow_ssh(self) -> None:
        text = SPARK_SPEC + "ssh_cidrs: [198.51.100.7/32, '2001:db8:1::/48']\n"
        self.assertEqual(group_rules(text), [ssh("198.51.100.7/32"), ssh("2001:db8:1::/48")])
        self.assertEqual(group_rules(SPARK_SPEC + "ssh_cidrs: []\n"), [])

    def test_public_ports_are_open_to_the_world(self) -> None:
        ui = Framework(name="ui", title="UI", versions=("1",), processes={"web": "a UI behind a login"},
                       ports={"web": (8443, 9000)}, public_ports={"web": (8443,)})
        text = (SPARK_SPEC.replace("spark", "ui").replace('"4.0"', '"1"').replace("[master]", "[web]")
                .replace("[worker]", "[web]"))
        self.assertEqual(group_rules(text, ui=plugin_registering(ui)), [ssh("0.0.0.0/0"), tcp(8443, "0.0.0.0/0")])
        opened = group_rules(text + "access_cidrs: [0.0.0.0/0]\n", ui=plugin_registering(ui))
        self.assertEqual(opened, [ssh("0.0.0.0/0"), icmp("0.0.0.0/0"), tcp(8443, "0.0.0.0/0"),
                                  tcp(9000, "0.0.0.0/0")], "one rule per port and network: no duplicate")


def rendered_for_record(text: str, declared_ports: bool) -> Any:
    """``text`` rendered with the built-in plugins, as the lifecycle renders an existing cluster."""
    plugins = builtin_plugins()
    loaded = parse_spec(text, "spec.yaml", checks(plugins))
    return render_module.render(loaded.spec, plugins.framework(loaded.spec.plugin), plugins, None, declared_ports)


class InternalGroupTest(unittest.TestCase):
    """Between the cluster's instances: ICMP and the declared ports of the spec's processes, nothing else."""

    @staticmethod
    def internal(text: str, **plugins: Any) -> list[dict[str, Any]]:
        template, _, _ = parsed(render_text(text, builtin_plugins(**plugins) if plugins else None))
        rules: list[dict[str, Any]] = template["resources"]["cluster_internal_security_group"]["properties"]["rules"]
        return rules

    def test_spark_opens_its_pinned_ports_as_merged_ranges_for_both_address_families(self) -> None:
        member = {"direction": "ingress", "remote_mode": "remote_group_id"}
        expected = []
        for ethertype in ("IPv4", "IPv6"):
            expected.append(member | {"ethertype": ethertype, "protocol": "icmp"})
            expected += [member | {"ethertype": ethertype, "protocol": "tcp", "port_range_min": low,
                                   "port_range_max": high}
                         for low, high in ((7077, 7078), (7100, 7115), (7200, 7215), (8080, 8081))]
        self.assertEqual(self.internal(SPARK_SPEC), expected)

    def test_only_the_processes_the_spec_runs_count(self) -> None:
        ui = Framework(name="ui", title="UI", versions=("1",), processes={"web": "a UI", "db": "a database"},
                       ports={"web": (8443,), "db": (5432,)}, cluster_ports={"web": (range(9000, 9003), 9003)})
        text = (SPARK_SPEC.replace("spark", "ui").replace('"4.0"', '"1"').replace("[master]", "[web]")
                .replace("[worker]", "[web]"))
        tcp_rules = [(r["port_range_min"], r["port_range_max"]) for r in self.internal(text, ui=plugin_registering(ui))
                     if r["protocol"] == "tcp" and r["ethertype"] == "IPv4"]
        self.assertEqual(tcp_rules, [(8443, 8443), (9000, 9003)])

    def test_a_cluster_launched_before_ports_were_declared_keeps_all_traffic(self) -> None:
        from heatdeploy.cloud.records import ClusterRecord

        old = json.loads(ClusterRecord(name="demo", plugin="spark", version="4.0", spec="").to_json())
        del old["declared_ports"]
        record = ClusterRecord.from_json(json.dumps(old).encode())
        self.assertFalse(record.declared_ports)
        template, _, _ = parsed(rendered_for_record(SPARK_SPEC, record.declared_ports))
        rules = template["resources"]["cluster_internal_security_group"]["properties"]["rules"]
        self.assertEqual(rules, [{"direction": "ingress", "ethertype": e, "remote_mode": "remote_group_id"}
                                 for e in ("IPv4", "IPv6")])

    def test_a_framework_declaring_no_port_at_all_keeps_all_traffic_between_instances(self) -> None:
        bare = Framework(name="ui", title="UI", versions=("1",), processes={"web": "a UI"})
        text = (SPARK_SPEC.replace("spark", "ui").replace('"4.0"', '"1"').replace("[master]", "[web]")
                .replace("[worker]", "[web]"))
        self.assertEqual(self.internal(text, ui=plugin_registering(bare)), [
            {"direction": "ingress", "ethertype": e, "remote_mode": "remote_group_id"} for e in ("IPv4", "IPv6")])

    def test_a_framework_declaring_an_impossible_port_is_refused_at_registration(self) -> None:
        for ports, message in (({"web": (0,)}, "not a TCP port"), ({"web": (range(10, 10),)}, "non-empty range"),
                               ({"web": (range(65530, 65540),)}, "not a TCP port"),
                               ({"api": (80,)}, "not one of the processes")):
            with self.subTest(ports=ports), self.assertRaisesRegex(ValueError, message):
                Framework(name="ui", title="UI", versions=("1",), processes={"web": "a UI"}, cluster_ports=ports)
        for attribute in ("ports", "public_ports"):  # listed port by port: no ranges there
            with self.subTest(attribute), self.assertRaisesRegex(ValueError, r"not a TCP port \(1 to 65535\)$"):
                Framework(name="ui", title="UI", versions=("1",), processes={"web": "a UI"},
                          **{attribute: {"web": (range(8000, 8002),)}})  # type: ignore[arg-type]


class SafetyTest(unittest.TestCase):
    def test_output_is_byte_identical(self) -> None:
        first, second = render_text(HADOOP_EXAMPLE), render_text(HADOOP_EXAMPLE)
        self.assertEqual(first, second)
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            names = [p.name for p in first.write(a)]
            second.write(b)
            for name in names:
                self.assertEqual(Path(a, name).read_bytes(), Path(b, name).read_bytes())
        self.assertEqual(names, ["cluster.yaml", "environment.yaml", "instance-master.yaml",
                                 "instance-worker.yaml"])

    def test_hostile_strings_come_out_as_inert_data(self) -> None:
        for hostile in HOSTILE:
            with self.subTest(hostile=hostile):
                value = json.dumps(hostile)
                text = (SPARK_SPEC.replace("image: debian-local", f"image: {value}")
                        .replace("network: private", f"network: {value}\nkey_name: {value}")
                        .replace("processes: [worker]", f"processes: [worker]\n    security_groups: [{value}]"
                                 f"\n    availability_zone: {value}\n    volumes: {{count: 1, size: 1, "
                                 f"type: {value}}}"))
                rendered = render_text(text)
                template, files, _ = parsed(rendered)
                worker = files["instance-worker.yaml"]
                server = worker["resources"]["server"]["properties"]
                self.assertEqual([server["image"], server["key_name"], server["availability_zone"]],
                                 [hostile] * 3)
                self.assertEqual(worker["resources"]["port"]["properties"]["network"], hostile)
                self.assertEqual(worker["resources"]["volume_1"]["properties"]["volume_type"], hostile)
                groups = template["resources"]["worker"]["properties"]["resource_def"]["properties"]
                self.assertEqual(groups["security_groups"][0], hostile)
                keys = all_keys(template) | {k for f in files.values() for k in all_keys(f)}
                self.assertNotIn("get_file", keys)
                strings = all_strings(template) | {s for f in files.values() for s in all_strings(f)}
                self.assertNotIn("49", strings)

    def test_templates_cannot_emit_unquoted_values(self) -> None:
        with self.assertRaisesRegex(RenderError, "without the tojson filter"):
            render_module._ENV.from_string("name: {{ name }}").render(name="x: y")
        self.assertEqual(render_module._ENV.from_string("name: {{ name | tojson }}").render(name="x: y"),
                         'name: "x: y"')


if __name__ == "__main__":
    unittest.main()
