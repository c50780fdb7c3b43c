"""The standard --os-* options: openstacksdk's, on the commands that reach a cloud, honoured when the cloud loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
import unittest.mock
from pathlib import Path

import yaml

from heatdeploy.cli.main import build_parser
from heatdeploy.cli.options import cloud_for
from heatdeploy.cli.os_options import given_openstack_options
from tests.unit.test_cli import run

AUTH = {"auth_url": "https://127.0.0.1:9/v3", "username": "demo", "password": "secret-password",
        "project_name": "demo", "user_domain_name": "Default", "project_domain_name": "Default"}


class CloudsYaml(unittest.TestCase):
    """A clouds.yaml with one HTTPS cloud, ``tls``, that nothing listens for."""

    def setUp(self) -> None:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.path = Path(folder.name) / "clouds.yaml"
        self.path.write_text(yaml.safe_dump({"clouds": {"tls": {"auth": AUTH, "regions": ["RegionOne", "RegionTwo"],
                                                                "heatdeploy_trustee_cloud": "tls-trustee"}}}))
        environment = {"OS_CLIENT_CONFIG_FILE": str(self.path), "OS_USERNAME": "from-the-environment"}
        patcher = unittest.mock.patch.dict(os.environ, environment)
        patcher.start()
        self.addCleanup(patcher.stop)


class ParseTest(CloudsYaml):
    def test_only_the_options_given_reach_openstacksdk(self) -> None:
        args = build_parser().parse_args(["list", "--os-cloud", "tls", "--os-cacert", "/ca.pem", "--insecure",
                                          "--os-region-name", "RegionTwo"])
        self.assertEqual(args.os_cloud, "tls")
        # OS_USERNAME is openstacksdk's to read when it loads the cloud, not a command-line override.
        self.assertEqual(vars(given_openstack_options(args)),
                         {"os_cacert": "/ca.pem", "insecure": True, "os_region_name": "RegionTwo"})

    def test_heatdeploys_own_timeout_stays_heatdeploys(self) -> None:
        args = build_parser().parse_args(["delete", "demo", "--timeout", "5", "--os-cloud", "tls"])
        self.assertEqual(args.timeout, 5)
        self.assertEqual(vars(given_openstack_options(args)), {})

    def test_the_tls_options_and_region_apply_to_the_session(self) -> None:
        parser = build_parser()
        cloud = cloud_for(parser.parse_args(["list", "--os-cloud", "tls", "--os-cacert", "/nonexistent/bogus-ca.pem",
                                             "--os-region-name", "RegionTwo"]))
        self.assertEqual((cloud.session.verify, cloud.region, cloud.trustee_cloud),
                         ("/nonexistent/bogus-ca.pem", "RegionTwo", "tls-trustee"))
        self.assertIs(cloud_for(parser.parse_args(["list", "--os-cloud", "tls", "--insecure"])).session.verify, False)
        self.assertIs(cloud_for(parser.parse_args(["list", "--os-cloud", "tls"])).session.verify, True)

    def test_an_auth_option_overrides_the_entry(self) -> None:
        cloud = cloud_for(build_parser().parse_args(["list", "--os-cloud", "tls", "--os-project-name", "other"]))
        self.assertEqual(cloud.session.auth.get_cache_id_elements()["project_name"], "other")

    def test_credentials_and_auth_url_on_the_command_line_override_the_entrys(self) -> None:
        cloud = cloud_for(build_parser().parse_args(["list", "--os-cloud", "tls", "--os-password", "from-argv",
                                                     "--os-auth-url", "https://other.invalid/v3",
                                                     "--os-username", "ops"]))
        plugin = cloud.session.auth  # keystoneauth's generic Password keeps them private
        self.assertEqual((plugin.auth_url, plugin._username, plugin._password),
                         ("https://other.invalid/v3", "ops", "from-argv"))

    def test_a_rejected_secret_is_not_echoed(self) -> None:
        status, _, err = run("list", "--os-cloud", "tls", "--os-token", "TOKEN123",
                             "--os-application-credential-secret=TOPSECRET")
        self.assertEqual(status, 2)
        self.assertNotIn("TOKEN123", err)
        self.assertNotIn("TOPSECRET", err)
        self.assertIn("--os-token ***", err)

    def test_the_entrys_auth_type_brings_its_options(self) -> None:
        entries = yaml.safe_load(self.path.read_text())
        entries["clouds"]["appcred"] = {"auth_type": "v3applicationcredential",
                                        "auth": {"auth_url": AUTH["auth_url"], "application_credential_id": "i",
                                                 "application_credential_secret": "s"}}
        self.path.write_text(yaml.safe_dump(entries))
        args = build_parser().parse_args(["list", "--os-cloud", "appcred", "--os-application-credential-secret",
                                          "from-argv"])
        self.assertEqual(vars(given_openstack_options(args))["os_application_credential_secret"], "from-argv")

    def test_an_unknown_auth_type_is_bad_input(self) -> None:
        status, out, err = run("list", "--os-cloud", "tls", "--os-auth-type", "bogus")
        self.assertEqual((status, out), (2, ""))
        self.assertIn("heatdeploy list: error: An invalid auth-type was specified: bogus.", err)

    def test_an_auth_types_own_options_are_offered(self) -> None:
        args = build_parser().parse_args(["list", "--os-auth-type", "v3applicationcredential",
                                          "--os-application_credential_id", "abc"])  # keystoneauth spells it so
        self.assertEqual(vars(given_openstack_options(args))["os_application_credential_id"], "abc")

    def test_offline_commands_have_no_cloud_options(self) -> None:
        with self.assertRaises(SystemExit):
            build_parser().parse_args(["validate", "spec.yaml", "--os-cacert", "/ca.pem"])


class CommandTest(CloudsYaml):
    """Through a real ``heatdeploy`` process: a bogus CA bundle on the command line is what the request uses."""

    def heatdeploy(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "heatdeploy", *args], capture_output=True, text=True,
                              timeout=60, check=False)

    def test_a_bogus_cacert_fails_the_request_in_one_line(self) -> None:
        done = self.heatdeploy("list", "--os-cloud", "tls", "--os-cacert", "/nonexistent/bogus-ca.pem",
                               "--format", "json")
        self.assertEqual(done.returncode, 1, done.stderr)
        event = json.loads(done.stdout.splitlines()[-1])
        self.assertEqual((event["event"], event["exit_status"]), ("error", 1))
        self.assertIn("/nonexistent/bogus-ca.pem", event["message"])
        self.assertNotIn("Traceback", done.stderr)
        self.assertNotIn("secret-password", done.stdout + done.stderr)

    def test_insecure_skips_the_bundle(self) -> None:
        done = self.heatdeploy("list", "--os-cloud", "tls", "--os-cacert", "/nonexistent/bogus-ca.pem",
                               "--insecure")
        self.assertEqual(done.returncode, 1)
        # Nothing listens: the connection is refused, the bundle never read.
        self.assertNotIn("bogus-ca.pem", done.stderr)
        self.assertTrue(done.stderr.splitlines()[-1].startswith("heatdeploy: error: Keystone: Unable to establish "
                                                                "connection to https://127.0.0.1:9/v3"), done.stderr)
        self.assertNotIn("Traceback", done.stderr)
