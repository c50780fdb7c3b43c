"""Hadoop's shell, run for real: the Java search over fake JDK layouts, the daemon wrapper over stub launchers."""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path

from heatdeploy.plugins.hadoop.java import Java, JavaProblem, find_java, major_version
from heatdeploy.plugins.hadoop.steps import DAEMON_SCRIPT, USERS_SCRIPT
from tests.unit.test_daemons import LocalRemote

VERSIONS = {"17": 'openjdk version "17.0.9" 2023-10-17', "8": 'openjdk version "1.8.0_392"',
            "11": 'openjdk version "11.0.21" 2023-10-17'}


def fake_java(path: Path, version: str) -> None:
    """A ``bin/java`` that answers ``-version`` as that JDK does (on standard error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{VERSIONS[version]}' >&2\n")
    path.chmod(0o755)


class FindJavaTest(unittest.TestCase):
    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp())
        self.jvm = self.root / "jvm"
        # A JDK 8 with its JRE inside, as Debian's openjdk-8 lays it out, and a JDK 17.
        fake_java(self.jvm / "java-8-openjdk" / "jre" / "bin" / "java", "8")
        fake_java(self.jvm / "java-8-openjdk" / "bin" / "java", "8")
        fake_java(self.jvm / "java-17-openjdk" / "bin" / "java", "17")
        # /etc/alternatives/java points into the JRE, as update-alternatives does.
        self.alternatives = self.root / "alternatives" / "java"
        self.alternatives.parent.mkdir()
        os.symlink(self.jvm / "java-8-openjdk" / "jre" / "bin" / "java", self.alternatives)
        self.conf = self.root / "conf"
        self.conf.mkdir()
        self.env = self.conf / "hadoop-env.sh"

    def find(self, version: str = "3.4", java_home: str = "", places: tuple[str, ...] | None = None) -> Java:
        places = (str(self.alternatives), str(self.jvm)) if places is None else places
        return find_java(LocalRemote(), str(self.env), version, java_home, places, login=False)

    def test_the_alternatives_jre_is_taken_as_its_jdk(self) -> None:
        java = self.find()
        self.assertEqual((java.home, java.major, java.explicit), (str(self.jvm / "java-8-openjdk"), 8, False))

    def test_the_first_supported_one_wins_over_an_unsupported_one_found_first(self) -> None:
        java = self.find(places=(str(self.jvm),))  # java-17 sorts first
        self.assertEqual(java.home, str(self.jvm / "java-8-openjdk"))

    def test_the_images_own_java_home_is_kept_and_refused_when_unsupported(self) -> None:
        self.env.write_text(f"export JAVA_HOME={self.jvm / 'java-17-openjdk'}\nexport OTHER=1\n")
        with self.assertRaises(JavaProblem) as caught:
            self.find()
        self.assertEqual(str(caught.exception), (
            f"instance here-0: JAVA_HOME {self.jvm / 'java-17-openjdk'} is Java 17; Hadoop 3.4 runs on Java 8 or 11 "
            "(set the java_home config to another JDK on the image)"))
        self.assertEqual((self.conf / "hadoop-env.sh.dist").read_text(), self.env.read_text())

    def test_heatdeploys_own_env_file_is_never_kept_as_the_images(self) -> None:
        self.env.write_text("# Written by heatdeploy\nexport JAVA_HOME=/nowhere\n")
        self.find()
        self.assertFalse((self.conf / "hadoop-env.sh.dist").exists())

    def test_the_java_home_config_wins_and_must_hold_java(self) -> None:
        fake_java(self.root / "opt" / "jdk-11" / "bin" / "java", "11")
        java = self.find(java_home=str(self.root / "opt" / "jdk-11") + "/")
        self.assertEqual((java.home, java.major, java.explicit), (str(self.root / "opt" / "jdk-11"), 11, True))
        with self.assertRaisesRegex(JavaProblem, "the java_home config /opt/none holds no bin/java"):
            self.find(java_home="/opt/none")

    def test_no_java_at_all(self) -> None:
        with self.assertRaisesRegex(JavaProblem, "instance here-0: found no Java at all; Hadoop 3.3 runs on Java 8 "
                                                 "or 11 .install one, or set the java_home config."):
            self.find("3.3", places=(str(self.root / "empty"),))

    def test_version_lines(self) -> None:
        self.assertEqual([major_version(line) for line in (*VERSIONS.values(), 'java version "21" 2023-09-19',
                                                            "garbage")], [17, 8, 11, 21, None])


# Hadoop 3's `--daemon status` exits 0 when the daemon runs, 1 when its pid file is stale, 3 when it does
# not run; `--daemon start` fails when it runs and `--daemon stop` when it does not.
STUB_LAUNCHER = """#!/bin/sh
state="$STUB/$3"
case "$2" in
  status) if [ -f "$state.stale" ]; then exit 1; elif [ -f "$state" ]; then exit 0; else exit 3; fi ;;
  start) if [ -f "$state" ]; then echo "$3 is running as process 42.  Stop it first." >&2; exit 1; fi
         rm -f "$state.stale"; touch "$state"; echo "start $3" >> "$STUB/log" ;;
  stop) if [ ! -f "$state" ]; then echo "no $3 to stop" >&2; exit 1; fi
        rm "$state"; echo "stop $3" >> "$STUB/log" ;;
