"""The local cloud, brought up once per test run in a temporary state dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from heatdeploy.local import lifecycle, processes
from heatdeploy.local.state import State, load_secrets
from tests.functional.cloudtools import LocalCloud


@pytest.fixture(scope="session")
def local_cloud(heatdeploy_local_cloud: Path) -> Iterator[LocalCloud]:
    """The cloud of heatdeploy's own pytest fixture, with what tests need to look inside it."""
    root = heatdeploy_local_cloud
    recorded = list(State.load(root).pids.values())
    yield LocalCloud(root=root, state=State.load(root), passwords=load_secrets(root))
    lifecycle.down(root, log=lambda line: None)
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


