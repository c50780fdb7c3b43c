"""pytest fixtures for testing plugins against the local cloud.

Installed with heatdeploy and enabled automatically (entry point
``pytest11``); the fixtures cost nothing until a test asks for them::

    def test_my_framework(heatdeploy_cluster):
        cluster = heatdeploy_cluster("tests/my-cluster.yaml")   # a path, YAML text or a dict
        assert cluster.summary.health.status == "green"
        cluster.scale(worker=3)
        assert cluster.run_job("shell", "tests/job.sh").state == "SUCCEEDED"

The local cloud needs root and the Debian packages of
``scripts/install-system-deps``. Set ``HEATDEPLOY_TEST_CLOUD`` to the state
dir of a local cloud that is up (``heatdeploy local status`` prints it) to
reuse it instead of starting one per test run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixtures: every pytest run loads this plugin, few use it
    from heatdeploy.cluster import Options
    from heatdeploy.plugin.manager import Plugins
    from heatdeploy.testing.launched import LaunchedCluster, SpecSource

CLOUD = "heatdeploy-local"
TRUSTEE = "heatdeploy-local-trustee"
REUSE = "HEATDEPLOY_TEST_CLOUD"


@pytest.fixture(scope="session")
def heatdeploy_local_cloud() -> Iterator[Path]:
    """A local cloud for the whole test run (its state dir); ``--os-cloud heatdeploy-local`` works.

    With ``HEATDEPLOY_TEST_CLOUD`` set to the state dir of a local cloud that
    is up, that cloud is used and left running; otherwise a temporary one is
    started, and stopped and removed after the run.
    """
    from heatdeploy.local import lifecycle
    from heatdeploy.local.temporary import temporary_cloud

    reused = os.environ.get(REUSE)
    if reused:
        if not lifecycle.status_dict(Path(reused))["up"]:
            pytest.fail(f"{REUSE}={reused}: no local cloud is up there (start one with 'heatdeploy local up')",
                        pytrace=False)
        yield Path(reused)
        return
    with temporary_cloud() as root:
        yield root


@pytest.fixture
def heatdeploy_cluster(heatdeploy_local_cloud: Path) -> Iterator[Callable[..., LaunchedCluster]]:
    """Launch a spec on the local cloud; returns a :class:`~heatdeploy.testing.LaunchedCluster`.

    Call it with a spec (a path, YAML text or a dict), and optionally
    ``options=`` (:class:`~heatdeploy.Options`) and ``plugins=`` (default:
    the installed ones). Every cluster it launched is deleted after the
    test, even when the launch failed half-way.
    """
    from heatdeploy.cloud.auth import load_cloud
    from heatdeploy.cluster import ClusterManager, Options
    from heatdeploy.plugin.manager import load_plugins
    from heatdeploy.testing.launched import LaunchedCluster, load_test_spec

    session = load_cloud(CLOUD).session
    managers: list[tuple[ClusterManager, str]] = []

    def launch(spec: SpecSource, options: Options | None = None, plugins: Plugins | None = None) -> LaunchedCluster:
        options, plugins = options or Options(), plugins or load_plugins()
        loaded = load_test_spec(spec, plugins)
        manager = ClusterManager(session, plugins, trustee_cloud=TRUSTEE)
        managers.append((manager, loaded.spec.name))
        manager.launch(loaded, options)
        return LaunchedCluster(manager, manager.status(loaded.spec.name, options))

    yield launch
    for manager, name in managers:
        if manager.cloud.stacks.find(name) is not None or manager.cloud.records.load(name) is not None:
            manager.delete(name, force=True)  # unless the test deleted it itself
