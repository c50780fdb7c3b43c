"""The local cloud, brought up once per test run in a temporary state dir."""

from __future__ import annotations

import os
from collections.abc import Iterator

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from heatdeploy.local import lifecycle, processes
from heatdeploy.local.state import State, load_secrets
from tests.functional.cloudtools import LocalCloud


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    root = tmp_path_factory.mktemp("local-cloud")
    saved = {k: os.environ.get(k) for k in ("HEATDEPLOY_LOCAL_DIR", "OS_CLIENT_CONFIG_FILE")}
    os.environ["HEATDEPLOY_LOCAL_DIR"] = str(root)
    # Keep the developer's own clouds.yaml untouched.
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(root / "clouds.yaml")
    try:
        try:
            state = lifecycle.up(root, log=lambda line: None)
        except Exception as error:
            pytest.fail(f"local cloud failed to start: {error}", pytrace=True)
        yield LocalCloud(root=root, state=state, passwords=load_secrets(root))
    finally:
        recorded = list(State.load(root).pids.values())
        lifecycle.down(root, log=lambda line: None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        left = [pid for pid in recorded if processes.alive(pid)]
        left += processes.pids_mentioning(f"{root}/")
        assert not left, f"local cloud processes left after down: {left}"


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[paramiko.PKey, str]:
    """A client key pair: (paramiko key, OpenSSH public key line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return paramiko.Ed25519Key.from_private_key_file(str(path)), public


