"""Hadoop's job engine: its commands through the job context double, its driver script run by sh for real."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path

from heatdeploy.plugin.job_process import START_SCRIPT
from heatdeploy.plugins.hadoop import HADOOP
from heatdeploy.plugins.hadoop.jobs import READABLE, RUN_SCRIPT, STREAMING, HadoopJobs
from heatdeploy.testing import Responses, make_job, make_job_context
from tests.unit.helpers import HADOOP_SPEC

MASTER = "hd-master-0"
DIRECTORY = "/var/lib/heatdeploy/jobs/job-1"
LOG = ["grep", "-o", "application_[0-9]*_[0-9]*", f"{DIRECTORY}/driver.log"]
SUBMITTED = ("INFO impl.YarnClientImpl: Submitted application application_1764115200000_0003\n"
             "INFO impl.YarnClientImpl: Submitted application application_1764115200000_0004\n")
RUN = ["sh", "-c", RUN_SCRIPT, "run", "/opt/hadoop/bin/hdfs"]


def driver(command: list[str]) -> list[str]:
    return ["sh", "-c", START_SCRIPT, "start", DIRECTORY, "", *command]


class HadoopJobsTest(unittest.TestCase):
    def test_a_jar_reads_staged_inputs_as_file_uris_and_writes_outputs_to_hdfs(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP)
        job = make_job("mapreduce", main_class="wordcount", conf={"mapreduce.job.reduces": "2; reboot"},
                       outputs={"": "swift://results/wc", "counts": "swift://results/counts"})
        HadoopJobs().start(ctx, job, f"{DIRECTORY}/examples.jar", [
            f"{DIRECTORY}/input", f"{DIRECTORY}/output", f"-Dx={DIRECTORY}/input.logs/a.txt",
            f"{DIRECTORY}/output.counts/by-word", "a b"])
        readable = ["sh", "-c", READABLE, "readable", "/var/lib/heatdeploy/jobs", DIRECTORY]
        for name in ("hd-master-0", "hd-worker-0", "hd-worker-2"):
            self.assertEqual(ctx.recorder.commands(name)[0], readable)  # tasks run as yarn, on every instance
        self.assertEqual(ctx.recorder.commands(MASTER)[-1], driver([
            *RUN, "2", "heatdeploy/job-1/output", f"{DIRECTORY}/output",
            "heatdeploy/job-1/output.counts", f"{DIRECTORY}/output.counts",
            "/opt/hadoop/bin/yarn", "jar", f"{DIRECTORY}/examples.jar", "wordcount",
            "-Dmapreduce.job.reduces=2; reboot", f"file://{DIRECTORY}/input", "heatdeploy/job-1/output",
            f"-Dx=file://{DIRECTORY}/input.logs/a.txt", "heatdeploy/job-1/output.counts/by-word", "a b"]))

    def test_streaming_ships_the_binary_and_finds_the_streaming_jar(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP)
        job = make_job("streaming", conf={"mapper": "python3 map.py", "stream.num.map.output.key.fields": "1"})
        HadoopJobs().start(ctx, job, f"{DIRECTORY}/map.py", ["-input", f"{DIRECTORY}/input"])
        self.assertEqual(ctx.recorder.commands(MASTER)[-1], driver([
            *RUN, "0", "sh", "-c", STREAMING, "streaming", "/opt/hadoop", "/opt/hadoop/bin/yarn",
            "-Dstream.num.map.output.key.fields=1", "-files", f"{DIRECTORY}/map.py", "-mapper", "python3 map.py",
            "-reducer", "NONE", "-input", f"file://{DIRECTORY}/input"]))

    def test_status_names_the_applications_and_cancel_kills_them_after_the_client(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP, responses=Responses(commands={shlex.join(LOG): SUBMITTED}))
        job = make_job("mapreduce")
        self.assertIn("; application application_1764115200000_0003, application_1764115200000_0004",
                      HadoopJobs().status(ctx, job)[1])
        HadoopJobs().cancel(ctx, job)
        commands = ctx.recorder.commands(MASTER)
        kills = [commands.index(["/opt/hadoop/bin/yarn", "application", "-kill", f"application_176411520000{n}"])
                 for n in ("0_0003", "0_0004")]
        self.assertLess(commands.index(["cat", f"{DIRECTORY}/pid"]), min(kills))
        self.assertEqual(HadoopJobs().status(ctx, job)[0], "KILLED")


class DriverScriptTest(unittest.TestCase):
    """RUN_SCRIPT run by sh with a stub hdfs: the client's status is the job's; outputs come after it."""

    def run_script(self, client: str, outputs: list[str]) -> tuple[int, list[str]]:
        folder = Path(tempfile.mkdtemp())
        hdfs = folder / "hdfs"
        # -test -d succeeds for folders named "written*"; -get logs what it copies.
        hdfs.write_text('#!/bin/sh\nif [ "$2" = -test ]; then case "$4" in written*) exit 0;; esac; exit 1; fi\n'
                        f'echo "$*" >> {shlex.quote(str(folder / "log"))}\n')
        hdfs.chmod(0o755)
        done = subprocess.run(["sh", "-c", RUN_SCRIPT, "run", str(hdfs), str(len(outputs) // 2), *outputs,
                               "sh", "-c", client], capture_output=True, text=True, timeout=10, env=dict(os.environ))
        log = folder / "log"
        return done.returncode, log.read_text().splitlines() if log.exists() else []

    def test_written_outputs_are_fetched_after_a_successful_client(self) -> None:
        status, log = self.run_script("exit 0", ["written it's", "/local/o 1", "never", "/local/o2"])
        self.assertEqual((status, log), (0, ["dfs -get -f written it's/* /local/o 1/"]))

    def test_a_failed_client_fails_the_driver_and_fetches_nothing(self) -> None:
        self.assertEqual(self.run_script("exit 3", ["written", "/local/o"]), (3, []))

    def test_staged_inputs_become_readable_by_other_users(self) -> None:
        jobs = Path(tempfile.mkdtemp())
        job = jobs / "job-1"
        (job / "input.logs" / "day 1").mkdir(parents=True)
        (job / "input.logs" / "day 1" / "a.txt").write_text("x")
        (job / "driver.log").write_text("private")
        for path in (jobs, job, job / "input.logs", job / "input.logs" / "day 1"):
            path.chmod(0o750)
        (job / "driver.log").chmod(0o600)
        subprocess.run(["sh", "-c", READABLE, "readable", str(jobs), str(job)], check=True, timeout=10)
        modes = {p.relative_to(jobs).as_posix(): p.stat().st_mode & 0o777
                 for p in (jobs, job, job / "input.logs", job / "input.logs" / "day 1",
                           job / "input.logs" / "day 1" / "a.txt", job / "driver.log")}
        self.assertEqual(modes, {".": 0o755, "job-1": 0o755, "job-1/input.logs": 0o755,
                                 "job-1/input.logs/day 1": 0o755, "job-1/input.logs/day 1/a.txt": 0o644,
                                 "job-1/driver.log": 0o600})
