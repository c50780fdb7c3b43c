"""`heatdeploy graph`: the topology and step DAG as Mermaid and DOT, labels inert whatever they hold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unittest

from heatdeploy.render import pictures
from tests.unit.test_cli import EXAMPLES, run

HOSTILE = 'a"] --> evil["x\n</br><script>#quot; \\ }; digraph { x'


class PictureTest(unittest.TestCase):
    def test_spark_topology_shows_groups_and_what_the_security_groups_open(self) -> None:
        status, out, _ = run("graph", str(EXAMPLES / "spark.yaml"))
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("%% cluster spark-demo (spark 4.0)\nflowchart LR\n"), out)
        self.assertIn('"group worker<br>2 x m1.small, image debian-local<br>processes: worker', out)
        self.assertIn("between the cluster's instances: ICMP, TCP 7077-7078, 7100-7115, 7200-7215, 8080-8081", out)
        self.assertIn('-->|"TCP 22"|', out)
        self.assertNotIn("TCP 7077, 8080", out, "no framework port beyond the cluster without access_cidrs")

    def test_the_launch_dag_follows_the_steps_after(self) -> None:
        status, out, _ = run("graph", str(EXAMPLES / "spark.yaml"), "--steps", "launch", "--format", "dot")
        self.assertEqual(status, 0)
        ids = dict(re.findall(r'  (n\d+) \[label="([\w-]+)\\n', out))
        arrows = {(ids[a], ids[b]) for a, b in re.findall(r"  (n\d+) -> (n\d+);", out)}
        self.assertLessEqual({("ssh", "image"), ("spark-configure", "spark-start-master"),
                              ("spark-start-workers", "spark-verify")}, arrows)

    def test_labels_cannot_change_the_structure(self) -> None:
        picture = pictures.Picture(HOSTILE)
        a, b = picture.box(HOSTILE, frame=HOSTILE), picture.box(HOSTILE)
        picture.arrows.append((a, b, HOSTILE))
        for line in pictures.mermaid(picture).splitlines()[1:]:
            self.assertNotIn("<script>", line)
            self.assertLessEqual(line.count('"'), 2, line)
        text = pictures.dot(picture)
        decoder = json.JSONDecoder()
        labels = 0
        for line in text.splitlines():
            if "label=" in line:
                value, end = decoder.raw_decode(line, line.index("label=") + len("label="))
                self.assertEqual(value, HOSTILE, line)
                self.assertRegex(line[end:], r"^(\];|;|;?)$", line)
                labels += 1
        self.assertEqual(labels, 5, text)  # title, frame, two boxes, one arrow
        if shutil.which("dot"):
            done = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)

    def test_svg_without_graphviz_says_how_to_get_it(self) -> None:
        if shutil.which("dot"):
            status, out, _ = run("graph", str(EXAMPLES / "spark.yaml"), "--format", "svg")
            self.assertEqual(status, 0)
            self.assertIn("<svg", out)
            return
        status, out, err = run("graph", str(EXAMPLES / "spark.yaml"), "--format", "svg")
        self.assertEqual((status, out), (2, ""))
        self.assertIn("needs Graphviz's dot command (Debian: apt-get install graphviz)", err)


class ReadmeTest(unittest.TestCase):
    def test_the_readmes_pictures_are_the_commands_output(self) -> None:
        readme = (EXAMPLES.parent / "README.md").read_text()
        blocks = re.findall(r"^```mermaid\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
        expected = [run("graph", str(EXAMPLES / "spark.yaml"))[1],
                    run("graph", str(EXAMPLES / "spark.yaml"), "--steps", "launch")[1]]
        self.assertEqual(blocks, expected)
