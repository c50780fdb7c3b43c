"""The cluster spec's own rules: every error names file, line and field."""

from __future__ import annotations

import tempfile
import textwrap
import unittest
from pathlib import Path

from heatdeploy import SpecError, read_spec
from heatdeploy.spec.model import parse_spec
from tests.unit.helpers import SPARK_SPEC, load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def errors(text: str) -> list[str]:
    try:
        load(text)
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    raise AssertionError("spec unexpectedly valid")


class SpecRulesTest(unittest.TestCase):
    def test_valid_spec_loads_with_inherited_defaults(self) -> None:
        spec = load(SPARK_SPEC).spec
        self.assertEqual([g.name for g in spec.node_groups], ["master", "worker"])
        self.assertEqual({g.image for g in spec.node_groups}, {"debian-local"})
        self.assertEqual(spec.timeout, 60)
        self.assertIsNone(spec.node_groups[0].volumes)

    def test_examples_are_valid(self) -> None:
        for path in sorted(EXAMPLES.glob("*.yaml")):
            with self.subTest(path=path.name):
                load(path.read_text())

    def test_unknown_field_with_suggestion_and_line(self) -> None:
        text = SPARK_SPEC.replace("network: private", "netwrok: private")
        self.assertIn("spec.yaml:6: netwrok: unknown field; did you mean 'network'? (allowed: ", errors(text)[1])
        self.assertIn("spec.yaml:1: network: required field is missing", errors(text))

    def test_every_error_in_the_file_is_reported(self) -> None:
        text = SPARK_SPEC.replace("count: 1", "count: -1").replace("count: 2", "count: many")
        text = text.replace("name: demo", "name: Demo_1")
        found = errors(text)
        self.assertEqual(found, [
            "spec.yaml:1: name: 'Demo_1' is not allowed (lower-case letters, digits and '-', "
            "not starting or ending with '-')",
            "spec.yaml:9: node_groups[0].count: must be at least 0, not -1",
            "spec.yaml:12: node_groups[1].count: must be an integer, not string 'many'",
        ])

    def test_framework_names_are_checked_alongside_the_specs_own_problems(self) -> None:
        text = SPARK_SPEC.replace("name: worker", "name: master").replace("[master]", "[mastr]")
        text += "configs: {worker_cores: x}\n"
        found = errors(text)
        self.assertEqual(found, [
            "spec.yaml:10: node_groups[0].processes[0]: unknown process 'mastr'; did you mean 'master'? "
            "(allowed: master, worker)",
            "spec.yaml:11: node_groups[1].name: duplicate node group name 'master'",
            "spec.yaml:14: configs.worker_cores: must be an integer, not 'x'",
        ])

    def test_version_must_be_quoted(self) -> None:
        found = errors(SPARK_SPEC.replace('version: "4.0"', "version: 4.0"))
        self.assertEqual(found, ['spec.yaml:3: version: must be a string, not number 4.0 (quote it: "4.0")'])

    def test_name_length_limits(self) -> None:
        found = errors(SPARK_SPEC.replace("name: demo", "name: " + "a" * 51))
        self.assertEqual(found, ["spec.yaml:1: name: must be at most 50 characters, not 51"])
        long_group = "g" * 40
        found = errors(SPARK_SPEC.replace("name: demo", "name: " + "c" * 30)
                       .replace("name: worker", f"name: {long_group}"))
        self.assertEqual(len(found), 1)
        self.assertRegex(found[0], r"^spec.yaml:11: node_groups\[1\].name: instance name .* would exceed 63")

    def test_duplicate_group_names_processes_and_keys(self) -> None:
        text = SPARK_SPEC.replace("name: worker", "name: master").replace(
            "processes: [master]", "processes: [master, master]")
        self.assertEqual(errors(text), [
            "spec.yaml:10: node_groups[0].processes[1]: 'master' is listed twice",
            "spec.yaml:11: node_groups[1].name: duplicate node group name 'master'",
        ])
        self.assertEqual(errors(SPARK_SPEC + "image: again\n"), ["spec.yaml:14: image: duplicate key"])

    def test_image_and_flavor_needed_somewhere(self) -> None:
        text = SPARK_SPEC.replace("image: debian-local\n", "").replace(
            "    count: 1\n", "    count: 1\n    image: special\n")
        self.assertEqual(errors(text), ["spec.yaml:11: node_groups[1]: image is set neither here "
                                        "nor at the top level"])

    def test_empty_lists_and_wrong_shapes(self) -> None:
        self.assertEqual(errors(SPARK_SPEC.replace("processes: [worker]", "processes: []")),
                         ["spec.yaml:13: node_groups[1].processes: must name at least one process"])
        self.assertEqual(errors("- just\n- a list\n"), ["spec.yaml:1: must be a mapping, not a list"])
        self.assertEqual(errors(SPARK_SPEC.replace("processes: [worker]", "processes: worker")),
                         ["spec.yaml:13: node_groups[1].processes: must be a list, not string 'worker'"])

    def test_volumes_rules(self) -> None:
        text = SPARK_SPEC + "    volumes: {count: 0, size: 1, mount_prefix: relative/path, speed: 3}\n"
        self.assertEqual(errors(text), [
            "spec.yaml:14: node_groups[1].volumes.count: must be at least 1, not 0",
            "spec.yaml:14: node_groups[1].volumes.mount_prefix: 'relative/path' is not allowed "
            "(an absolute path of letters, digits, '.', '_' and '-')",
            "spec.yaml:14: node_groups[1].volumes.speed: unknown field (allowed: availability_zone, "
            "count, mount_prefix, size, type)",
        ])

    def test_network_lists_default_to_ssh_from_anywhere_and_no_other_access(self) -> None:
        spec = load(SPARK_SPEC).spec
        self.assertEqual((spec.ssh_cidrs, spec.access_cidrs), (["0.0.0.0/0"], []))
        spec = load(SPARK_SPEC + "ssh_cidrs: [198.51.100.0/24]\naccess_cidrs: ['2001:db8::/32', 10.0.0.0/8]\n").spec
        self.assertEqual((spec.ssh_cidrs, spec.access_cidrs), (["198.51.100.0/24"], ["2001:db8::/32", "10.0.0.0/8"]))

    def test_a_bad_cidr_is_a_located_problem(self) -> None:
        text = SPARK_SPEC + "ssh_cidrs: [10.0.0.1/8, 203.0.113.5]\naccess_cidrs: [10.0.0.0/33, 'fe80::/10', x]\n"
        hint = "(an IPv4 or IPv6 network in CIDR notation, such as 203.0.113.0/24 or 2001:db8::/32)"
        self.assertEqual(errors(text), [
            f"spec.yaml:14: ssh_cidrs[0]: '10.0.0.1/8' has host bits set {hint}",
            f"spec.yaml:14: ssh_cidrs[1]: '203.0.113.5' has no prefix length; 203.0.113.5/32 is that one "
            f"address {hint}",
            f"spec.yaml:15: access_cidrs[0]: '10.0.0.0/33' is not a valid network {hint}",
            f"spec.yaml:15: access_cidrs[2]: 'x' is not a valid network {hint}",
        ])
        self.assertEqual(errors(SPARK_SPEC + "access_cidrs: 10.0.0.0/8\n"),
                         ["spec.yaml:14: access_cidrs: must be a list, not string '10.0.0.0/8'"])

    def test_floating_ip_pool_null_opts_a_group_out(self) -> None:
        text = SPARK_SPEC.replace("network: private", "network: private\nfloating_ip_pool: public")
        text += "    floating_ip_pool: null\n"
        groups = load(text).spec.node_groups
        self.assertEqual([g.floating_ip_pool for g in groups], ["public", None])

    def test_yaml_syntax_error_has_line(self) -> None:
        found = errors("name: demo\nplugin: [spark\n")
        self.assertEqual(len(found), 1)
        self.assertRegex(found[0], r"^spec.yaml:3: invalid YAML: .*expected ',' or '\]'")

    def test_merge_keys_are_followed(self) -> None:
        text = textwrap.dedent("""\
            defaults: &defaults {count: 1}
            """)
        self.assertIn("spec.yaml:1: defaults: unknown field", errors(text + SPARK_SPEC)[0])
        spec = SPARK_SPEC.replace("  - name: worker\n    count: 2\n",
                                  "  - <<: {count: 3}\n    name: worker\n")
        self.assertEqual(load(spec).spec.node_groups[1].count, 3)

    def test_unreadable_file(self) -> None:
        with self.assertRaises(SpecError) as caught:
            read_spec("/nonexistent/spec.yaml")
        self.assertEqual(str(caught.exception), "/nonexistent/spec.yaml:1: cannot read: No such file or directory")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "binary.yaml")
            path.write_bytes(b"\xff\xfe")
            with self.assertRaises(SpecError) as caught:
                read_spec(path)
            self.assertIn("cannot read: not UTF-8 text", str(caught.exception))

    def test_parse_without_plugins_checks_only_the_spec(self) -> None:
        spec = parse_spec(SPARK_SPEC.replace("plugin: spark", "plugin: anything")).spec
        self.assertEqual(spec.plugin, "anything")



