"""The docs site's sources: what its generated references and user guide are built from.

The site itself is built with warnings as errors by ``tox -e docs`` and
scripts/test; these checks need no Sphinx and catch what that build does
not: an empty entry in the API or command line reference, and a README
section the user guide leaves out.
"""

from __future__ import annotations

import argparse
import inspect
import re
import unittest
from pathlib import Path

import heatdeploy
from heatdeploy.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
README_INCLUDE = re.compile(r"^```\{include\} \.\./\.\./README\.md\n(.*?)^```", re.MULTILINE | re.DOTALL)


def own_docstring(value: object) -> str:
    """The docstring written for a class or function, not one inherited or made by @dataclass."""
    doc = vars(value).get("__doc__") if inspect.isclass(value) else getattr(value, "__doc__", None)
    name = getattr(value, "__name__", "")
    if not doc or doc.startswith(f"{name}("):
        return ""
    return doc.strip()


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("heatdeploy",)) -> dict[tuple[str, ...], str]:
    """Every command under ``parser`` (nested ones too), with its help."""
    found: dict[tuple[str, ...], str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found[(*path, name)] = str(helps.get(name, ""))
                found.update(commands(sub, (*path, name)))
    return found


def arguments_without_help(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("heatdeploy",)) -> list[str]:
    """The options and positionals of ``parser`` and its commands that have no help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += arguments_without_help(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction) and not action.help:
            missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    return missing


def readme_ranges() -> list[tuple[str, str | None]]:
    """The (start, end) markers of every README range the docs pages include."""
    ranges = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for options in README_INCLUDE.findall(page.read_text()):
            start = re.search(r"^:start-after: (.*)$", options, re.MULTILINE)
            end = re.search(r"^:end-before: (.*)$", options, re.MULTILINE)
            if start is None:
                raise AssertionError(f"{page}: a README include without :start-after:")
            ranges.append((start.group(1), end.group(1) if end else None))
    return ranges


class ApiReferenceTest(unittest.TestCase):
    def test_every_exported_class_and_function_has_its_own_docstring(self) -> None:
        # The API reference is autodoc over heatdeploy.__all__; an entry without a
        # docstring would be a bare signature, which the docs build does not report.
        undocumented = [name for name in heatdeploy.__all__
                        if (inspect.isclass(getattr(heatdeploy, name)) or inspect.isfunction(getattr(heatdeploy, name)))
                        and not own_docstring(getattr(heatdeploy, name))]
        self.assertEqual(undocumented, [])

    def test_a_dataclass_without_a_docstring_counts_as_undocumented(self) -> None:
        from dataclasses import dataclass

        @dataclass
        class Bare:
            x: int

        self.assertEqual(own_docstring(Bare), "")
        self.assertEqual(own_docstring(heatdeploy.Options), "Settings of an operation that are not part of the spec.")


class CliReferenceTest(unittest.TestCase):
    def test_every_command_has_help(self) -> None:
        found = commands(build_parser())
        for expected in [("heatdeploy", "launch"), ("heatdeploy", "job", "run"), ("heatdeploy", "plugin", "new")]:
            self.assertIn(expected, found)
        self.assertEqual([" ".join(path) for path, help in found.items() if not help.strip()], [])

    def test_every_argument_has_help(self) -> None:
        self.assertEqual(arguments_without_help(build_parser()), [])


class UserGuideTest(unittest.TestCase):
    def test_the_readme_has_every_marker_the_user_guide_includes_in_order(self) -> None:
        readme = (ROOT / "README.md").read_text()
        ranges = readme_ranges()
        self.assertGreater(len(ranges), 5)
        for start, end in ranges:
            self.assertEqual(readme.count(start), 1, start)
            if end is not None:
                self.assertEqual(readme.count(end), 1, end)
                self.assertLess(readme.index(start), readme.index(end), (start, end))

    def test_every_readme_section_is_in_the_user_guide(self) -> None:
        readme = (ROOT / "README.md").read_text()
        included = [(readme.index(start), readme.index(end) if end else len(readme)) for start, end in readme_ranges()]
        outside = [match.group(0) for match in re.finditer(r"^## .*$", readme, re.MULTILINE)
                   if not any(low <= match.start() < high for low, high in included)]
        self.assertEqual(outside, [])