esac
"""


class DaemonWrapperTest(unittest.TestCase):
    """heatdeploy's daemon wrapper, run by sh against a stub launcher with Hadoop's exit codes."""

    def setUp(self) -> None:
        self.home = Path(tempfile.mkdtemp())
        (self.home / "bin").mkdir()
        launcher = self.home / "bin" / "hdfs"
        launcher.write_text(STUB_LAUNCHER)
        launcher.chmod(0o755)
        self.script = self.home / "daemon"
        self.script.write_text(DAEMON_SCRIPT.format(home=shlex.quote(str(self.home))))

    def run_wrapper(self, *args: str, user: str = "") -> subprocess.CompletedProcess[str]:
        # A stub runuser on the PATH logs the switch and runs the command as is.
        tools = self.home / "tools"
        tools.mkdir(exist_ok=True)
        (tools / "runuser").write_text('#!/bin/sh\necho "as $2" >> "$STUB/log"\nshift 3\nexec "$@"\n')
        (tools / "runuser").chmod(0o755)
        return subprocess.run(["sh", str(self.script), *args, user or getpass.getuser()], capture_output=True,
                              text=True, timeout=10,
                              env={**os.environ, "STUB": str(self.home), "PATH": f"{tools}:{os.environ['PATH']}"})

    def log(self) -> list[str]:
        path = self.home / "log"
        return path.read_text().splitlines() if path.exists() else []

    def test_start_and_stop_are_safe_to_repeat(self) -> None:
        for action in ("start", "start", "stop", "stop"):
            self.assertEqual(self.run_wrapper(action, "hdfs", "namenode").returncode, 0)
        self.assertEqual(self.log(), ["start namenode", "stop namenode"])

    def test_another_users_daemon_is_checked_started_and_stopped_as_that_user(self) -> None:
        self.run_wrapper("start", "hdfs", "namenode", user="hdfs")
        self.run_wrapper("stop", "hdfs", "namenode", user="hdfs")
        self.assertEqual(self.log(), ["as hdfs", "as hdfs", "start namenode", "as hdfs", "as hdfs", "stop namenode"])

    def test_a_stale_pid_file_is_not_a_running_daemon(self) -> None:
        (self.home / "namenode.stale").touch()
        self.assertEqual(self.run_wrapper("start", "hdfs", "namenode").returncode, 0)
        self.assertEqual(self.log(), ["start namenode"])

    def test_a_start_that_fails_fails_the_wrapper(self) -> None:
        (self.home / "bin" / "hdfs").write_text("#!/bin/sh\n[ \"$2\" = status ] && exit 3\necho 'JAVA_HOME is "
                                                "not set and could not be found.' >&2\nexit 1\n")
        done = self.run_wrapper("start", "hdfs", "datanode")
        self.assertEqual((done.returncode, done.stderr.strip()), (1, "JAVA_HOME is not set and could not be found."))
        self.assertEqual(self.run_wrapper("restart", "hdfs", "datanode").returncode, 2)


class UsersScriptTest(unittest.TestCase):
    """The users script, run by sh with stub account tools (nothing is created on this machine)."""

    def run_script(self, existing: str) -> list[str]:
        tools = Path(tempfile.mkdtemp())
        log = tools / "log"
        (tools / "getent").write_text(f'#!/bin/sh\ncase " {existing} " in *" $2 "*) exit 0 ;; esac\nexit 2\n')
        for tool in ("groupadd", "useradd"):
            (tools / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        for tool in tools.iterdir():
            tool.chmod(0o755)
        subprocess.run(["sh", "-c", USERS_SCRIPT, "users", "hdfs", "yarn", "mapred"], check=True, timeout=10,
                       env={**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"})
        return log.read_text().splitlines() if log.exists() else []

    def test_missing_group_and_users_are_created_without_passwords_or_shells(self) -> None:
        self.assertEqual(self.run_script("yarn"), [
            "groupadd --system hadoop",
            "useradd --system --gid hadoop --no-create-home --home-dir /var/lib/heatdeploy/hadoop "
            "--shell /usr/sbin/nologin hdfs",
            "useradd --system --gid hadoop --no-create-home --home-dir /var/lib/heatdeploy/hadoop "
            "--shell /usr/sbin/nologin mapred"])

    def test_nothing_is_created_twice(self) -> None:
        self.assertEqual(self.run_script("hadoop hdfs yarn mapred"), [])
