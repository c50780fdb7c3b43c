"""The local cloud's clouds.yaml entries: the user's file keeps its comments, anchors, order and other clouds."""

from __future__ import annotations

import stat
import tempfile
import unittest
from pathlib import Path
from typing import Any, cast

import yaml

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
