"""Hadoop's job engine through the job context double: the client's command, outputs in HDFS, states, cancel."""

from __future__ import annotations

import shlex
import unittest

from heatdeploy.plugin.job_process import START_SCRIPT, STATUS_SCRIPT
from heatdeploy.plugins.hadoop import HADOOP
from heatdeploy.plugins.hadoop.jobs import STREAMING, HadoopJobs
from heatdeploy.testing import Responses, make_job, make_job_context
from tests.unit.helpers import HADOOP_SPEC

MASTER = "hd-master-0"
DIRECTORY = "/var/lib/heatdeploy/jobs/job-1"
STATUS = ["sh", "-c", STATUS_SCRIPT, "status", DIRECTORY]
LOG = ["tail", "-c", "+1", f"{DIRECTORY}/driver.log"]
SUBMITTED = "INFO impl.YarnClientImpl: Submitted application application_1764115200000_0003\n"


def started(ctx: object, command: list[str]) -> list[object]:
    return [("run", MASTER, ["sh", "-c", START_SCRIPT, "start", DIRECTORY, "", *command])]


class HadoopJobsTest(unittest.TestCase):
    def test_a_jar_reads_staged_inputs_as_file_uris_and_writes_outputs_to_hdfs(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP)
        job = make_job("mapreduce", main_class="wordcount", conf={"mapreduce.job.reduces": "2; reboot"})
        HadoopJobs().start(ctx, job, f"{DIRECTORY}/examples.jar", [f"{DIRECTORY}/input", f"{DIRECTORY}/output",
                                                                  "a b"])
        self.assertEqual(ctx.recorder.entries(MASTER), started(ctx, [
            "/opt/hadoop/bin/yarn", "jar", f"{DIRECTORY}/examples.jar", "wordcount",
            "-Dmapreduce.job.reduces=2; reboot", f"file://{DIRECTORY}/input", "heatdeploy/job-1/output", "a b"]))
        self.assertEqual(job.engine["outputs"], {"heatdeploy/job-1/output": f"{DIRECTORY}/output"})

    def test_streaming_ships_the_binary_and_finds_the_streaming_jar(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP)
        job = make_job("streaming", conf={"mapper": "python3 map.py", "reducer": "python3 reduce.py"})
        HadoopJobs().start(ctx, job, f"{DIRECTORY}/map.py", ["-input", f"{DIRECTORY}/input.logs"])
        self.assertEqual(ctx.recorder.entries(MASTER), started(ctx, [
            "sh", "-c", STREAMING, "streaming", "/opt/hadoop", "/opt/hadoop/bin/yarn", "-files", f"{DIRECTORY}/map.py",
            "-mapper", "python3 map.py", "-reducer", "python3 reduce.py", "-input", f"file://{DIRECTORY}/input.logs"]))

    def test_success_fetches_the_outputs_once_and_names_the_application(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP, responses=Responses(commands={
            shlex.join(STATUS): "exit 0", shlex.join(LOG): SUBMITTED}))
        job = make_job("mapreduce", engine={"outputs": {"heatdeploy/job-1/output": f"{DIRECTORY}/output"}})
        engine = HadoopJobs()
        for _ in range(2):
            self.assertEqual(engine.status(ctx, job), ("SUCCEEDED", "driver exited with status 0; application "
                                                                   "application_1764115200000_0003"))
        fetches = [c for c in ctx.recorder.commands(MASTER) if c[:2] == ["sh", "-c"] and c[3] == "fetch"]
        self.assertEqual(fetches, [["sh", "-c", '"$1" dfs -get "$2/*" "$3/"', "fetch", "/opt/hadoop/bin/hdfs",
                                    "heatdeploy/job-1/output", f"{DIRECTORY}/output"]])

    def test_cancel_kills_the_application_then_the_client(self) -> None:
        ctx = make_job_context(HADOOP_SPEC, HADOOP, responses=Responses(commands={shlex.join(LOG): SUBMITTED}))
        job = make_job("mapreduce")
        HadoopJobs().cancel(ctx, job)
        commands = ctx.recorder.commands(MASTER)
        kill = ["/opt/hadoop/bin/yarn", "application", "-kill", "application_1764115200000_0003"]
        self.assertLess(commands.index(kill), commands.index(["cat", f"{DIRECTORY}/pid"]))
        self.assertEqual(HadoopJobs().status(ctx, job)[0], "KILLED")
