"""The image check: declared requirements, checked in one command right after SSH, before anything is written."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path

from heatdeploy import Framework, ImageRequirements, Instance, Remote, Result, Step, StepContext
from heatdeploy.plugins.hadoop import HADOOP
from heatdeploy.plugins.spark import SPARK
from heatdeploy.steps.common import IMAGE_SCRIPT, image_check_command, with_common_steps
from heatdeploy.steps.orchestrator import StepsFailed, run_steps
from heatdeploy.testing import RecordingContext, Responses, make_cluster, run_operation
from tests.unit.helpers import HADOOP_SPEC, SPARK_SPEC, load

MASTER, WORKER0, WORKER1, WORKER2 = "demo-master-0", "demo-worker-0", "demo-worker-1", "demo-worker-2"
SPARK_NEEDS = SPARK.image_requirements(load(SPARK_SPEC).spec)


def image_check_says(missing: dict[str, str], status: int = 1) -> Responses:
    """Fake instances whose image check prints ``missing[instance]`` (the positions missing) and exits
    with ``status``; instances not named have everything."""
    check = shlex.join(image_check_command(SPARK_NEEDS))

    def reply(instance: Instance, text: str) -> Result | None:
        if text == check and instance.name in missing:
            return Result(status, missing[instance.name], "")
        return None

    return Responses(commands=reply, http={(8080, "/json/"): {"status": "ALIVE", "workers": [
        {"host": "10.0.1.10", "state": "ALIVE"}, {"host": "10.0.1.11", "state": "ALIVE"}]}})


def check_runs(ctx: RecordingContext) -> list[int]:
    """Where in the log the image check ran."""
    check = image_check_command(SPARK_NEEDS)
    return [n for n, e in enumerate(ctx.recorder.entries()) if e[0] == "run" and e[2] == check]


def writes(ctx: RecordingContext) -> list[int]:
    return [n for n, e in enumerate(ctx.recorder.entries()) if e[0] == "write"]


class DeclaredTest(unittest.TestCase):
    def test_spark_needs_its_launchers_bash_setsid_and_java(self) -> None:
        self.assertEqual(SPARK_NEEDS, ImageRequirements(
            commands=("bash", "setsid"), paths=("/opt/spark/bin/spark-class", "/opt/spark/bin/spark-submit"),
            java=True))
        spec = load(SPARK_SPEC + "configs: {spark_home: /usr/lib/spark}\n").spec
        self.assertEqual(SPARK.image_requirements(spec).paths,
                         ("/usr/lib/spark/bin/spark-class", "/usr/lib/spark/bin/spark-submit"))

    def test_hadoop_needs_its_launchers_bash_and_the_account_tools(self) -> None:
        self.assertEqual(HADOOP.image_requirements(load(HADOOP_SPEC).spec), ImageRequirements(
            commands=("bash", "runuser", "getent", "groupadd", "useradd"),
            paths=("/opt/hadoop/bin/hdfs", "/opt/hadoop/bin/mapred", "/opt/hadoop/bin/yarn")))

    def test_a_framework_requires_nothing_by_default_and_may_declare_a_field(self) -> None:
        spec = load(SPARK_SPEC).spec
        plain = Framework(name="toy", title="Toy", versions=("1",), processes={"box": "a box"})
        self.assertEqual(plain.image_requirements(spec), ImageRequirements())
        needs = ImageRequirements(commands=("python3",))
        self.assertEqual(dataclasses.replace(plain, requires=needs).image_requirements(spec), needs)

    def test_requirements_that_cannot_be_checked_are_refused_when_declared(self) -> None:
        for kwargs, message in (
                ({"paths": ("opt/spark",)}, r"paths: 'opt/spark' must be an absolute path"),
                ({"paths": ("/a\nb",)}, "must not contain NUL or newline"),
                ({"commands": ("-v",)}, r"commands: '-v' must be a command name"),
                ({"commands": ("bin/java",)}, "must be a command name .* or an absolute path"),
                ({"commands": ("",)}, "must be non-empty")):
            with self.subTest(kwargs=kwargs), self.assertRaisesRegex(ValueError, message):
                ImageRequirements(**kwargs)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, "tuple of strings, not a string"):
            ImageRequirements(commands="bash")  # type: ignore[arg-type]


class StepTest(unittest.TestCase):
    def test_one_check_per_instance_before_anything_is_written(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=image_check_says({}))
        run_operation(SPARK, "launch", ctx)
        checked = check_runs(ctx)
        self.assertEqual(sorted(ctx.recorder.entries()[n][1] for n in checked), [MASTER, WORKER0, WORKER1])
        self.assertLess(max(checked), min(writes(ctx)))
        for name in (MASTER, WORKER0, WORKER1):
            self.assertEqual(ctx.recorder.commands(name)[:2], [["true"], image_check_command(SPARK_NEEDS)])

    def test_a_miss_fails_with_one_line_naming_the_instance_and_everything_missing(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=image_check_says({WORKER1: "1\n3\n4\n"}))
        with self.assertRaises(StepsFailed) as caught:
            run_operation(SPARK, "launch", ctx)
        line = ("instance demo-worker-1 (image debian-local) lacks what spark 4.0 needs: setsid on the PATH, "
                "/opt/spark/bin/spark-submit, a Java runtime (java)")
        self.assertEqual(str(caught.exception), f"step 'image' failed on {WORKER1}: {line}")
        [failure] = caught.exception.failures
        self.assertEqual((failure.step, failure.instance, failure.message), ("image", WORKER1, f"{WORKER1}: {line}"))
        self.assertEqual(writes(ctx), [], "nothing is written when an image lacks something")

    def test_every_instance_that_misses_something_is_reported(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=image_check_says({WORKER0: "0\n", WORKER1: "4\n"}))
        with self.assertRaises(StepsFailed) as caught:
            run_operation(SPARK, "launch", ctx)
        self.assertEqual(sorted((f.instance, f.message.rsplit(": ", 1)[1]) for f in caught.exception.failures),
                         [(WORKER0, "bash on the PATH"), (WORKER1, "a Java runtime (java)")])

    def test_a_check_that_itself_fails_is_not_read_as_a_verdict(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK, responses=image_check_says({MASTER: "sh: oops"}, status=2))
        with self.assertRaisesRegex(StepsFailed, "demo-master-0: the image check exited with status 2"):
            run_operation(SPARK, "launch", ctx)

    def test_a_framework_requiring_nothing_runs_no_check(self) -> None:
        toy = Framework(name="spark", title="Toy", versions=("4.0",), processes=dict(SPARK.processes))
        ctx = make_cluster(SPARK_SPEC, toy)
        run_operation(toy, "launch", ctx)
        self.assertEqual(ctx.recorder.commands(MASTER), [["true"], ["hostname", MASTER]])

    def test_scale_up_checks_the_new_instances_only(self) -> None:
        spec = SPARK_SPEC.replace("count: 2", "count: 3")
        ctx = make_cluster(spec, SPARK, targets=[WORKER2], responses=image_check_says({WORKER2: "2\n"}))
        with self.assertRaises(StepsFailed) as caught:
            run_operation(SPARK, "scale_up", ctx)
        self.assertIn("instance demo-worker-2 (image debian-local) lacks what spark 4.0 needs: "
                      "/opt/spark/bin/spark-class", str(caught.exception))
        self.assertEqual([ctx.recorder.entries()[n][1] for n in check_runs(ctx)], [WORKER2])
        self.assertEqual(writes(ctx), [], "not even the old instances' /etc/hosts")

    def test_steps_that_follow_only_ssh_or_nothing_still_wait_for_the_check(self) -> None:
        def note(ctx: StepContext, remote: Remote) -> None:
            remote.write_file("/tmp/note", "hi\n")

        ctx = make_cluster(SPARK_SPEC, SPARK, responses=image_check_says({WORKER0: "0\n"}))
        steps = with_common_steps("launch", [Step("early", note, after=("ssh",)), Step("free", note)])
        self.assertEqual([s.after for s in steps[-2:]], [("ssh", "image"), ("image",)])
        with self.assertRaises(StepsFailed):
            run_steps(ctx, steps)
        self.assertEqual(writes(ctx), [])
        self.assertEqual(with_common_steps("decommission", [Step("free", note)])[0].after, ())


class ScriptTest(unittest.TestCase):
    """The check script itself, run by this machine's sh: it reads its arguments as data, never as code."""

    def run_script(self, requirements: ImageRequirements, path: str = os.environ["PATH"],
                   **env: str) -> tuple[int, list[str]]:
        argv = image_check_command(requirements)
        self.assertEqual(argv[:4], ["sh", "-c", IMAGE_SCRIPT, "sh"])
        done = subprocess.run(["/bin/sh", *argv[1:]], capture_output=True, text=True, timeout=30,
                              env={"PATH": path, **env})
        return done.returncode, done.stdout.split()

    def test_reports_the_position_of_each_miss(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            marker = Path(tmp) / "ran"
            hostile = f"/nonexistent/$(touch {marker}) `touch {marker}`; touch {marker}"
            requirements = ImageRequirements(commands=("sh", "heatdeploy-no-such-command"),
                                             paths=(tmp, hostile, "/nonexistent/*"))
            self.assertEqual(self.run_script(requirements), (1, ["1", "3", "4"]))
            self.assertFalse(marker.exists())

    def test_passes_with_nothing_printed(self) -> None:
        self.assertEqual(self.run_script(ImageRequirements(commands=("sh",), paths=("/",))), (0, []))

    def test_a_command_given_as_an_absolute_path_must_be_an_executable_file(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            program, plain = Path(tmp) / "python", Path(tmp) / "notes"
            program.write_text("#!/bin/sh\n")
            program.chmod(0o755)
            plain.write_text("")
            requirements = ImageRequirements(commands=(str(program), str(plain), tmp, f"{tmp}/missing"))
            self.assertEqual(self.run_script(requirements), (1, ["1", "2", "3"]))

    def test_java_from_java_home_when_set_else_from_the_path(self) -> None:
        java = ImageRequirements(java=True)
        with tempfile.TemporaryDirectory() as tmp:
            home, empty = Path(tmp) / "jdk", Path(tmp) / "empty"
            empty.mkdir()
            self.assertEqual(self.run_script(java, str(empty)), (1, ["0"]))
            self.assertEqual(self.run_script(java, JAVA_HOME=str(home)), (1, ["0"]), "a JAVA_HOME without java")
            (home / "bin").mkdir(parents=True)
            (home / "bin" / "java").write_text("#!/bin/sh\n")
            (home / "bin" / "java").chmod(0o755)
            self.assertEqual(self.run_script(java, str(empty), JAVA_HOME=str(home)), (0, []))
            self.assertEqual(self.run_script(java, str(home / "bin")), (0, []))

if __name__ == "__main__":
    unittest.main()
