"""The user's base folders follow XDG: the variable when set and not empty, else the default."""

from __future__ import annotations

import os
import unittest
from pathlib import Path
from unittest import mock

from heatdeploy.cluster import default_key_dir
from heatdeploy.user_dirs import xdg_home


class XdgHomeTest(unittest.TestCase):
    def test_set_empty_and_unset(self) -> None:
        with mock.patch.dict(os.environ, {"XDG_CACHE_HOME": "/x/cache", "XDG_CONFIG_HOME": "", "HOME": "/h"}):
            os.environ.pop("XDG_DATA_HOME", None)
            self.assertEqual(xdg_home("cache"), Path("/x/cache"))
            self.assertEqual(xdg_home("config"), Path("/h/.config"))
            self.assertEqual(xdg_home("data"), Path("/h/.local/share"))
            self.assertEqual(default_key_dir(), Path("/h/.local/share/heatdeploy/keys"))
