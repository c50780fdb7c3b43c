"""Facts through the real path: published on instances over SSH, kept in the cluster's record in Swift,
read by a scale-up run by another manager."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from heatdeploy import Framework, Remote, Step, StepContext, hookimpl, plugins_from


def devices(ctx: StepContext, remote: Remote) -> None:
    # What the instance itself reports, so the value really comes from it.
    ctx.publish("devices", {"host": remote.run(["hostname"]).stdout.strip(), "path": "/srv/disk1"})


def build(ctx: StepContext, remote: Remote) -> None:
    lines = [f"{name} {found['host']} {found['path']}\n" for name, found in sorted(ctx.facts("devices").items())]
    remote.write_file("/etc/ring", "".join(lines))


class Ring(Framework):
    def launch_steps(self) -> Sequence[Step]:
        return [Step("ring-devices", devices, processes=("storage",), after=("hosts",), publishes=("devices",)),
                Step("ring-build", build, processes=("builder",), scope="all", after=("ring-devices",))]

    def scale_up_steps(self) -> Sequence[Step]:
        return self.launch_steps()


RING = Ring(name="ring", title="Ring", versions=("1",), processes={"builder": "builds", "storage": "stores"})


def test_a_scale_up_reads_what_the_launch_published(heatdeploy_cluster: Any) -> None:
    plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(RING)))
    spec = {"name": "ft-facts", "plugin": "ring", "version": "1", "image": "local", "flavor": "m1.tiny",
            "network": "private", "floating_ip_pool": "public",
            "node_groups": [{"name": "builder", "count": 1, "processes": ["builder"]},
                            {"name": "storage", "count": 2, "processes": ["storage"]}]}
    cluster = heatdeploy_cluster(spec, plugins=plugins_from({"ring": plugin}))
    expected = "".join(f"ft-facts-storage-{n} ft-facts-storage-{n} /srv/disk1\n" for n in range(2))
    assert cluster.ssh("ft-facts-builder-0", ["cat", "/etc/ring"]).stdout == expected

    cluster.scale(storage=3)  # the devices step runs on the new node only; the others come from the record
    expected += "ft-facts-storage-2 ft-facts-storage-2 /srv/disk1\n"
    assert cluster.ssh("ft-facts-builder-0", ["cat", "/etc/ring"]).stdout == expected
    record = cluster.manager.record("ft-facts")
    assert sorted(record.facts["values"]["devices"]) == [f"ft-facts-storage-{n}" for n in range(3)]
