"""The openstack command's plugin: entry points, arguments shared with heatdeploy's commands, the client, errors."""

from __future__ import annotations

import argparse
import io
import unittest
import unittest.mock
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any

from heatdeploy.cloud.auth import REQUEST_TIMEOUT
from heatdeploy.errors import UsageError
from heatdeploy.osc import commands, plugin


def app(stdout: io.StringIO | None = None, stderr: io.StringIO | None = None, debug: bool = False) -> Any:
    """What a cliff command reads of the openstack application."""
    return SimpleNamespace(stdout=stdout or io.StringIO(), stderr=stderr or io.StringIO(),
                           options=SimpleNamespace(debug=debug), client_manager=SimpleNamespace(
                               heatdeploy=plugin.Client(unittest.mock.sentinel.cloud)))


def osc_commands() -> dict[str, type[commands.HeatdeployCommand]]:
    return {ep.name: ep.load() for ep in entry_points(group="openstack.heatdeploy.v1")}


class EntryPointTest(unittest.TestCase):
    def test_the_plugin_and_its_commands_are_registered(self) -> None:
        (extension,) = [ep for ep in entry_points(group="openstack.cli.extension") if ep.name == "heatdeploy"]
        self.assertIs(extension.load(), plugin)
        self.assertEqual(sorted(osc_commands()), sorted(
            [f"heatdeploy_cluster_{c}" for c in ("launch", "show", "list", "scale", "plan", "delete")]
            + [f"heatdeploy_job_{c}" for c in ("run", "show", "list", "logs", "cancel")]
            + [f"heatdeploy_binary_{c}" for c in ("upload", "list", "delete", "prune")]))

    def test_each_command_takes_its_heatdeploy_counterparts_arguments(self) -> None:
        for name, cls in osc_commands().items():
            with self.subTest(name):
                parser = cls(app(), None).get_parser(f"openstack {name.replace('_', ' ')}")
                ours = {a.dest for a in parser._actions}
                theirs = {a.dest for a in commands.heatdeploy_parser(cls.path)._actions}
                self.assertLessEqual(theirs - commands._NOT_COPIED, ours)
                self.assertNotIn("os_cloud", ours)  # the openstack command's own
                self.assertIn(f"example:\n  openstack heatdeploy {name.split('_', 1)[1].replace('_', ' ')} ",
                              parser.format_help())

    def test_job_arguments_after_a_double_dash_are_the_jobs(self) -> None:
        parser = commands.RunJob(app(), None).get_parser("openstack heatdeploy job run")
        args = parser.parse_args(["demo", "--type", "spark", "--binary", "swift://b/x.py", "--", "--in", "{input}"])
        self.assertEqual((args.cluster, args.type, args.args), ("demo", "spark", ["--in", "{input}"]))
        self.assertIs(args.handler, commands.heatdeploy_parser(("job", "run"))._defaults["handler"])


class ClientTest(unittest.TestCase):
    def test_the_client_holds_oscs_session_region_and_trustee(self) -> None:
        session = SimpleNamespace(timeout=None)
        region = SimpleNamespace(name="mine", region_name="RegionTwo",
                                 config={"heatdeploy_trustee_cloud": "from-the-option-or-entry"})
        cloud = plugin.make_client(SimpleNamespace(_cli_options=region, session=session)).cloud
        self.assertEqual((cloud.session, cloud.name, cloud.region, cloud.trustee_cloud),
                         (session, "mine", "RegionTwo", "from-the-option-or-entry"))
        self.assertEqual(session.timeout, REQUEST_TIMEOUT)

    def test_global_options(self) -> None:
        args = plugin.build_option_parser(argparse.ArgumentParser()).parse_args(
            ["--os-heatdeploy-trustee-cloud", "trustee"])
        self.assertEqual((args.os_heatdeploy_api_version, args.os_heatdeploy_trustee_cloud), ("1", "trustee"))


class RunTest(unittest.TestCase):
    def command(self, cls: type[Any], argv: list[str], handler: Any, **app_options: Any) -> tuple[Any, Any]:
        command = cls(app(**app_options), None)
        args = command.get_parser("openstack heatdeploy").parse_args(argv)
        args.handler = handler
        return command, args

    def test_the_handler_runs_on_oscs_cloud_and_its_result_is_the_views(self) -> None:
        seen = {}

        def handler(args: argparse.Namespace, progress: Any) -> int:
            seen["cloud"] = args.heatdeploy_cloud
            progress.result({"clusters": [{"name": "demo", "state": "active", "plugin": "spark", "version": "4.0",
                                           "stack_status": "CREATE_COMPLETE"}]}, "text")
            return 0

        command, args = self.command(commands.ListCluster, [], handler)
        self.assertEqual(command.take_action(args), (("name", "state", "plugin", "version", "stack_status"),
                                                     [("demo", "active", "spark", "4.0", "CREATE_COMPLETE")]))
        self.assertIs(seen["cloud"], unittest.mock.sentinel.cloud)

    def test_an_unknown_column_is_refused_before_the_handler_runs(self) -> None:
        ran = []
        command, args = self.command(commands.ListCluster, ["-c", "bogus"], lambda args, progress: ran.append(1))
        self.assertEqual(command.run(args), 2)
        self.assertEqual(ran, [])
        self.assertIn("-c/--column: no column 'bogus' in a cluster list", command.app.stderr.getvalue())

    def test_a_heatdeploy_error_is_one_line_and_its_exit_status(self) -> None:
        def handler(args: argparse.Namespace, progress: Any) -> int:
            raise UsageError("demo.yaml: no such file")

        command, args = self.command(commands.PlanCluster, ["demo.yaml"], handler)
        self.assertEqual(command.run(args), 2)
        self.assertEqual(command.app.stderr.getvalue(), "demo.yaml: no such file\n")
        command, args = self.command(commands.PlanCluster, ["demo.yaml"], handler, debug=True)
        with self.assertRaises(UsageError):
            command.run(args)
