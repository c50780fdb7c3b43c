"""Big and slow stacks on the local cloud: a stalled stack is reported, and a 100-instance cluster comes and goes."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from heatdeploy import ClusterManager, Event, Options, UserDataPart, hookimpl
from heatdeploy.testing import bare_cluster
from tests.functional.cloudtools import LocalCloud, heat_for

STALL_AFTER = 4


class Stalled(Exception):
    """Raised by the test's event sink to stop waiting, as a user would press Ctrl-C."""


def test_a_stack_heat_shows_nothing_new_of_is_reported_within_the_configured_while(
        local_cloud: LocalCloud, tmp_path: Path) -> None:
    plugins, loaded = bare_cluster("ft-stall", 1)
    # An instance that never reports in: its boot sleeps before the wait condition is signalled.
    slow_boot = SimpleNamespace(heatdeploy_user_data=hookimpl(
        lambda spec, node_group, framework: UserDataPart(commands=(("sleep", "600"),))))
    plugins.add("slow-boot", slow_boot)
    events: list[tuple[float, Event]] = []

    def sink(event: Event) -> None:
        events.append((time.monotonic(), event))
        if event.kind == "stack_stalled":
            raise Stalled(event.message)

    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, on_event=sink, key_dir=tmp_path)
    try:
        with pytest.raises(Stalled) as stalled:
            manager.launch(loaded, Options(stall_after=STALL_AFTER))
        message = str(stalled.value)
        assert message.startswith(f"stack ft-stall (CREATE): nothing new from Heat for {STALL_AFTER} s; "
                                  "its last event: "), message
        assert "wait (this operation gives up in 60 min), or stop it and delete the cluster" in message, message
        heard = [at for at, event in events if event.kind == "stack"]
        quiet_for = events[-1][0] - heard[-1]
        assert STALL_AFTER <= quiet_for < STALL_AFTER + 3, quiet_for  # Heat is polled every second
    finally:
        manager.delete("ft-stall", force=True, break_lock=True)
    assert not [s for s in heat_for(local_cloud.session("demo", "demo")).stacks.list() if s.stack_name == "ft-stall"]


@pytest.mark.slow
def test_a_hundred_instance_cluster_is_launched_configured_and_deleted(local_cloud: LocalCloud,
                                                                      tmp_path: Path) -> None:
    plugins, loaded = bare_cluster("ft-hundred", 100)
    events: list[Event] = []
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, on_event=events.append, key_dir=tmp_path)
    try:
        summary = manager.launch(loaded, Options(max_parallel=16))
        assert summary.state == "active" and len(summary.instances) == 100
        hosts = [e for e in events if e.kind == "step_done" and e.step == "hosts"]
        assert [(e.done, e.total) for e in hosts] == [(100, 100)], hosts
        with manager.connect("ft-hundred") as connections:
            listed = connections.remote("ft-hundred-node-99").run(["cat", "/etc/hosts"]).stdout
        assert {f"ft-hundred-node-{n}" for n in range(100)} <= set(listed.split())
        assert not [e for e in events if e.kind == "stack_stalled"]
    finally:
        manager.delete("ft-hundred", force=True, break_lock=True)
    assert not [s for s in heat_for(local_cloud.session("demo", "demo")).stacks.list()
                if s.stack_name == "ft-hundred"]
