"""A scenario run's results as a JUnit XML report, the format CI systems show test results in."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from heatdeploy.sahara.runner import StepResult, results_by_cluster

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 cannot hold at all, escaped or not (a driver's colour codes, NUL)."""


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def junit_xml(results: list[StepResult], suite: str = "heatdeploy scenario") -> ET.ElementTree:
    """One ``testsuite`` per cluster, one ``testcase`` per step (failed: ``failure``; skipped: ``skipped``)."""
    root = ET.Element("testsuites", name=suite, tests=str(len(results)),
                      failures=str(sum(r.status == "failed" for r in results)),
                      skipped=str(sum(r.status == "skipped" for r in results)),
                      time=f"{sum(r.seconds for r in results):.1f}")
    for cluster, steps in results_by_cluster(results):
        element = ET.SubElement(root, "testsuite", name=_text(cluster), tests=str(len(steps)),
                                failures=str(sum(r.status == "failed" for r in steps)),
                                skipped=str(sum(r.status == "skipped" for r in steps)),
                                time=f"{sum(r.seconds for r in steps):.1f}")
        for step in steps:
            case = ET.SubElement(element, "testcase", classname=_text(cluster), name=_text(step.name),
                                 time=f"{step.seconds:.1f}")
            message = _text(step.message)
            if step.status == "failed":
                ET.SubElement(case, "failure", message=message[:1000]).text = message
            elif step.status == "skipped":
                ET.SubElement(case, "skipped", message=message[:1000])
            elif message:
                ET.SubElement(case, "system-out").text = message
    return ET.ElementTree(root)


def write_junit(results: list[StepResult], path: Path) -> None:
    """Write the report to ``path`` (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_xml(results)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
