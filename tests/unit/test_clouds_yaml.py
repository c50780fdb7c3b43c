"""The local cloud's clouds.yaml entries: the user's file keeps its comments, anchors, order and other clouds."""

from __future__ import annotations

import os
import stat
import tempfile
import unittest
import unittest.mock
from pathlib import Path
from typing import Any, cast

import yaml

from heatdeploy.cloud.auth import trustee_session
from heatdeploy.local import clouds
from heatdeploy.local.state import State

USERS_FILE = """\
# My clouds: production first.
defaults: &auth
  user_domain_name: Default   # keep this comment
  project_domain_name: Default

clouds:
  zeta-prod:
    region_name: "RegionTwo"
    auth:
      <<: *auth
      auth_url: https://keystone.example.org/v3
  alpha-lab:
    auth: *auth
"""


class FakeState:
    def url(self, service: str, path: str = "") -> str:
        return f"http://127.42.0.1:5000{path}"


PASSWORDS = {"demo": "d", "admin": "a", "heatdeploy": "h"}


class CloudsYamlTest(unittest.TestCase):
    def setUp(self) -> None:
        self.path = Path(tempfile.mkdtemp()) / "clouds.yaml"
        self.path.write_text(USERS_FILE)

    def write(self) -> None:
        clouds.write(cast(State, FakeState()), PASSWORDS, self.path)

    def test_our_entries_go_in_and_the_users_file_is_otherwise_untouched(self) -> None:
        self.write()
        text = self.path.read_text()
        self.assertTrue(text.startswith(USERS_FILE.rstrip("\n")), text)  # comments, anchors, order, quotes
        data: dict[str, Any] = yaml.safe_load(text)
        self.assertEqual(list(data["clouds"]), ["zeta-prod", "alpha-lab", clouds.CLOUD, clouds.ADMIN_CLOUD,
                                                clouds.TRUSTEE_CLOUD])
        self.assertEqual(data["clouds"]["zeta-prod"]["auth"]["user_domain_name"], "Default")  # the alias resolves
        self.assertEqual(data["clouds"][clouds.CLOUD]["auth"]["password"], "d")
        self.assertEqual(stat.S_IMODE(self.path.stat().st_mode), 0o600)

    def test_writing_again_changes_nothing_and_removing_restores_the_users_file(self) -> None:
        self.write()
        once = self.path.read_text()
        self.write()
        self.assertEqual(self.path.read_text(), once)
        clouds.remove("http://127.42.0.1:5000/v3", self.path)
        self.assertEqual(self.path.read_text(), USERS_FILE)

    def test_a_file_of_ours_alone_is_removed_whole(self) -> None:
        self.path.unlink()
        self.write()
        clouds.remove("http://127.42.0.1:5000/v3", self.path)
        self.assertFalse(self.path.exists())


class TrusteeTlsTest(unittest.TestCase):
    """The trustee's sessions take the clouds.yaml entry's TLS settings, as the user's do."""

    def session_for(self, entry: dict[str, Any]) -> Any:
        folder = Path(tempfile.mkdtemp())
        path = folder / "clouds.yaml"
        auth = {"auth_url": "https://keystone.example.org/v3", "username": "heatdeploy", "password": "p",
                "project_name": "service", "user_domain_name": "Default", "project_domain_name": "Default"}
        path.write_text(yaml.safe_dump({"clouds": {"trustee": {"auth": auth, **entry}}}))
        with unittest.mock.patch.dict(os.environ, {"OS_CLIENT_CONFIG_FILE": str(path)}):
            return trustee_session("trustee", trust_id="abc123")

    def test_cacert_and_client_certificate_apply(self) -> None:
        session = self.session_for({"cacert": "/nonexistent/bogus-ca.pem", "cert": "/c.pem", "key": "/k.pem"})
        self.assertEqual((session.verify, session.cert), ("/nonexistent/bogus-ca.pem", ("/c.pem", "/k.pem")))
        scope = session.auth.get_cache_id_elements()
        self.assertEqual((scope["trust_id"], scope["project_name"]), ("abc123", None))

    def test_insecure_wins(self) -> None:
        self.assertIs(self.session_for({"insecure": True, "cacert": "/ca.pem"}).verify, False)

    def test_the_bogus_cacert_is_what_a_request_uses(self) -> None:
        session = self.session_for({"cacert": "/nonexistent/bogus-ca.pem"})
        with self.assertRaises(Exception) as caught:  # requests checks the bundle before it connects
            session.get("https://127.0.0.1:9/v3", authenticated=False)
        self.assertIn("bogus-ca.pem", str(caught.exception))
