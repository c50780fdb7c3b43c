"""The step orchestrator: order, parallelism, selection, failures, retries, events; and the recording fake."""

from __future__ import annotations

import concurrent.futures as futures
import secrets
import signal
import threading
import time
import unittest
from collections.abc import Callable

from heatdeploy.events import Event
from heatdeploy.interrupts import deferred
from heatdeploy.plugin.remote import Remote, RemoteError, Result
from heatdeploy.plugin.steps import DeadlineExceeded, Step, StepContext
from heatdeploy.plugins.spark import SPARK
from heatdeploy.steps.orchestrator import StepsFailed, run_steps
from heatdeploy.testing import RecordingContext, Responses, make_cluster
from tests.unit.helpers import SPARK_SPEC

Action = Callable[[StepContext, Remote], None]
MASTER, WORKER0, WORKER1 = "demo-master-0", "demo-worker-0", "demo-worker-1"


def cluster(**kwargs: object) -> RecordingContext:
    return make_cluster(SPARK_SPEC, SPARK, **kwargs)  # type: ignore[arg-type]


def mark(name: str) -> Action:
    """An action that runs ``name`` as a command, so the recorder shows where and when it ran."""
    def action(ctx: StepContext, remote: Remote) -> None:
        remote.run([name])
    return action


def ran(ctx: RecordingContext, command: str) -> list[str]:
    """The instances ``command`` ran on, in the order it ran."""
    return [e[1] for e in ctx.recorder.entries() if e[0] == "run" and e[2] == [command]]


def positions(ctx: RecordingContext, command: str) -> list[int]:
    return [n for n, e in enumerate(ctx.recorder.entries()) if e[0] == "run" and e[2] == [command]]


def meet_at(barrier: threading.Barrier) -> Action:
    """An action that only finishes once ``barrier.parties`` actions are inside it at the same time."""
    def action(ctx: StepContext, remote: Remote) -> None:
        barrier.wait()
    return action


class OrderTest(unittest.TestCase):
    def test_every_step_follows_all_it_is_after(self) -> None:
        ctx = cluster()
        run_steps(ctx, [
            Step("d", mark("d"), after=("b", "c"), scope="all"),
            Step("c", mark("c"), after=("a",)),
            Step("b", mark("b"), after=("a",), processes=("worker",)),
            Step("a", mark("a")),
        ])
        a, b, c, d = (positions(ctx, s) for s in "abcd")
        self.assertEqual((len(a), len(b), len(c), len(d)), (3, 2, 3, 3))
        assert max(a) < min(b) and max(a) < min(c)
        assert max(b + c) < min(d)

    def test_independent_steps_run_at_the_same_time(self) -> None:
        barrier = threading.Barrier(2, timeout=10)
        ctx = cluster()
        run_steps(ctx, [Step("left", meet_at(barrier), once=True), Step("right", meet_at(barrier), once=True),
                        Step("then", mark("then"), once=True, after=("left", "right"))])
        self.assertEqual(ran(ctx, "then"), [MASTER])

    def test_one_steps_instances_run_at_the_same_time(self) -> None:
        run_steps(cluster(), [Step("all", meet_at(threading.Barrier(3, timeout=10)))])

    def test_the_barrier_proves_it_one_at_a_time_fails(self) -> None:
        barrier = threading.Barrier(2, timeout=0.2)
        with self.assertRaises(StepsFailed):
            run_steps(cluster(), [Step("left", meet_at(barrier), once=True),
                                  Step("right", meet_at(barrier), once=True)], max_workers=1)


class SelectionTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = make_cluster(SPARK_SPEC.replace("count: 2", "count: 3"), SPARK, targets=["demo-worker-2"])

    def test_targets_by_default_all_when_asked(self) -> None:
        run_steps(self.ctx, [Step("t", mark("t")), Step("a", mark("a"), scope="all")])
        self.assertEqual(ran(self.ctx, "t"), ["demo-worker-2"])
        self.assertEqual(sorted(ran(self.ctx, "a")), [MASTER, WORKER0, WORKER1, "demo-worker-2"])

    def test_processes_and_groups(self) -> None:
        run_steps(self.ctx, [Step("p", mark("p"), processes=("master",), scope="all"),
                             Step("g", mark("g"), groups=("worker",), scope="all")])
        self.assertEqual(ran(self.ctx, "p"), [MASTER])
        self.assertEqual(sorted(ran(self.ctx, "g")), [WORKER0, WORKER1, "demo-worker-2"])

    def test_once_runs_on_the_first_selected_instance(self) -> None:
        run_steps(self.ctx, [Step("o", mark("o"), processes=("worker",), scope="all", once=True),
                             Step("t", mark("t"), once=True)])
        self.assertEqual(ran(self.ctx, "o"), [WORKER0])
        self.assertEqual(ran(self.ctx, "t"), ["demo-worker-2"])

    def test_a_step_with_no_instance_is_skipped_and_what_follows_it_runs(self) -> None:
        events: list[Event] = []
        self.ctx.emit = events.append
        run_steps(self.ctx, [Step("none", mark("none"), processes=("master",)),
                             Step("next", mark("next"), after=("none",))])
        self.assertEqual(ran(self.ctx, "none"), [])
        self.assertEqual(ran(self.ctx, "next"), ["demo-worker-2"])
        self.assertIn(Event("step_skipped", "none", message="no instance to run on"), events)


def fail_on(instance: str, command: str, output: str) -> Responses:
    def reply(inst: object, text: str) -> Result | None:
        return Result(3, output, "") if (getattr(inst, "name", ""), text) == (instance, command) else None
    return Responses(commands=reply)


class FailureTest(unittest.TestCase):
    def test_a_failing_instance_stops_later_steps(self) -> None:
        output = "".join(f"line {n}\n" for n in range(1000)) + "disk full"
        ctx = cluster(responses=fail_on(WORKER1, "configure", output))
        with self.assertRaises(StepsFailed) as caught:
            run_steps(ctx, [Step("configure", mark("configure")), Step("start", mark("start"), after=("configure",))])
        self.assertEqual(ran(ctx, "start"), [])
        self.assertEqual(sorted(ran(ctx, "configure")), [MASTER, WORKER0, WORKER1])
        [failure] = caught.exception.failures
        self.assertEqual((failure.kind, failure.step, failure.instance), ("instance_failed", "configure", WORKER1))
        assert failure.output.endswith("line 999\ndisk full")
        assert len(failure.output) <= 2000
        self.assertIn("'configure' failed on demo-worker-1: 'configure' exited with status 3",
                      str(caught.exception))

    def test_a_failing_wait_names_the_condition(self) -> None:
        def never(ctx: StepContext, remote: Remote) -> None:
            ctx.wait_until("the moon is blue", lambda: False, 30)

        with self.assertRaises(StepsFailed) as caught:
            run_steps(cluster(), [Step("wait", never, once=True)])
        self.assertIn("demo-master-0: the moon is blue: not true after 30 s", str(caught.exception))


class InterruptTest(unittest.TestCase):
    def test_ctrl_c_starts_nothing_more_and_does_not_wait_for_actions_under_way(self) -> None:
        release = threading.Event()
        started: list[str] = []
        finished: list[str] = []

        def blocked(ctx: StepContext, remote: Remote) -> None:
            started.append(remote.instance.name)
            release.wait(10)
            finished.append(remote.instance.name)

        def interrupt(ctx: StepContext, remote: Remote) -> None:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C reaches the main thread while it waits

        steps = [Step("slow", blocked, processes=("master",)), Step("interrupt", interrupt, processes=("worker",),
                                                                    once=True),
                 Step("later", blocked, after=("slow", "interrupt"))]
        try:
            with self.assertRaises(KeyboardInterrupt):
                run_steps(make_cluster(SPARK_SPEC, SPARK), steps)
            self.assertEqual(finished, [], "returned only once the running action had finished")
            self.assertEqual(started, ["demo-master-0"])
        finally:
            release.set()


