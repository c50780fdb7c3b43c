"""The local cloud, brought up once per test run in a temporary state dir."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from heatdeploy.local import lifecycle, network, processes, volumes
from heatdeploy.local.state import State, load_secrets
from heatdeploy.pytest_plugin import REUSE
from heatdeploy.ssh import keys
from tests.functional.cloudtools import LocalCloud


@pytest.fixture(scope="session")
def local_cloud(heatdeploy_local_cloud: Path) -> Iterator[LocalCloud]:
    """The cloud of heatdeploy's own pytest fixture, with what tests need to look inside it."""
    root = heatdeploy_local_cloud
    recorded = list(State.load(root).pids.values())
    yield LocalCloud(root=root, state=State.load(root), passwords=load_secrets(root))
    if os.environ.get(REUSE):
        return  # a cloud the developer started stays up, as heatdeploy_local_cloud promises
    lifecycle.down(root, log=lambda line: None)
    left = [pid for pid in recorded if processes.alive(pid)]
    left += processes.pids_mentioning(f"{root}/")
    assert not left, f"local cloud processes left after down: {left}"
    loops = [loop for image in (root / "cloud" / "volume-data").glob("*.img") for loop in volumes.loops_of(image)]
    assert not loops, f"loop devices left after down: {loops}"
    octet = State.load(root).network
    assert not network.table_exists(octet), f"nftables table hd{octet} left after down"
    assert not network.interfaces(octet), f"interfaces left after down: {network.interfaces(octet)}"


@pytest.fixture(scope="session")
def ssh_key() -> tuple[paramiko.PKey, str]:
    """A client key pair: (paramiko key, OpenSSH public key line)."""
    pair = keys.generate()
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pair.private)), pair.public
