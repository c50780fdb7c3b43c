"""Spark's job engine through the job context double: the commands it runs and how it reads states."""

from __future__ import annotations

import shlex
import unittest

from heatdeploy.plugin.job_process import START_SCRIPT, STATUS_SCRIPT
from heatdeploy.plugins.spark import SPARK
from heatdeploy.plugins.spark.jobs import SparkJobs
from heatdeploy.testing import Responses, make_job, make_job_context
from tests.unit.helpers import SPARK_SPEC

MASTER = "demo-master-0"
DIRECTORY = "/var/lib/heatdeploy/jobs/job-1"
STATUS = ["sh", "-c", STATUS_SCRIPT, "status", DIRECTORY]


def replies(runner: str, apps: list[dict[str, str]] | None = None, log: str = "") -> Responses:
    """The driver's runner reporting ``runner``, the master listing ``apps``, the driver log holding ``log``."""
    return Responses(commands={shlex.join(STATUS): runner, "sh -c 'grep -o": log},
                     http={(8080, "/json/"): {"status": "ALIVE", "completedapps": apps or []}})


class SparkJobsTest(unittest.TestCase):
    def test_start_runs_spark_submit_detached_on_the_master_with_every_value_as_an_argument(self) -> None:
        ctx = make_job_context(SPARK_SPEC, SPARK)
        job = make_job("spark", conf={"spark.executor.cores": "1; reboot"}, main_class="org.Example")
        SparkJobs().start(ctx, job, "/jobs/job-1/app.jar", ["{x}", "a b"])
        submit = ["/opt/spark/bin/spark-submit", "--master", "spark://10.0.0.10:7077", "--name", "job-1",
                  "--conf", "spark.executor.cores=1; reboot", "--class", "org.Example", "/jobs/job-1/app.jar",
                  "{x}", "a b"]
        self.assertEqual(ctx.recorder.entries(MASTER), [
            ("run", MASTER, ["sh", "-c", START_SCRIPT, "start", DIRECTORY,
                             "/opt/heatdeploy/spark/conf/spark-env.sh", *submit])])

    def test_python_programs_get_the_runtime_module_beside_their_own_py_files(self) -> None:
        ctx = make_job_context(SPARK_SPEC, SPARK)
        for conf, expected in (({}, f"{DIRECTORY}/heatdeploy_job.py"),
                               ({"spark.submit.pyFiles": "deps.zip"}, f"deps.zip,{DIRECTORY}/heatdeploy_job.py")):
            with self.subTest(conf=conf):
                command = SparkJobs().command(ctx, make_job("spark", conf=conf), f"{DIRECTORY}/wc.py", [])
                self.assertIn(["--conf", f"spark.submit.pyFiles={expected}"],
                              [command[i:i + 2] for i in range(len(command))])
                self.assertNotIn("--py-files", command, "it would replace the job's own list")

    def test_states(self) -> None:
        app = {"id": "app-7", "state": "FINISHED"}
        cases = [
            (replies("running"), "shell", ("RUNNING", "driver running")),
            (replies("exit 0", [app], "app ID app-7"), "spark",
             ("SUCCEEDED", "driver exited with status 0; application app-7 FINISHED")),
            (replies("exit 1"), "shell", ("FAILED", "driver exited with status 1")),
            (replies("exit 1", [{"id": "app-7", "state": "KILLED"}], "app ID app-7"), "spark",
             ("KILLED", "application killed; application app-7 KILLED")),
            (replies("gone"), "shell", ("FAILED", "the driver is gone without an exit status (instance restarted?)")),
        ]
        for responses, kind, expected in cases:
            with self.subTest(expected=expected):
                ctx = make_job_context(SPARK_SPEC, SPARK, responses=responses)
                self.assertEqual(SparkJobs().status(ctx, make_job(kind)), expected)

    def test_cancel_kills_the_drivers_process_group_and_marks_the_job(self) -> None:
        responses = replies("running")
        responses.commands[f"cat {DIRECTORY}/pid"] = "4242"
        ctx = make_job_context(SPARK_SPEC, SPARK, responses=responses)
        job = make_job("shell")
        SparkJobs().cancel(ctx, job)
        self.assertEqual(ctx.recorder.entries(MASTER)[-1][2], ["kill", "-s", "TERM", "--", "-4242"])
        self.assertEqual(SparkJobs().status(ctx, job), ("KILLED", "cancelled"))