class DeferredTest(unittest.TestCase):
    def test_ctrl_c_waits_for_the_block_and_a_second_one_does_not(self) -> None:
        reached: list[str] = []
        with self.assertRaises(KeyboardInterrupt):
            with deferred():
                signal.raise_signal(signal.SIGINT)
                reached.append("after the first")
        self.assertEqual(reached, ["after the first"])
        with self.assertRaises(KeyboardInterrupt):
            with deferred():
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGINT)
                reached.append("after the second")
        self.assertEqual(reached, ["after the first"])
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)


class Flaky:
    """Fails the first ``failures`` times on each instance, with ``error``."""

    def __init__(self, failures: int, error: Callable[[str], Exception]) -> None:
        self.failures, self.error = failures, error
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, ctx: StepContext, remote: Remote) -> None:
        with self.lock:
            attempt = self.attempts[remote.instance.name] = self.attempts.get(remote.instance.name, 0) + 1
        if attempt <= self.failures:
            raise self.error(remote.instance.name)


def connection_lost(instance: str) -> Exception:
    return RemoteError(instance, "SSH connection is closed")


class RetryTest(unittest.TestCase):
    def test_no_retry_unless_asked(self) -> None:
        action = Flaky(1, connection_lost)
        with self.assertRaises(StepsFailed):
            run_steps(cluster(), [Step("s", action, once=True)])
        self.assertEqual(action.attempts, {MASTER: 1})

    def test_retries_remote_errors_when_asked(self) -> None:
        action = Flaky(1, connection_lost)
        run_steps(cluster(), [Step("s", action, once=True, retries=1)])
        self.assertEqual(action.attempts, {MASTER: 2})

    def test_never_retries_other_errors(self) -> None:
        action = Flaky(1, lambda name: ValueError(f"bad config on {name}"))
        with self.assertRaises(StepsFailed):
            run_steps(cluster(), [Step("s", action, once=True, retries=3)])
        self.assertEqual(action.attempts, {MASTER: 1})


class GraphTest(unittest.TestCase):
    def check_refused(self, steps: list[Step], message: str) -> None:
        ctx = cluster()
        with self.assertRaisesRegex(ValueError, message):
            run_steps(ctx, steps)
        self.assertEqual(ctx.recorder.entries(), [])

    def test_unknown_after(self) -> None:
        self.check_refused([Step("a", mark("a")), Step("b", mark("b"), after=("a", "z"))],
                           r"step 'b' follows unknown step\(s\): z")

    def test_cycle(self) -> None:
        self.check_refused([Step("a", mark("a"), after=("c",)), Step("b", mark("b"), after=("a",)),
                            Step("c", mark("c"), after=("b",)), Step("free", mark("free"))],
                           "steps form a cycle: a, b, c")

    def test_duplicate_names(self) -> None:
        self.check_refused([Step("a", mark("a")), Step("a", mark("b"))], "duplicate step names: a")


class EventsTest(unittest.TestCase):
    def test_progress_counts_instances(self) -> None:
        events: list[Event] = []
        run_steps(cluster(emit=events.append), [Step("s", mark("s"), description="do s")])
        self.assertEqual(events[0], Event("step_started", "s", total=3, message="do s"))
        done = events[1:4]
        self.assertEqual([(e.kind, e.done, e.total) for e in done], [("instance_done", n, 3) for n in (1, 2, 3)])
        self.assertEqual(sorted(e.instance for e in done), [MASTER, WORKER0, WORKER1])
        self.assertEqual(events[4:], [Event("step_done", "s", total=3, done=3)])

    def test_failure_events(self) -> None:
        events: list[Event] = []
        ctx = cluster(emit=events.append, responses=fail_on(MASTER, "s", "boom"))
        with self.assertRaises(StepsFailed):
            run_steps(ctx, [Step("s", mark("s"), once=True)])
        self.assertEqual([e.kind for e in events], ["step_started", "instance_failed", "step_failed"])
        self.assertEqual((events[1].instance, events[1].output), (MASTER, "boom"))