class HostileYamlTest(unittest.TestCase):
    """Malformed specs of every kind are refused with a located problem, quickly and in bounded memory."""

    def refused(self, text: str) -> str:
        with self.assertRaises(SpecError) as caught:
            parse_spec(text, "spec.yaml")
        return str(caught.exception)

    def test_an_alias_bomb_is_refused_before_it_expands(self) -> None:
        levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
        self.assertRegex(self.refused("\n".join(levels) + "\n"),
                         r"^spec.yaml:\d+: expands to more than 20000 values")

    def test_a_merge_key_bomb_is_refused_too(self) -> None:
        levels = ["m0: &m0 {k: 1}"] + [f"m{n}: &m{n} {{<<: [{', '.join([f'*m{n - 1}'] * 9)}], x{n}: 1}}"
                                       for n in range(1, 9)]
        self.assertIn("expands to more than", self.refused("\n".join(levels) + "\n"))

    def test_recursive_and_deep_documents(self) -> None:
        self.assertEqual(self.refused("a: &a\n  b: *a\n"),
                         "spec.yaml:1: invalid YAML: an alias refers to its own anchor")
        self.assertIn("nested deeper than 32 levels", self.refused("a: " + "[" * 40 + "]" * 40 + "\n"))

    def test_values_yaml_cannot_build_are_located_problems(self) -> None:
        for value in ("2001-02-30", "2001-13-01", "!!int abc", "!!float abc", "!!bool abc", "!!timestamp abc",
                      "9" * 5000):
            with self.subTest(value=value[:20]):
                self.assertIn("spec.yaml:2: image: invalid value ", self.refused(f"name: demo\nimage: {value}\n"))

    def test_long_strings_repeated_by_aliases_count_as_bytes(self) -> None:
        text = "big: &x " + "y" * 900_000 + "\nargs:\n" + "  - *x\n" * 9000
        self.assertIn("expands to more than 20000 values or about 5 MB", self.refused(text))

    def test_files_are_read_up_to_the_bound_and_must_be_utf8(self) -> None:
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        (tmp / "latin1.yaml").write_bytes(b"name: d\xe9mo\n")
        (tmp / "huge.yaml").write_bytes(b"#" * (2 << 20))
        for name, message in (("latin1.yaml", ":1: cannot read: not UTF-8 text"),
                              ("huge.yaml", ":1: file is too large (more than 1048576 bytes)")):
            with self.subTest(file=name), self.assertRaises(SpecError) as caught:
                read_spec(tmp / name)
            self.assertTrue(str(caught.exception).endswith(message), str(caught.exception))

    def test_huge_files_binary_junk_unknown_tags_and_duplicate_keys(self) -> None:
        self.assertIn("file is too large", self.refused("# " + "x" * (1 << 20) + "\n"))
        self.assertIn("invalid YAML", self.refused("\x00\x01\x02 junk: [\n"))
        self.assertIn("could not determine a constructor for the tag 'tag:yaml.org,2002:python/object",
                      self.refused("name: !!python/object:os.system x\n"))
        self.assertIn("name: duplicate key", self.refused("name: a\nname: b\n"))


if __name__ == "__main__":
    unittest.main()
