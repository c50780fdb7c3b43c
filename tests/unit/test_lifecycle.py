"""The lifecycle and jobs through ClusterManager and JobManager, on the in-memory cloud: no OpenStack, no SSH."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import signal
import tempfile
import threading
import time
import unittest
import unittest.mock
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

from heatdeploy import (
    ClusterError,
    ClusterManager,
    DriverJobEngine,
    Framework,
    Health,
    HealthCheck,
    HeatdeployError,
    JobContext,
    JobManager,
    JobRecord,
    JobSpec,
    Options,
    Remote,
    Step,
    StepContext,
    at_least,
    exactly_one,
    hookimpl,
    parse_spec,
    plugins_from,
)
from heatdeploy.cli.main import main
from heatdeploy.cli.output import Progress
from heatdeploy.cloud.auth import AuthError
from heatdeploy.cloud.locks import ClusterBusy, ClusterLock, LockInfo, this_holder
from heatdeploy.cloud.stacks import StackError, Stall, _StallWatch
from heatdeploy.cluster import stall_after
from heatdeploy.errors import CloudError
from heatdeploy.events import Event
from heatdeploy.jobs.manager import JobError, delete_with_jobs, run_transient
from heatdeploy.jobs.staging import StagingError
from heatdeploy.plugin.validation import checks
from heatdeploy.steps.orchestrator import StepsFailed
from heatdeploy.testing import FakeCloud, FakeInstances, FakeStacks, Responses

SPEC = """\
name: toy
plugin: toy
version: "1"
image: img
flavor: m1.small
network: private
node_groups:
  - name: master
    count: 1
    processes: [master]
  - name: worker
    count: {workers}
    processes: [worker]
