"""pytest fixtures for testing plugins against the local cloud.

Installed with heatdeploy and enabled automatically (entry point
``pytest11``); the fixtures cost nothing until a test asks for them::

    def test_my_framework(heatdeploy_cluster):
        summary = heatdeploy_cluster("tests/my-cluster.yaml")
        assert summary.health.status == "green"

The local cloud needs root and the Debian packages of
``scripts/install-system-deps``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixtures: every pytest run loads this plugin, few use it
    from heatdeploy.cluster import Options, Summary

CLOUD = "heatdeploy-local"
TRUSTEE = "heatdeploy-local-trustee"


@pytest.fixture(scope="session")
def heatdeploy_local_cloud() -> Iterator[Path]:
    """A local cloud for the whole test run (its state dir); ``--os-cloud heatdeploy-local`` works."""
    from heatdeploy.local.temporary import temporary_cloud

    with temporary_cloud() as root:
        yield root


@pytest.fixture
def heatdeploy_cluster(heatdeploy_local_cloud: Path) -> Iterator[Callable[..., Summary]]:
    """Launch a spec on the local cloud and return its status (with health); deleted after the test."""
    from heatdeploy.cloud.auth import load_cloud
    from heatdeploy.cluster import ClusterManager, Options
    from heatdeploy.plugin.manager import load_plugins
    from heatdeploy.plugin.validation import load_and_validate

    plugins = load_plugins()
    manager = ClusterManager(load_cloud(CLOUD).session, plugins, trustee_cloud=TRUSTEE)
    launched: list[str] = []

    def launch(spec: str | Path, options: Options | None = None) -> Summary:
        options = options or Options()
        loaded = load_and_validate(str(spec), plugins)
        launched.append(loaded.spec.name)
        manager.launch(loaded, options)
        return manager.status(loaded.spec.name, options)

    yield launch
    for name in launched:
        manager.delete(name, force=True)
