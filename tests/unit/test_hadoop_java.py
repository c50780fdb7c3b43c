"""Finding Hadoop's Java: the script run by sh for real, over fake JDK layouts in a temporary folder."""

from __future__ import annotations

import os
import tempfile
import unittest
from pathlib import Path

from heatdeploy.plugins.hadoop.java import Java, JavaProblem, find_java, major_version
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