"""


def _mark(step: str) -> Step:
    def action(ctx: StepContext, remote: Remote) -> None:
        remote.run(["toy", step, str(len(ctx.running("worker")))])
    return Step(f"toy-{step}", action, after=("hosts",) if step != "leave" else ())


class Toy(Framework):
    """A framework whose steps only say what they are, and how many workers they see."""

    def validate(self, spec):  # type: ignore[no-untyped-def]
        yield from exactly_one(spec, "master")
        yield from at_least(spec, "worker", 1)

    def launch_steps(self) -> Sequence[Step]:
        return [_mark("start")]

    def scale_up_steps(self) -> Sequence[Step]:
        return [_mark("join")]

    def decommission_steps(self) -> Sequence[Step]:
        return [_mark("leave")]

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("toy", _daemons_up)]


def _daemons_up(ctx: StepContext) -> Health:
    down = [i.name for i in ctx.instances if ctx.remote(i).run(["toy-daemon", "status"], check=False).status]
    return Health("red", f"down on {', '.join(down)}") if down else Health("green", "every daemon runs")


TOY = Toy(name="toy", title="Toy", versions=("1",), processes={"master": "m", "worker": "w"})


class ToyJobs(DriverJobEngine):
    """A job engine that runs the program with sh on the master and reads its exit status file."""

    types = ("shell",)
    direct_data = True

    def driver(self, ctx: JobContext):  # type: ignore[no-untyped-def]
        return ctx.running("master")[0]

    def start(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> None:
        ctx.remote(self.driver(ctx)).run(["sh", program, *args])

    def status(self, ctx: JobContext, job: JobRecord):  # type: ignore[no-untyped-def]
        code = ctx.remote(self.driver(ctx)).run(["cat", f"{job.directory}/exit"]).stdout.strip()
        return ("SUCCEEDED", "done") if code == "0" else ("RUNNING", "running")

    def logs(self, ctx: JobContext, job: JobRecord, offset: int = 0) -> bytes:
        return ctx.remote(self.driver(ctx)).run(["cat", f"{job.directory}/driver.log"]).stdout.encode()[offset:]

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        pass


def toy_plugins():  # type: ignore[no-untyped-def]
    plugin = SimpleNamespace(
        heatdeploy_register_frameworks=hookimpl(lambda register: register(TOY)),
        heatdeploy_job_engine=hookimpl(lambda framework: ToyJobs() if framework.name == "toy" else None))
    return plugins_from({"toy": plugin})


class OnFakeCloud(unittest.TestCase):
    def setUp(self) -> None:
        self.plugins = toy_plugins()
        self.cloud = FakeCloud()
        self.instances = FakeInstances(Responses(commands={"cat": "0"}))
        self.keys = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.manager = ClusterManager(plugins=self.plugins, cloud=self.cloud, connector=self.instances,
                                      key_dir=self.keys, trustee_cloud="trustee")

    def spec(self, workers: int = 2):  # type: ignore[no-untyped-def]
        return parse_spec(SPEC.format(workers=workers), "toy.yaml", checks(self.plugins))

    def toy_runs(self) -> list[tuple[str, str, str]]:
        """(instance, step, workers seen) for every toy step run, in order."""
        return [(e[1], e[2][1], e[2][2]) for e in self.instances.recorder.entries()
                if e[0] == "run" and e[2][0] == "toy"]



class LifecycleTest(OnFakeCloud):
    def test_launch_creates_everything_and_runs_the_steps_on_every_instance(self) -> None:
        summary = self.manager.launch(self.spec())
        self.assertEqual(summary.state, "active")
        self.assertEqual(summary.stack_status, "CREATE_COMPLETE")
        self.assertEqual([i.name for i in summary.instances], ["toy-master-0", "toy-worker-0", "toy-worker-1"])
        record = self.cloud.records.load("toy")
        self.assertEqual(list(self.cloud.trusts), [record.trust_id])
        self.assertEqual(self.cloud.records.private_key("toy").splitlines()[0],
                         "-----BEGIN OPENSSH PRIVATE KEY-----")
        self.assertTrue((self.keys / "fake-project" / "toy" / "id_ed25519").exists())
        self.assertEqual(sorted(self.toy_runs()), [("toy-master-0", "start", "2"), ("toy-worker-0", "start", "2"),
                                                   ("toy-worker-1", "start", "2")])
        self.assertEqual(self.instances.opened, self.instances.closed)

    def test_launching_the_same_spec_again_changes_nothing(self) -> None:
        self.manager.launch(self.spec())
        events, runs = list(self.cloud.stacks.events), len(self.toy_runs())
        self.assertEqual(self.manager.launch(self.spec()).state, "active")
        self.assertEqual(self.cloud.stacks.events, events)
        self.assertEqual(len(self.toy_runs()), runs)

    def test_a_changed_count_converges_by_scaling_the_new_instances_only(self) -> None:
        self.manager.launch(self.spec(2))
        summary = self.manager.launch(self.spec(3))
        self.assertEqual(len(summary.instances), 4)
        self.assertEqual([r for r in self.toy_runs() if r[1] == "join"], [("toy-worker-2", "join", "3")])
        self.assertIn("count: 3", self.cloud.records.load("toy").spec)

    def test_an_interrupted_launch_is_finished_by_launching_again(self) -> None:
        summary = self.manager.launch(self.spec(), Options(wait=False))
        self.assertEqual(summary.stack_status, "CREATE_IN_PROGRESS")
        self.assertEqual(self.cloud.records.load("toy").state, "creating")
        self.assertEqual(self.toy_runs(), [])
        summary = self.manager.launch(self.spec())
        self.assertEqual((summary.state, summary.stack_status), ("active", "CREATE_COMPLETE"))
        self.assertEqual(len(self.toy_runs()), 3)

    def test_a_failed_stack_is_reported_then_repaired_by_launching_again(self) -> None:
        self.cloud.stacks.fail_next = "No valid host was found"
        with self.assertRaisesRegex(StackError, "stack toy CREATE_FAILED: No valid host was found"):
            self.manager.launch(self.spec())
        self.assertEqual(self.cloud.records.load("toy").state, "creating")
        first = self.cloud.stacks.find("toy").id
        summary = self.manager.launch(self.spec())  # never active: nothing to keep, so it starts over
        self.assertEqual((summary.state, summary.stack_status), ("active", "CREATE_COMPLETE"))
        self.assertNotEqual(self.cloud.stacks.find("toy").id, first)

    def test_a_half_deleted_stack_is_deleted_and_the_cluster_created_again(self) -> None:
        self.manager.launch(self.spec())
        self.cloud.stacks.fail_next = "resource busy"
        with self.assertRaisesRegex(StackError, "stack toy DELETE_FAILED: resource busy"):
            self.manager.delete("toy")
        summary = self.manager.launch(self.spec())
        self.assertEqual((summary.state, summary.stack_status), ("active", "CREATE_COMPLETE"))
        self.assertEqual(len(self.cloud.records.load("toy").configured or []), 3)

    def test_a_scale_stopped_after_the_stack_update_is_finished_by_running_it_again(self) -> None:
        self.manager.launch(self.spec(2))
        self.instances.responses.commands["toy join"] = 1  # the new instance's configuration fails
        with self.assertRaises(StepsFailed):
            self.manager.scale("toy", {"worker": 3})
        self.assertEqual(len(self.cloud.stacks.instances("toy")), 4)
        del self.instances.responses.commands["toy join"]  # type: ignore[attr-defined]
        self.manager.scale("toy", {"worker": 3})
        self.assertEqual([r for r in self.toy_runs() if r[1] == "join"], [("toy-worker-2", "join", "3")] * 2)
        self.assertEqual(len(self.cloud.records.load("toy").configured or []), 4)

    def test_launch_configures_an_instance_an_interrupted_scale_left_behind(self) -> None:
        self.manager.launch(self.spec(2))
        self.instances.responses.commands["toy join"] = 1
        with self.assertRaises(StepsFailed):
            self.manager.scale("toy", {"worker": 3})
        del self.instances.responses.commands["toy join"]  # type: ignore[attr-defined]
        self.manager.launch(self.spec(3))
        self.assertEqual([r for r in self.toy_runs() if r[1] == "join"][-1], ("toy-worker-2", "join", "3"))

    def test_launch_restarts_a_cluster_whose_health_is_not_green(self) -> None:
        self.manager.launch(self.spec())
        self.instances.responses.commands["toy-daemon status"] = 3  # rebooted: the daemons are gone
        starts = len([r for r in self.toy_runs() if r[1] == "start"])
        self.manager.launch(self.spec())
        self.assertEqual(len([r for r in self.toy_runs() if r[1] == "start"]), starts + 3)
        del self.instances.responses.commands["toy-daemon status"]  # type: ignore[attr-defined]
        self.manager.launch(self.spec())  # healthy: nothing runs
        self.assertEqual(len([r for r in self.toy_runs() if r[1] == "start"]), starts + 3)

    def test_a_record_from_before_configuration_was_tracked_counts_as_configured(self) -> None:
        self.manager.launch(self.spec())
        record = self.cloud.records.load("toy")
        record.configured = None
        self.cloud.records.save(record)
        runs = len(self.toy_runs())
        self.manager.launch(self.spec())
        self.assertEqual(len(self.toy_runs()), runs)
        self.assertEqual(len(self.cloud.records.load("toy").configured or []), 3)

    def test_scale_down_removes_the_named_instances_and_never_reuses_their_index(self) -> None:
        self.manager.launch(self.spec(3))
        summary = self.manager.scale("toy", {"worker": 2}, remove=["toy-worker-0"])
        self.assertEqual([i.name for i in summary.instances], ["toy-master-0", "toy-worker-1", "toy-worker-2"])
        self.assertEqual([r for r in self.toy_runs() if r[1] == "leave"], [("toy-worker-0", "leave", "2")])
        self.assertEqual(self.cloud.records.load("toy").removed, {"worker": ["0"]})
        summary = self.manager.scale("toy", {"worker": 3})
        self.assertEqual([i.name for i in summary.instances][-1], "toy-worker-3")

    def test_scale_refuses_what_the_framework_forbids_before_touching_anything(self) -> None:
        self.manager.launch(self.spec())
        events = list(self.cloud.stacks.events)
        with self.assertRaisesRegex(ClusterError, "at least 1 'worker' instance"):
            self.manager.scale("toy", {"worker": 0})
        with self.assertRaisesRegex(ClusterError, "no instance named toy-worker-9"):
            self.manager.scale("toy", {"worker": 1}, remove=["toy-worker-9"])
        self.assertEqual(self.cloud.stacks.events, events)

    def test_delete_removes_stack_record_key_and_trust(self) -> None:
        self.manager.launch(self.spec())
        self.assertEqual(self.manager.delete("toy"), [])
        self.assertIsNone(self.cloud.stacks.find("toy"))
        self.assertEqual(self.cloud.records.objects, {})
        self.assertEqual(self.cloud.trusts, {})
        self.assertEqual(list(self.keys.iterdir()), [], "no empty per-cluster or per-project folder is left")
        with self.assertRaisesRegex(ClusterError, "no cluster named toy"):
            self.manager.delete("toy")

    def test_host_keys_are_pinned_once_and_a_replayed_report_never_replaces_them(self) -> None:
        events: list[Event] = []
        self.manager.emit = events.append
        self.manager.launch(self.spec())
        first = dict(self.cloud.records.load("toy").host_keys)
        self.assertEqual(first["id-toy-worker-0"], FakeStacks.host_key("toy-worker-0"))
        self.cloud.stacks.reported_keys["toy-worker-0"] = "ssh-ed25519 FORGED"
        summary = self.manager.status("toy")
        self.assertEqual(summary.instances[1].host_key, first["id-toy-worker-0"])
        self.assertEqual(summary.health.status, "green")
        self.assertIn("toy-worker-0 now reports another host key", [e.message for e in events][-1])
        argv = self.manager.ssh_command("toy", "toy-worker-0")
        option = next(a for a in argv if a.startswith("UserKnownHostsFile="))
        known_hosts = Path(option.partition("=")[2]).read_text()
        self.assertIn(first["id-toy-worker-0"].split()[1], known_hosts)
        self.assertNotIn("FORGED", known_hosts)
        self.manager.scale("toy", {"worker": 3})  # steps run with the pinned key, and the new server is pinned
        self.assertEqual(self.cloud.records.load("toy").host_keys, {
            **first, "id-toy-worker-2": FakeStacks.host_key("toy-worker-2")})

    def test_ctrl_c_right_after_the_trust_is_made_still_records_it_and_delete_removes_it(self) -> None:
        create = self.cloud.create_trust

        def interrupted(trustee_cloud: str, days: float):  # type: ignore[no-untyped-def]
            trust = create(trustee_cloud, days)
            signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C as Keystone answers
            return trust

        with unittest.mock.patch.object(self.cloud, "create_trust", interrupted), \
                self.assertRaises(KeyboardInterrupt):
            self.manager.launch(self.spec())
        record = self.cloud.records.load("toy")
        self.assertEqual(list(self.cloud.trusts), [record.trust_id])
        self.assertIsNone(self.cloud.records.read_lock("toy"))
        self.manager.delete("toy")
        self.assertEqual((self.cloud.trusts, self.cloud.records.objects), ({}, {}))

    def test_a_renewal_cut_short_leaves_no_trust_that_delete_cannot_find(self) -> None:
        self.manager.launch(self.spec())
        with unittest.mock.patch.object(self.cloud, "delete_trust", side_effect=KeyboardInterrupt), \
                self.assertRaises(KeyboardInterrupt):
            self.manager.renew_trust("toy")
        self.assertEqual(len(self.cloud.trusts), 2)
        self.manager.delete("toy")
        self.assertEqual(self.cloud.trusts, {})

    def test_renewing_records_the_new_trust_before_deleting_the_old(self) -> None:
        self.manager.launch(self.spec())
        old = self.cloud.records.load("toy").trust_id
        trust = self.manager.renew_trust("toy", 7)
        self.assertEqual(list(self.cloud.trusts), [trust.id])
        self.assertEqual(self.cloud.records.load("toy").trust_id, trust.id)
        self.assertNotEqual(trust.id, old)

    def test_work_through_a_deleted_trust_fails_with_a_clear_error(self) -> None:
        self.manager.launch(self.spec())
        self.cloud.delete_trust(self.cloud.records.load("toy").trust_id)
        fresh = ClusterManager(plugins=self.plugins, cloud=self.cloud, connector=self.instances, key_dir=self.keys)
        with self.assertRaisesRegex(AuthError, "does not exist"):
            fresh.scale("toy", {"worker": 3})

    def test_a_second_operation_fails_at_once_naming_the_holder(self) -> None:
        self.manager.launch(self.spec())
        other = ClusterManager(plugins=self.plugins, cloud=self.cloud, connector=self.instances, key_dir=self.keys)
        events = list(self.cloud.stacks.events)
        busy = rf"^cluster toy is busy: scale by {re.escape(this_holder())} since "
        with self.manager.locked("toy", "scale"):
            for attempt in (lambda: other.launch(self.spec(3)), lambda: other.scale("toy", {"worker": 1}),
                            lambda: other.delete("toy"), lambda: other.renew_trust("toy")):
                with self.assertRaisesRegex(ClusterBusy, busy):
                    attempt()
            self.assertEqual(self.cloud.stacks.events, events)
            self.assertEqual(other.scale("toy", {"worker": 3}, options=Options(break_lock=True)).state, "active")
        self.assertNotIn("clusters/toy/lock.json", self.cloud.records.objects)

    def test_a_lock_whose_holder_died_is_taken_over_once_expired(self) -> None:
        self.manager.launch(self.spec())
        dead = LockInfo("someone@elsewhere pid 1", "scale", time.time() - 700, time.time() - 100)
        self.cloud.records.write_lock("toy", dead.to_json())
        self.assertEqual(len(self.manager.scale("toy", {"worker": 3}).instances), 4)
        self.assertIsNone(self.cloud.records.read_lock("toy"))

    def test_a_lock_taken_over_is_never_written_back_and_its_operation_stops(self) -> None:
        lock = ClusterLock(lambda: self.cloud.records, "toy", "launch", ttl=0.3)
        lock.acquire()
        thief = LockInfo("thief@elsewhere pid 2", "scale", time.time(), time.time() + 600, "thief")
        self.cloud.records.write_lock("toy", thief.to_json())
        deadline = time.monotonic() + 10
        while not lock.lost:
            self.assertLess(time.monotonic(), deadline, "the renewal never noticed")
            time.sleep(0.05)
        self.assertEqual(LockInfo.from_json(self.cloud.records.read_lock("toy") or b""), thief)
        with self.assertRaisesRegex(ClusterBusy, "lost its lock"):
            lock.check()
        lock.release()
        self.assertEqual(LockInfo.from_json(self.cloud.records.read_lock("toy") or b""), thief)

    def test_expiry_is_judged_by_the_stores_clock_when_it_has_one(self) -> None:
        ahead = LockInfo("skewed@elsewhere pid 4", "scale", time.time() + 3600, time.time() + 4200, "ahead")
        self.cloud.records.write_lock("toy", ahead.to_json())
        lock = ClusterLock(lambda: self.cloud.records, "toy", "launch")
        with unittest.mock.patch.object(self.cloud.records, "lock_age", return_value=700.0):
            lock.acquire()  # unrenewed for 700 s by Swift's clock, whatever the holder's clock says
        lock.release()
        behind = LockInfo("slow@elsewhere pid 5", "scale", time.time() - 3600, time.time() - 3000, "behind")
        self.cloud.records.write_lock("toy", behind.to_json())
        with unittest.mock.patch.object(self.cloud.records, "lock_age", return_value=5.0), \
                self.assertRaisesRegex(ClusterBusy, "busy: scale by slow@elsewhere"):
            ClusterLock(lambda: self.cloud.records, "toy", "launch").acquire()

    def test_a_takeover_never_deletes_a_lock_newer_than_the_one_judged(self) -> None:
        dead = LockInfo("dead@elsewhere pid 1", "scale", time.time() - 700, time.time() - 100, "dead")
        fresh = LockInfo("quick@elsewhere pid 3", "scale", time.time(), time.time() + 600, "quick")
        self.cloud.records.write_lock("toy", dead.to_json())
        reads = iter([dead.to_json(), dead.to_json(), fresh.to_json()])
        lock = ClusterLock(lambda: self.cloud.records, "toy", "launch")
        with unittest.mock.patch.object(self.cloud.records, "read_lock", side_effect=lambda name: next(reads, None)), \
                self.assertRaisesRegex(ClusterBusy, "busy: scale by quick@elsewhere"):
            lock.acquire()
        self.assertEqual(self.cloud.records.read_lock("toy"), dead.to_json())

    def test_ctrl_c_while_taking_the_lock_leaves_none(self) -> None:
        lock = ClusterLock(lambda: self.cloud.records, "toy", "launch")
        with unittest.mock.patch.object(ClusterLock, "_start_renewing", side_effect=KeyboardInterrupt), \
                self.assertRaises(KeyboardInterrupt):
            lock.acquire()
        self.assertIsNone(self.cloud.records.read_lock("toy"))

    def test_a_held_lock_is_renewed_and_released(self) -> None:
        lock = ClusterLock(lambda: self.cloud.records, "toy", "launch", ttl=0.3)
        with lock:
            first = LockInfo.from_json(self.cloud.records.read_lock("toy") or b"")
            deadline = time.monotonic() + 10
            while LockInfo.from_json(self.cloud.records.read_lock("toy") or b"") == first:
                self.assertLess(time.monotonic(), deadline, "the lock was never renewed")
                time.sleep(0.05)
        self.assertIsNone(self.cloud.records.read_lock("toy"))

    def test_a_cloud_library_error_names_the_operation_and_the_cluster(self) -> None:
        from swiftclient.exceptions import ClientException

        self.manager.launch(self.spec())
        refused = ClientException("Object GET failed", http_status=401)
        with unittest.mock.patch.object(self.cloud.records, "load", side_effect=refused):
            with self.assertRaisesRegex(CloudError, r"^scale of cluster toy failed: Swift: Object GET failed: 401$"):
                self.manager.scale("toy", {"worker": 3})
            with self.assertRaisesRegex(CloudError, r"^status of cluster toy failed: Swift: "):
                self.manager.status("toy")
        self.assertIsNone(self.cloud.records.read_lock("toy"))

    def test_a_scale_cut_short_before_its_stack_update_is_finished_by_launch(self) -> None:
        self.manager.launch(self.spec(2))
        with unittest.mock.patch.object(self.manager, "_update", side_effect=KeyboardInterrupt), \
                self.assertRaises(KeyboardInterrupt):
            self.manager.scale("toy", {"worker": 3})
        self.assertEqual(len(self.cloud.stacks.instances("toy")), 3)  # recorded 3 workers, the stack has 2
        summary = self.manager.launch(self.spec(3))
        self.assertEqual(len(summary.instances), 4)
        self.assertEqual([r for r in self.toy_runs() if r[1] == "join"], [("toy-worker-2", "join", "3")])

    def test_a_stack_update_left_running_is_waited_for_then_finished(self) -> None:
        self.manager.launch(self.spec(2))
        with unittest.mock.patch.object(self.cloud.stacks, "wait", side_effect=KeyboardInterrupt), \
                self.assertRaises(KeyboardInterrupt):
            self.manager.scale("toy", {"worker": 3})
        self.assertEqual(self.cloud.stacks.find("toy").status, "UPDATE_IN_PROGRESS")
        summary = self.manager.launch(self.spec(3))
        self.assertEqual((summary.stack_status, len(summary.instances)), ("UPDATE_COMPLETE", 4))
        self.assertIn(("toy-worker-2", "join", "3"), self.toy_runs())

    def test_delete_and_renew_after_launch_on_the_same_manager(self) -> None:
        self.manager.launch(self.spec())
        self.manager.renew_trust("toy")
        self.manager.scale("toy", {"worker": 3})  # through the new trust
        self.assertEqual(self.manager.delete("toy"), [])
        self.assertEqual((self.cloud.trusts, self.cloud.records.objects), ({}, {}))

    def test_another_thread_of_the_same_manager_does_not_share_the_lock(self) -> None:
        self.manager.launch(self.spec())
        outcome: list[BaseException] = []
        with self.manager.locked("toy", "scale"):
            worker = threading.Thread(target=lambda: self._capture(outcome, lambda: self.manager.delete("toy")))
            worker.start()
            worker.join(30)
        self.assertIsInstance(outcome[0], ClusterBusy)
        self.assertIsNotNone(self.cloud.records.load("toy"))

    @staticmethod
    def _capture(outcome: list[BaseException], action: Callable[[], object]) -> None:
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome.append(exc)

    def test_a_busy_cluster_is_never_torn_down_by_a_transient_run(self) -> None:
        self.manager.launch(self.spec())
        other = ClusterManager(plugins=self.plugins, cloud=self.cloud, connector=self.instances, key_dir=self.keys)
        with self.manager.locked("toy", "scale"), self.assertRaises(ClusterBusy):
            run_transient(other, self.spec(), JobSpec(type="shell", binary="swift://c/o"), 60)
        with self.assertRaisesRegex(JobError, "already exists and is active"):
            run_transient(other, self.spec(), JobSpec(type="shell", binary="swift://c/o"), 60)
        self.assertEqual(self.cloud.records.load("toy").state, "active")
        self.assertIsNotNone(self.cloud.stacks.find("toy"))

    def test_every_error_is_a_heatdeploy_error(self) -> None:
        for error in (ClusterError, StackError, AuthError):
            self.assertTrue(issubclass(error, HeatdeployError), error)


class JobsTest(OnFakeCloud):
    def test_a_job_is_uploaded_staged_started_and_collected(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        program = Path(self.keys / "job.sh")
        program.write_text("echo hi > \"$2/out.txt\"\n")
        self.cloud.store.objects[("data", "in/a.txt")] = b"a"
        request = JobSpec(type="shell", binary=str(program), args=["{input}", "{output}"],
                          inputs={"": "swift://data/in/"}, outputs={"": "swift://results/run1"})
        job = jobs.run("toy", request)
        self.assertEqual((job.state, job.instance), ("RUNNING", "toy-master-0"))
        self.assertTrue(job.binary.startswith("swift://heatdeploy-binaries/"))
        master = self.instances.recorder.commands("toy-master-0")
        folder = f"/var/lib/heatdeploy/jobs/{job.id}"
        self.assertIn(["sh", f"{folder}/job.sh", f"{folder}/input", f"{folder}/output"], master)
        for worker in ("toy-worker-0", "toy-worker-1"):  # inputs reach every instance
            self.assertIn(["curl", "-fsS", "--fail-early", "--globoff", "--retry", "3", "--create-dirs",
                           "-o", f"{folder}/input/a.txt", "-K", "-"], self.instances.recorder.commands(worker))
        self.instances.responses.commands["find"] = lambda instance, text: "".join(  # type: ignore[index]
            f"{shlex.split(text)[1]}/{name}\0" for name in ("part 0", "sub/part-1"))
        done = jobs.status(job.id)
        self.assertEqual(done.state, "SUCCEEDED")
        self.assertIn([
            "curl", "-fsS", "--fail-early", "--globoff", "--retry", "3", "-T", f"{folder}/output/part 0",
            "-T", f"{folder}/output/sub/part-1", "-K", "-"], self.instances.recorder.commands("toy-master-0"))
        self.assertEqual(self.cloud.records.load_job(job.id).state, "SUCCEEDED")
        self.assertIn("results", self.cloud.store.containers)
        self.assertEqual([j.id for j in jobs.list("toy")], [job.id])

    def test_hostile_object_names_fail_the_job_before_it_starts(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        self.cloud.store.objects[("data", "in/a\nurl = file:///etc/hostname\noutput = /tmp/pwned\nx")] = b"a"
        request = JobSpec(type="shell", binary="swift://c/job.sh", args=["{input}"], inputs={"": "swift://data/in/"})
        hostile = r"^input swift://data/in/: object 'a\\nurl = .*' has control characters in its name; rename it$"
        with self.assertRaisesRegex(StagingError, hostile):
            jobs.run("toy", request)
        (job,) = jobs.list("toy")
        self.assertEqual(job.state, "FAILED")
        self.assertIn("has control characters", job.message)
        self.assertFalse(any(c[0] == "sh" for c in self.instances.recorder.commands("toy-master-0")))

    def test_an_output_file_that_cannot_be_kept_fails_the_job_instead_of_every_status(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        request = JobSpec(type="shell", binary="swift://c/job.sh", args=["{output}"],
                          outputs={"": "swift://results/r"})
        job = jobs.run("toy", request)
        self.instances.responses.commands["find"] = lambda instance, text: (  # type: ignore[index]
            f"{shlex.split(text)[1]}/bad\nname\0")
        done = jobs.status(job.id)
        self.assertEqual(done.state, "FAILED")
        self.assertIn("outputs not collected: output ", done.message)
        self.assertEqual(jobs.status(job.id).state, "FAILED")

    def test_job_data_names_are_checked_for_every_caller(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        with self.assertRaisesRegex(JobError, r"^inputs\.\.\./\.\./etc: name '\.\./\.\./etc' is not allowed"):
            jobs.run("toy", JobSpec(type="shell", binary="swift://c/o", inputs={"../../etc": "swift://c/i"}))

    def test_a_job_type_the_engine_lacks_is_refused(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        with self.assertRaisesRegex(HeatdeployError, "'spark' jobs are not supported here"):
            jobs.run("toy", JobSpec(type="spark", binary="swift://c/o"))


if __name__ == "__main__":
    unittest.main()


class JobHistoryTest(OnFakeCloud):
    def ended_job(self) -> JobRecord:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        job = jobs.run("toy", JobSpec(type="shell", binary="swift://c/job.sh"))
        log = "".join(f"line {n}\n" for n in range(40))
        self.instances.responses.commands["cat"] = lambda instance, text: (
            log if text.endswith("driver.log") else "0")
        return jobs.status(job.id)

    def test_an_ended_jobs_log_is_saved_and_read_after_its_cluster_is_deleted(self) -> None:
        job = self.ended_job()
        self.assertTrue(job.log_saved)
        master = self.instances.recorder.commands("toy-master-0")
        self.assertTrue(any(c[:2] == ["sh", "-c"] and "shipper.pid" in c[2] and c[3] == "stop" for c in master),
                        "the shipper is stopped before the rest is sent")
        self.manager.delete("toy")
        jobs = JobManager(self.manager)
        self.assertEqual(jobs.logs(job.id, 8), "".join(f"line {n}\n" for n in range(40)).encode()[8:])
        self.assertEqual(jobs.status(job.id).state, "SUCCEEDED")
        self.assertEqual([j.id for j in jobs.list("toy")], [job.id])

    def test_a_running_job_whose_cluster_is_gone_is_recorded_killed(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        job = jobs.run("toy", JobSpec(type="shell", binary="swift://c/job.sh"))
        self.manager.delete("toy")
        gone = jobs.status(job.id)
        self.assertEqual((gone.state, gone.message), ("KILLED", "its cluster toy is gone"))
        self.assertEqual(jobs.cancel(job.id).state, "KILLED")
        self.assertEqual(jobs.logs(job.id), b"", "nothing was shipped: an empty log, not an error")

    def test_the_log_shipper_is_started_with_a_url_for_the_jobs_log_only(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        job = jobs.run("toy", JobSpec(type="shell", binary="swift://c/job.sh", timeout=100))
        conf = self.instances.recorder.file("toy-master-0", f"{job.directory}/log.conf") or ""
        self.assertIn(f"export HEATDEPLOY_LOG_URL=https://object-store.invalid/v1/AUTH_fake/heatdeploy/jobs/"
                      f"{job.id}/log/\n", conf)
        self.assertIn("method=PUT", conf)
        self.assertIn("temp_url_expires=700", conf, "the job's timeout and the grace")
        start = [c for c in self.instances.recorder.commands("toy-master-0") if c[:2] == ["sh", "-c"]
                 and c[3:4] == ["start"] and "shipper.pid" in c[2]]
        self.assertEqual(len(start), 1)
        self.assertNotIn("temp_url", " ".join(start[0]), "no URL on a command line")

    def running_job(self) -> tuple[JobManager, JobRecord]:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())
        job = jobs.run("toy", JobSpec(type="shell", binary="swift://c/job.sh"))
        self.instances.responses.commands["cat"] = ""  # no exit status yet: it runs
        return jobs, job

    def test_a_delete_that_fails_leaves_running_jobs_running(self) -> None:
        jobs, job = self.running_job()
        self.cloud.stacks.fail_next = "the stack is stuck"
        with self.assertRaises(HeatdeployError):
            delete_with_jobs(self.manager, "toy", "its cluster was deleted")
        self.assertEqual(self.cloud.records.load_job(job.id).state, "RUNNING")

    def test_a_delete_records_its_running_jobs_killed_once_the_cluster_is_gone(self) -> None:
        jobs, job = self.running_job()
        self.assertEqual(delete_with_jobs(self.manager, "toy", "its cluster was deleted"), [])
        gone = self.cloud.records.load_job(job.id)
        self.assertEqual((gone.state, gone.message), ("KILLED", "its cluster was deleted"))

    def test_a_failure_before_the_job_starts_is_recorded_whatever_it_is(self) -> None:
        jobs = JobManager(self.manager)
        self.manager.launch(self.spec())

        def broken(instance: str, text: str) -> str:
            raise RuntimeError("staging broke")
        self.instances.responses.commands["curl"] = broken
        with self.assertRaisesRegex(RuntimeError, "staging broke"):
            jobs.run("toy", JobSpec(type="shell", binary="swift://c/job.sh"))
        (job,) = jobs.list("toy")
        self.assertEqual((job.state, job.message), ("FAILED", "not started: RuntimeError('staging broke')"))

    def test_purge_deletes_the_clusters_job_records_and_logs(self) -> None:
        job = self.ended_job()
        other = self.cloud.records
        self.assertTrue(other.job_log_chunks(job.id))
        self.assertEqual(JobManager(self.manager).purge("toy"), [job.id])
        self.assertIsNone(other.load_job(job.id))
        self.assertEqual(other.job_log_chunks(job.id), [])


class CommandLineTest(OnFakeCloud):
    """The lifecycle commands over the in-memory cloud, through the real command line."""

    def heatdeploy(self, *args: str) -> tuple[int, list[dict[str, object]]]:
        out = io.StringIO()
        with unittest.mock.patch("heatdeploy.cli.lifecycle.manager", lambda args, progress: self.manager), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            status = main([*args, "--format", "json"])
        return status, [json.loads(line) for line in out.getvalue().splitlines()]

    def test_status_check_passes_only_an_active_green_cluster(self) -> None:
        self.manager.launch(self.spec(), Options(wait=False))
        status, events = self.heatdeploy("status", "toy", "--check")
        self.assertEqual((status, events[-1]["state"]), (1, "creating"))
        self.manager.launch(self.spec())
        self.assertEqual(self.heatdeploy("status", "toy", "--check")[0], 0)
        self.instances.responses.commands = {"true": 255}  # every instance stops answering over SSH
        status, events = self.heatdeploy("status", "toy", "--check")
        self.assertEqual((status, events[-1]["health"]["status"]), (1, "red"))

    def test_a_failure_ends_with_one_error_event(self) -> None:
        status, events = self.heatdeploy("scale", "nope", "worker=1")
        self.assertEqual(status, 1)
        self.assertEqual(events[-1], {"event": "error", "exit_status": 1, "message": "no cluster named nope"})


class StallWatchTest(unittest.TestCase):
    """When Heat is silent: said once per silence, with the last event, and the CLI words for it."""

    def test_said_once_per_silence_and_again_after_a_new_event(self) -> None:
        stalls: list[Stall] = []
        watch = _StallWatch("demo", "UPDATE", 0.0, time.monotonic() + 600, stalls.append)
        watch.check()
        watch.check()
        watch.event("demo UPDATE_IN_PROGRESS")
        watch.check()
        self.assertEqual([(s.stack, s.action, s.last_event) for s in stalls],
                         [("demo", "UPDATE", ""), ("demo", "UPDATE", "demo UPDATE_IN_PROGRESS")])
        self.assertGreater(stalls[0].time_left, 590)

    def test_not_before_the_while(self) -> None:
        stalls: list[Stall] = []
        watch = _StallWatch("demo", "CREATE", 60.0, time.monotonic() + 600, stalls.append)
        watch.check()
        self.assertEqual(stalls, [])

    def test_the_default_grows_with_the_cluster(self) -> None:
        self.assertEqual(stall_after(Options(), 0), 300)
        self.assertEqual(stall_after(Options(), 200), 500)
        self.assertEqual(stall_after(Options(stall_after=5), 200), 5)

    def test_the_command_line_shows_it_as_a_warning_and_json_as_its_own_event(self) -> None:
        text, data = io.StringIO(), io.StringIO()
        Progress("text", out=io.StringIO(), err=text)(Event("stack_stalled", message="stack demo (CREATE): ..."))
        Progress("json", out=data)(Event("stack_stalled", message="stack demo (CREATE): ..."))
        self.assertEqual(text.getvalue(), "warning: stack demo (CREATE): ...\n")
        self.assertEqual(json.loads(data.getvalue()), {"event": "stack_stalled", "message": "stack demo (CREATE): ..."})
