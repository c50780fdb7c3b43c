"""clouds.yaml entries for the local cloud, merged into the user's file.

The file is the user's: it is read and written back with ruamel.yaml's
round trip, so its comments, anchors and aliases, key order and quoting
survive; only heatdeploy's own entries change.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from heatdeploy.local.state import State, write_private
from heatdeploy.user_dirs import xdg_home

CLOUD = "heatdeploy-local"
ADMIN_CLOUD = "heatdeploy-local-admin"
TRUSTEE_CLOUD = "heatdeploy-local-trustee"


def clouds_path() -> Path:
    """The clouds.yaml openstacksdk reads first (OS_CLIENT_CONFIG_FILE wins)."""
    explicit = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    return xdg_home("config") / "openstack" / "clouds.yaml"


def entries(state: State, passwords: dict[str, str]) -> dict[str, dict[str, Any]]:
    def cloud(user: str, project: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": state.url("keystone", "/v3"),
                "username": user, "password": passwords[user], "project_name": project,
                "user_domain_name": "Default", "project_domain_name": "Default",
            },
            "region_name": "RegionOne", "interface": "public", "identity_api_version": 3,
        }

    user_cloud = cloud("demo", "demo")
    # heatdeploy reads this key to find its trustee and work through trusts.
    user_cloud["heatdeploy_trustee_cloud"] = TRUSTEE_CLOUD
    return {CLOUD: user_cloud, ADMIN_CLOUD: cloud("admin", "admin"),
            TRUSTEE_CLOUD: cloud("heatdeploy", "service")}


def write(state: State, passwords: dict[str, str], path: Path | None = None) -> Path:
    """Replace only our entries; keep every other cloud, and the file's comments and order (file stays 0600)."""
    path = path or clouds_path()
    data = _load(path)
    clouds = data.setdefault("clouds", CommentedMap())
    for name, entry in entries(state, passwords).items():
        clouds[name] = entry
    write_private(path, _dump(data))
    return path


def remove(auth_url: str, path: Path | None = None) -> None:
    """Drop our entries (on purge) when they still point at this cloud
    (auth_url), leaving the rest of the file alone."""
    path = path or clouds_path()
    if not path.exists():
        return
    data = _load(path)
    clouds = data.get("clouds") or {}
    for name in (CLOUD, ADMIN_CLOUD, TRUSTEE_CLOUD):
        if (clouds.get(name) or {}).get("auth", {}).get("auth_url") == auth_url:
            del clouds[name]
    if not clouds and set(data) <= {"clouds"}:
        path.unlink()  # nothing of anyone else's left: leave no empty file behind
        return
    write_private(path, _dump(data))


def _yaml() -> YAML:
    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    return yaml


def _load(path: Path) -> Any:
    data = _yaml().load(path.read_text()) if path.exists() else None
    return data if data is not None else CommentedMap()


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()
