"""Facts: published by one step per instance, read by a later one, kept with the cluster across operations."""

from __future__ import annotations

import tempfile
import unittest
import unittest.mock
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from heatdeploy import (
    ClusterManager,
    FactError,
    Framework,
    HeatdeployError,
    Remote,
    RemoteError,
    Step,
    StepContext,
    StepsFailed,
    hookimpl,
    parse_spec,
    plugins_from,
)
from heatdeploy.plugin.facts import MAX_VALUE_BYTES, Facts
from heatdeploy.plugin.validation import checks
from heatdeploy.steps.orchestrator import StepGraphError
from heatdeploy.testing import FakeCloud, FakeInstances, make_cluster, run_operation

SPEC = """\
name: ring
plugin: ring
version: "1"
image: img
flavor: m1.small
network: private
node_groups:
  - {{name: builder, count: 1, processes: [builder]}}
  - {{name: storage, count: {storage}, processes: [storage]}}
"""
SECRET = "s3cr3t-value"


def devices(ctx: StepContext, remote: Remote) -> None:
    """Each storage node publishes its device."""
    ctx.publish("devices", [{"path": f"/srv/{remote.instance.name}", "weight": 100}])


def admin_key(ctx: StepContext, remote: Remote) -> None:
    ctx.publish("admin-key", SECRET, secret=True)


def build(ctx: StepContext, remote: Remote) -> None:
    """The builder writes the ring from every storage node's devices."""
    lines = [f"{name} {d['path']}\n" for name, found in sorted(ctx.facts("devices").items()) for d in found]
    remote.write_file("/etc/ring", "".join(lines))


class Ring(Framework):
    def launch_steps(self) -> Sequence[Step]:
        return [Step("ring-devices", devices, processes=("storage",), publishes=("devices",)),
                Step("ring-admin-key", admin_key, processes=("builder",), once=True, publishes=("admin-key",)),
                Step("ring-build", build, processes=("builder",), scope="all", after=("ring-devices",))]

    def scale_up_steps(self) -> Sequence[Step]:
        return self.launch_steps()


RING = Ring(name="ring", title="Ring", versions=("1",), processes={"builder": "b", "storage": "s"})


