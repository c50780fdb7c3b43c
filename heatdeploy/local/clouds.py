"""clouds.yaml entries for the local cloud, merged into the user's file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

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
    """Replace only our entries; keep every other cloud (file stays 0600)."""
    path = path or clouds_path()
    data: dict[str, Any] = {}
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("clouds", {}).update(entries(state, passwords))
    write_private(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
    return path


def remove(auth_url: str, path: Path | None = None) -> None:
    """Drop our entries (on purge) when they still point at this cloud
    (auth_url), leaving the rest of the file alone."""
    path = path or clouds_path()
    if not path.exists():
        return
    data = yaml.safe_load(path.read_text()) or {}
    clouds = data.get("clouds", {})
    for name in (CLOUD, ADMIN_CLOUD, TRUSTEE_CLOUD):
        if clouds.get(name, {}).get("auth", {}).get("auth_url") == auth_url:
            del clouds[name]
    if data == {"clouds": {}}:
        path.unlink()  # nothing of anyone else's left: leave no empty file behind
        return
    write_private(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
