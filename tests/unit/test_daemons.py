"""The daemon and readiness helpers: the daemon script really run by sh, the waits through the recording fake."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import unittest
from collections.abc import Callable
from pathlib import Path

from heatdeploy import (
    Daemon,
    DaemonDied,
    DeadlineExceeded,
    DriverJobEngine,
    Instance,
    JobContext,
    JobProcess,
    JobRecord,
    Result,
    env_file,
    http_json,
    members_health,
    wait_for_http,
    wait_for_members,
)
from heatdeploy.plugins.spark import SPARK
from heatdeploy.testing import Responses, make_cluster, make_job, make_job_context
from tests.unit.helpers import SPARK_SPEC


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie nobody reaped has ended."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


class LocalRemote:
    """Runs commands on this machine, as an instance would: argv lists only."""

    instance = Instance(name="here-0", id="1", group="here", processes=("any",), fixed_ip="127.0.0.1",
                        floating_ip=None, host_key=None)

    def run(self, command: list[str], *, stdin: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> Result:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if check and done.returncode:
            raise AssertionError(f"{command[:4]} exited {done.returncode}: {done.stderr}")
        return Result(done.returncode, done.stdout, done.stderr)


class DaemonScriptTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.remote = LocalRemote()
        self.env = self.dir / "env.sh"
        # A sourced file that sets the script's own names must not change what it does.
        self.env.write_text("export GREETING='hello there'\nhd_name=wrong hd_pid=/dev/null\n")
        self.daemon = Daemon("sleeper", ["sh", "-c", 'echo "$GREETING"; exec sleep 60'],
                             directory=str(self.dir / "run"), environment=str(self.env), stop_timeout=5)

    def tearDown(self) -> None:
        pid_file = self.dir / "run" / "sleeper.pid"
        if pid_file.exists():  # a failed test must not leave its sleeper behind
            try:
                pid = int(pid_file.read_text().split()[0])
                if pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, ValueError, IndexError):
                pass

    def pid(self) -> int:
        return int((self.dir / "run" / "sleeper.pid").read_text().split()[0])

    def test_a_pid_file_from_before_a_reboot_is_not_a_running_daemon(self) -> None:
        (self.dir / "run").mkdir()
        # This test's own process, recorded under another boot: alive, but not the daemon.
        (self.dir / "run" / "sleeper.pid").write_text(f"{os.getpid()} 00000000-0000-0000-0000-000000000000\n")
        self.assertFalse(self.daemon.running(self.remote))
        self.daemon.stop(self.remote)  # signals nothing
        self.daemon.start(self.remote)
        self.assertNotEqual(self.pid(), os.getpid())
        self.assertTrue(self.daemon.running(self.remote))
        self.daemon.stop(self.remote)

    def test_start_is_idempotent_and_stop_ends_the_process(self) -> None:
        self.assertFalse(self.daemon.running(self.remote))
        self.daemon.start(self.remote)
        first = self.pid()
        self.daemon.start(self.remote)
        self.assertEqual(self.pid(), first, "a running daemon is not started twice")
        self.assertTrue(self.daemon.running(self.remote))
        self.daemon.check(self.remote)
        self.daemon.stop(self.remote)
        self.assertFalse(self.daemon.running(self.remote))
        self.assertFalse((self.dir / "run" / "sleeper.pid").exists())
        self.assertFalse(alive(first))
        self.daemon.stop(self.remote)  # stopping a stopped daemon does nothing

    def test_the_environment_file_reaches_the_command_and_output_goes_to_the_log(self) -> None:
        self.daemon.start(self.remote)
        log = Path(self.daemon.log_file)
        deadline = 100
        while "hello there" not in (log.read_text() if log.exists() else "") and deadline:
            subprocess.run(["sleep", "0.05"], check=True)
            deadline -= 1
        self.assertEqual(log.read_text(), "hello there\n")
        self.daemon.stop(self.remote)

    def test_a_daemon_that_exits_fails_check_with_its_log(self) -> None:
        failing = Daemon("sleeper", ["sh", "-c", "echo no java here; exit 1"], directory=str(self.dir / "run"))
        failing.start(self.remote)
        deadline = 100
        while failing.running(self.remote) and deadline:
            subprocess.run(["sleep", "0.05"], check=True)
            deadline -= 1
        with self.assertRaises(DaemonDied) as died:
            failing.check(self.remote)
        self.assertEqual(died.exception.output, "no java here\n")
        self.assertIn(f"sleeper exited (its log is {self.dir}/run/sleeper.log)", str(died.exception))
        self.assertTrue(died.exception.fatal)


class FolderJob(JobRecord):
    """A job whose folder is wherever the test says, not under /var/lib."""

    folder = ""

    @property
    def directory(self) -> str:
        return self.folder


def settled(read: Callable[[], tuple[str, str]]) -> tuple[str, str]:
    """``read()`` once it no longer says RUNNING (within 5 s)."""
    for _ in range(100):
        state = read()
        if state[0] != "RUNNING":
            return state
        subprocess.run(["sleep", "0.05"], check=True)
    return state


class JobProcessTest(unittest.TestCase):
    """The driver scripts run by sh, in a job folder of a temporary directory."""

    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.remote = LocalRemote()
        env = self.dir / "env.sh"
        env.write_text("export WHO='the driver'\n")
        self.process = JobProcess(environment=str(env))
        self.job = FolderJob(id="job-1", cluster="demo", type="shell", binary="swift://jobs/program")
        self.job.folder = str(self.dir / "job-1")
        self.addCleanup(lambda: self.process.kill(self.remote, self.job))

    @property
    def folder(self) -> Path:
        return Path(self.job.directory)

    def test_exit_status_and_log_are_kept(self) -> None:
        self.process.start(self.remote, self.job, ["sh", "-c", 'echo "hi from $WHO"; exit 3'])
        read = lambda: self.process.state(self.remote, self.job)  # noqa: E731
        self.assertEqual(settled(read), ("FAILED", "driver exited with status 3"))
        self.assertEqual(self.process.logs(self.remote, self.job), b"hi from the driver\n")
        self.assertEqual(self.process.logs(self.remote, self.job, offset=3), b"from the driver\n")

    def test_kill_ends_the_whole_session(self) -> None:
        self.process.start(self.remote, self.job, ["sh", "-c", "sleep 60 & sleep 60; wait"])
        self.assertEqual(self.process.state(self.remote, self.job), ("RUNNING", "driver running"))
        self.process.kill(self.remote, self.job)
        state = settled(lambda: self.process.state(self.remote, self.job))
        self.assertEqual(state[0], "FAILED")
        session = int((self.folder / "pid").read_text())
        left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _session(p) == session and
                "\nState:\tZ" not in _status(p)]
        self.assertEqual(left, [], "every process of the driver's session ended")

    def test_a_missing_folder_is_gone(self) -> None:
        self.job.folder = str(self.dir / "never-started")
        self.assertEqual(self.process.state(self.remote, self.job)[0], "FAILED")


def _session(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return -1


def _status(proc: Path) -> str:
    try:
        return (proc / "status").read_text()
    except OSError:
        return ""


class ReadinessTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = make_cluster(SPARK_SPEC, SPARK, responses=Responses(http={(8080, "/ready"): {"ok": True}}))
        self.workers = self.ctx.running("worker")

    def test_wait_for_http_returns_the_ready_body(self) -> None:
        remote = self.ctx.remote(self.workers[0])
        self.assertEqual(wait_for_http(self.ctx, remote, 8080, "/ready", 5), b'{"ok": true}')

    def test_wait_for_http_stops_at_once_when_the_probe_says_the_daemon_died(self) -> None:
        remote = self.ctx.remote(self.workers[0])

        def dead() -> None:
            raise DaemonDied(remote.instance.name, "worker exited")

        with self.assertRaisesRegex(DaemonDied, "worker exited"):
            wait_for_http(self.ctx, remote, 8080, "/ready", 60, probe=dead)

    def test_wait_for_members_names_the_missing_instances_and_the_hint(self) -> None:
        wait_for_members(self.ctx, "workers in", lambda: ["10.0.1.10", "10.0.1.11"], self.workers, 5)
        with self.assertRaises(DeadlineExceeded) as late:
            wait_for_members(self.ctx, "workers in", lambda: ["10.0.1.10"], self.workers, 0, hint="open 7078")
        self.assertEqual(str(late.exception), "workers in: still missing demo-worker-1 after 0 s; open 7078")

    def test_members_health(self) -> None:
        cases = {("10.0.1.10", "10.0.1.11", "10.9.9.9"): ("green", "2 of 2 workers"),
                 ("10.0.1.11",): ("yellow", "1 of 2 workers; missing 10.0.1.10"),
                 (): ("red", "no workers")}
        for seen, expected in cases.items():
            health = members_health(seen, self.workers, "workers")
            self.assertEqual((health.status, health.message), expected)

    def test_http_json_reads_an_object_and_nothing_else(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=Responses(http={
            (8080, "/object"): {"status": "ALIVE"}, (8080, "/list"): [1, 2], (8080, "/html"): "<html>starting",
            (8080, "/busy"): (503, '{"status": "ALIVE"}')}))
        remote = ctx.remote(self.workers[0])
        answers = {path: http_json(remote, 8080, path) for path in ("/object", "/list", "/html", "/busy", "/none")}
        self.assertEqual(answers, {"/object": {"status": "ALIVE"}, "/list": {}, "/html": {}, "/busy": {}, "/none": {}})


class EnvFileTest(unittest.TestCase):
    def test_values_come_back_unchanged_when_sourced(self) -> None:
        hostile = "it's $(touch /tmp/owned) `id` \"$HOME\"\nnext line"
        text = env_file({"PLAIN": "/opt/x", "HOSTILE": hostile, "NUMBER": 7, "EMPTY": "", "NONE": None},
                        preamble="export FIRST=1\n")
        self.assertTrue(text.startswith("# Written by heatdeploy\nexport FIRST=1\n"))
        self.assertNotIn("EMPTY", text)
        self.assertNotIn("NONE", text)
        with tempfile.NamedTemporaryFile("w", suffix=".sh") as file:
            file.write(text)
            file.flush()
            shown = subprocess.run(["sh", "-c", '. "$1" && printf "%s\\0" "$PLAIN" "$HOSTILE" "$NUMBER" "$FIRST"',
                                    "sh", file.name], capture_output=True, text=True, check=True).stdout
        self.assertEqual(shown.split("\0")[:4], ["/opt/x", hostile, "7", "1"])


    def test_names_are_checked_not_quoted(self) -> None:
        with self.assertRaisesRegex(ValueError, "not shell variable names: 'A;rm -rf /'"):
            env_file({"A;rm -rf /": "x"})


class ShellJobs(DriverJobEngine):
    types = ("shell",)
    driver_process = "master"

    def command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> list[str]:
        return ["sh", program, *args]


class DriverJobEngineTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = make_job_context(SPARK_SPEC, SPARK, responses=Responses(commands={"sh -c": "exit 1"}))
        self.engine = ShellJobs()
        self.job = make_job("shell", args=["a b"])

    def test_start_runs_the_command_on_the_drivers_instance(self) -> None:
        self.engine.start(self.ctx, self.job, "/var/lib/heatdeploy/jobs/job-1/program", ["a b"])
        (started,) = self.ctx.recorder.commands("demo-master-0")
        self.assertEqual(list(started[-3:]), ["sh", "/var/lib/heatdeploy/jobs/job-1/program", "a b"])
        self.assertEqual(started[4], self.job.directory)

    def test_a_cancelled_job_is_killed_not_failed(self) -> None:
        self.assertEqual(self.engine.status(self.ctx, self.job), ("FAILED", "driver exited with status 1"))
        self.engine.cancel(self.ctx, self.job)
        self.assertEqual(self.engine.status(self.ctx, self.job), ("KILLED", "cancelled"))
        self.assertTrue(self.job.engine["cancelled"])

    def test_an_engine_naming_a_process_nobody_runs_says_so(self) -> None:
        engine = ShellJobs()
        engine.driver_process = "jobmanager"
        with self.assertRaisesRegex(LookupError, "ShellJobs: no instance of cluster demo runs 'jobmanager'"):
            engine.driver(self.ctx)

    def test_an_engine_without_a_command_says_so(self) -> None:
        with self.assertRaisesRegex(NotImplementedError, "DriverJobEngine.command"):
            DriverJobEngine().command(self.ctx, self.job, "program", [])