class RecordingRemoteTest(unittest.TestCase):
    def test_canned_command_replies_longest_prefix_wins(self) -> None:
        ctx = cluster(responses=Responses(commands={"hdfs": 0, "hdfs dfsadmin -report": "Live datanodes (2):",
                                                    "broken": Result(2, "", "no such thing")}))
        remote = ctx.connect(ctx.instances[0])
        self.assertEqual(remote.run(["hdfs", "dfsadmin", "-report", "-live"]).stdout, "Live datanodes (2):")
        self.assertEqual(remote.run("hdfs version").stdout, "")
        self.assertEqual(remote.run(["hdfsx"]).status, 0)
        with self.assertRaises(RemoteError) as caught:
            remote.run(["broken"])
        self.assertEqual((caught.exception.instance, caught.exception.output), (MASTER, "no such thing"))
        self.assertEqual(remote.run(["broken"], check=False).status, 2)

    def test_files_written_or_given_exist(self) -> None:
        ctx = cluster(files={(MASTER, "/given"): "hello"})
        remote = ctx.connect(ctx.instances[0])
        remote.write_file("/etc/motd", "hi\n", 0o600)
        self.assertEqual(remote.read_file("/given"), b"hello")
        self.assertEqual(remote.run(["test", "-f", "/etc/motd"], check=False).status, 0)
        self.assertEqual(remote.run(["test", "-e", "/nope"], check=False).status, 1)
        with self.assertRaises(RemoteError):
            remote.read_file("/nope")
        self.assertIsNone(ctx.recorder.file(WORKER0, "/etc/motd"))
        self.assertEqual(ctx.recorder.entries(MASTER)[0], ("write", MASTER, "/etc/motd", "hi\n", 0o600))

    def test_http_replies(self) -> None:
        def by_instance(instance: object, method: str, port: int, path: str) -> tuple[int, bytes]:
            return 503, getattr(instance, "name", "").encode()

        ctx = cluster(responses=Responses(http={(8080, "/json/"): {"status": "ALIVE"}, (8080, "/x"): by_instance}))
        remote = ctx.connect(ctx.instances[0])
        self.assertEqual(remote.http("GET", 8080, "/json/"), (200, b'{"status": "ALIVE"}'))
        self.assertEqual(remote.http("GET", 8080, "/x"), (503, MASTER.encode()))
        self.assertEqual(remote.http("GET", 8081, "/json/"), (404, b"Not Found"))
        self.assertEqual(ctx.recorder.entries()[0], ("http", MASTER, "GET", 8080, "/json/"))

    def test_waits_do_not_sleep(self) -> None:
        ctx = cluster()
        polls: list[int] = []
        ctx.wait_until("third time lucky", lambda: polls.append(1) or len(polls) == 3, 3600)
        with self.assertRaisesRegex(DeadlineExceeded, "never: not true after 3600 s"):
            ctx.wait_until("never", lambda: False, 3600)
        self.assertEqual(ctx.recorder.entries(), [("wait", "third time lucky"), ("wait", "never")])

    def test_fake_instances(self) -> None:
        ctx = cluster(leaving=[WORKER1])
        self.assertEqual([(i.name, i.fixed_ip, i.processes) for i in ctx.instances], [
            (MASTER, "10.0.0.10", ("master",)), (WORKER0, "10.0.1.10", ("worker",)),
            (WORKER1, "10.0.1.11", ("worker",))])
        self.assertEqual([i.name for i in ctx.targets], [WORKER1])
        self.assertEqual([i.name for i in ctx.running("worker")], [WORKER0])
        with self.assertRaisesRegex(KeyError, "no such instance"):
            cluster(targets=["demo-worker-9"])


if __name__ == "__main__":
    unittest.main()


class MemoTest(unittest.TestCase):
    def test_computed_once_however_many_threads_ask_and_nested_use_works(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK)
        calls: list[int] = []

        def token() -> str:
            calls.append(1)
            time.sleep(0.01)
            return secrets.token_hex(4) + str(len(ctx.running("worker")))  # memo inside memo

        with futures.ThreadPoolExecutor(8) as pool:
            values = set(pool.map(lambda _: ctx.memo("token", token), range(16)))
        self.assertEqual((len(values), len(calls)), (1, 1))
