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