class StepTest(unittest.TestCase):
    def test_a_later_step_reads_what_every_instance_published(self) -> None:
        ctx = make_cluster(SPEC.format(storage=2), RING)
        run_operation(RING, "launch", ctx)
        self.assertEqual(ctx.recorder.file("ring-builder-0", "/etc/ring"),
                         "ring-storage-0 /srv/ring-storage-0\nring-storage-1 /srv/ring-storage-1\n")
        self.assertEqual(ctx.fact_store.secret, {"admin-key"})

    def test_an_instance_that_never_published_is_named_with_the_step(self) -> None:
        def some(ctx: StepContext, remote: Remote) -> None:
            if remote.instance.name != "ring-storage-1":
                devices(ctx, remote)

        steps = [Step("ring-devices", some, processes=("storage",), publishes=("devices",)),
                 Step("ring-build", build, processes=("builder",), after=("ring-devices",))]
        forgetful = Ring(name="ring", title="Ring", versions=("1",), processes=RING.processes)
        forgetful.launch_steps = lambda: steps  # type: ignore[method-assign]
        with self.assertRaises(StepsFailed) as failed:
            run_operation(forgetful, "launch", make_cluster(SPEC.format(storage=2), forgetful))
        self.assertIn("ring-storage-1 never published fact 'devices' (step 'ring-devices' publishes it)",
                      str(failed.exception))

    def test_values_must_be_json_and_bounded_and_errors_never_show_them(self) -> None:
        facts = Facts()
        with self.assertRaisesRegex(FactError, "fact 'when' of a-0 is not JSON data"):
            facts.publish("a-0", "when", {1, 2})
        with self.assertRaises(FactError) as big:
            facts.publish("a-0", "blob", SECRET * (MAX_VALUE_BYTES // len(SECRET) + 1), secret=True)
        self.assertNotIn(SECRET, str(big.exception))
        self.assertIn("at most 65536", str(big.exception))
        self.assertEqual(facts.values, {})

    def test_a_refused_publish_keeps_what_was_there(self) -> None:
        facts = Facts()
        facts.publish("a-0", "size", 1)
        with unittest.mock.patch("heatdeploy.plugin.facts.MAX_TOTAL_BYTES", 40):
            with self.assertRaisesRegex(FactError, "would exceed 40 bytes"):
                facts.publish("a-0", "size", "x" * 30, secret=True)
        self.assertEqual((facts.of("size"), facts.secret), ({"a-0": 1}, set()))
        facts.of("size")["a-0"] = 2  # a copy
        self.assertEqual(facts.of("size"), {"a-0": 1})

    def test_a_step_that_runs_once_is_expected_to_publish_once(self) -> None:
        steps = [Step("key", admin_key, processes=("storage",), once=True, publishes=("admin-key",)),
                 Step("use", lambda ctx, remote: ctx.facts("admin-key"), processes=("builder",), after=("key",))]
        once = Ring(name="ring", title="Ring", versions=("1",), processes=RING.processes)
        once.launch_steps = lambda: steps  # type: ignore[method-assign]
        run_operation(once, "launch", make_cluster(SPEC.format(storage=3), once))

    def test_two_steps_may_not_publish_one_fact(self) -> None:
        steps = [Step("a", devices, publishes=("devices",)), Step("b", devices, publishes=("devices",))]
        with self.assertRaisesRegex(StepGraphError, "more than one step publishes fact"):
            from heatdeploy.steps.orchestrator import check_graph
            check_graph(steps)


class LifecycleTest(unittest.TestCase):
    """Facts travel in the cluster's record: a scale-up reads what the launch published."""

    def setUp(self) -> None:
        plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(RING)))
        self.plugins = plugins_from({"ring": plugin})
        self.cloud = FakeCloud()
        self.instances = FakeInstances()
        keys = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.manager = ClusterManager(plugins=self.plugins, cloud=self.cloud, connector=self.instances,
                                      key_dir=keys, trustee_cloud="trustee")

    def ring(self) -> str | None:
        return self.instances.recorder.file("ring-builder-0", "/etc/ring")

    def test_what_was_published_is_kept_when_a_later_step_fails(self) -> None:
        def broken(ctx: StepContext, remote: Remote) -> None:
            raise RemoteError(remote.instance.name, "the builder's disk is full")

        failing = Ring(name="ring", title="Ring", versions=("1",), processes=RING.processes)
        failing.launch_steps = lambda: [  # type: ignore[method-assign]
            Step("ring-devices", devices, processes=("storage",), publishes=("devices",)),
            Step("ring-build", broken, processes=("builder",), after=("ring-devices",))]
        plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(failing)))
        plugins = plugins_from({"ring": plugin})
        manager = ClusterManager(plugins=plugins, cloud=self.cloud, connector=self.instances,
                                 key_dir=Path(self.enterContext(tempfile.TemporaryDirectory())),
                                 trustee_cloud="trustee")
        with self.assertRaises(HeatdeployError):
            manager.launch(parse_spec(SPEC.format(storage=2), "ring.yaml", checks(plugins)))
        record = self.cloud.records.load("ring")
        assert record is not None
        self.assertEqual(sorted(record.facts["values"]["devices"]), ["ring-storage-0", "ring-storage-1"])

    def test_launch_then_scale_up_then_down(self) -> None:
        self.manager.launch(parse_spec(SPEC.format(storage=2), "ring.yaml", checks(self.plugins)))
        record = self.cloud.records.load("ring")
        assert record is not None
        self.assertEqual(sorted(record.facts["values"]["devices"]), ["ring-storage-0", "ring-storage-1"])
        self.assertEqual(record.facts["secret"], ["admin-key"])

        # A new manager, as from another machine: the record is all it has.
        again = ClusterManager(plugins=self.plugins, cloud=self.cloud, connector=self.instances,
                               key_dir=Path(self.enterContext(tempfile.TemporaryDirectory())),
                               trustee_cloud="trustee")
        again.scale("ring", {"storage": 3})
        self.assertEqual(self.ring(), "".join(f"ring-storage-{n} /srv/ring-storage-{n}\n" for n in range(3)))

        again.scale("ring", {"storage": 2}, remove=["ring-storage-0"])
        record = self.cloud.records.load("ring")
        assert record is not None
        self.assertEqual(sorted(record.facts["values"]["devices"]), ["ring-storage-1", "ring-storage-2"])
