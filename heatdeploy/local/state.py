"""The local cloud's state dir: where it is, what it holds, and its secrets.

Layout (DIR = the state dir)::

    DIR/state.json        ports, settings, pids of the services started
    DIR/secrets.json      generated passwords (0600)
    DIR/logs/             one log per service
    DIR/postgres/         Heat's private PostgreSQL cluster
    DIR/keystone/         keystone.conf, SQLite database, key repositories (0700)
    DIR/heat/             heat.conf, api-paste.ini, environment.d/
    DIR/swift/            configs, rings, devices/
    DIR/cloud/            local compute objects (ports, servers, volumes...)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heatdeploy.ssh.keys import write_secret
from heatdeploy.user_dirs import xdg_home

ENV_DIR = "HEATDEPLOY_LOCAL_DIR"
SERVICES = ("postgres", "keystone", "swift-account", "swift-container", "swift-object",
            "swift-proxy", "heat")
PUBLIC_SERVICES = ("keystone", "heat", "swift-proxy")
"""Listen on the cloud's gateway address (instances call them); the others on 127.0.0.1."""
PASSWORD_NAMES = ("admin", "demo", "heat", "heatdeploy", "swift", "heat_domain_admin",
                  "postgres_heat", "swift_hash")


def default_dir() -> Path:
    """HEATDEPLOY_LOCAL_DIR, else the user data dir (~/.local/share/heatdeploy/local)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser().resolve()
    return xdg_home("data") / "heatdeploy" / "local"


write_private = write_secret  # the local cloud's secrets are written like heatdeploy's keys


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


@dataclass
class State:
    """Ports, settings and pids recorded in DIR/state.json."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    token_expiration: int = 3600
    bootstrapped: bool = False
    network: int = 0
    """Second octet of the cloud's fixed subnet 127.N.0.0/16 (0: not chosen yet; see local.network)."""

    @property
    def path(self) -> Path:
        return self.root / "state.json"

    @classmethod
    def load(cls, root: Path) -> State:
        state = cls(root=root)
        if state.path.exists():
            data = json.loads(state.path.read_text())
            state.ports = data.get("ports", {})
            state.pids = data.get("pids", {})
            state.token_expiration = data.get("token_expiration", 3600)
            state.bootstrapped = data.get("bootstrapped", False)
            state.network = data.get("network", 0)
        return state

    def save(self) -> None:
        write_json(self.path, {
            "ports": self.ports, "pids": self.pids,
            "token_expiration": self.token_expiration, "bootstrapped": self.bootstrapped,
            "network": self.network,
        })

    def dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log(self, service: str) -> Path:
        return self.dir("logs") / f"{service}.log"

    @property
    def host(self) -> str:
        """Where the public services listen: the gateway of the cloud's network, which
        instances reach too (127.0.0.1 before a network is chosen)."""
        return f"127.{self.network}.0.1" if self.network else "127.0.0.1"

    def address(self, service: str) -> str:
        """The address ``service`` listens on."""
        return self.host if service in PUBLIC_SERVICES else "127.0.0.1"

    def url(self, service: str, path: str = "") -> str:
        return f"http://{self.host}:{self.ports[service]}{path}"


def load_secrets(root: Path) -> dict[str, str]:
    """Passwords of this state dir, generated on first use and kept 0600."""
    path = root / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in PASSWORD_NAMES if name not in values]
    if missing:
        for name in missing:
            values[name] = secrets.token_urlsafe(24)
        write_private(path, json.dumps(values, indent=2))
    return values
