"""Reading Sahara's files: template JSON (as the API and ``show -f json`` give it) and scenario YAML or Mako.

Every value keeps the line it came from, so problems point at it. Scenario
files ending in ``.mako`` are rendered with Mako first, as sahara-tests did:
with ``--var NAME=VALUE`` values, its ``<%page args=...>`` defaults, and
every undefined variable reported by name. Sahara's default-template sets
hold ``"{name}"`` placeholders instead (filled from a config file by
``sahara-templates``): ``--var`` fills those too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from heatdeploy.errors import UsageError
from heatdeploy.spec.problems import LocatedProblem, SpecError
from heatdeploy.spec.yaml_source import Document, load_yaml, read_text

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_MAX_UNDEFINED = 100


@dataclass
class Source:
    """One Sahara file, parsed: its data, where each value is, and what kind of document it is."""

    file: str
    data: dict[str, Any]
    document: Document
    kind: str
    """``scenario``, ``cluster_template`` or ``node_group_template``."""
    keys: dict[str, str] = field(default_factory=dict)
    """Normalised key to the key in the file (``show -f json`` says ``Plugin name`` for ``plugin_name``)."""

    def line(self, *path: str | int) -> int:
        """Line of the value at ``path`` (normalised keys), or of its nearest parent in the file."""
        text = ""
        for part in path:
            if isinstance(part, int):
                text += f"[{part}]"
            else:
                key = self.keys.get(part, part) if not text else part
                text = f"{text}.{key}" if text else key
        return self.document.line_of(text)


def problem(file: str, line: int, message: str) -> SpecError:
    """Bad input at a place: one ``FILE:LINE: message`` line, exit 2."""
    return SpecError([LocatedProblem(file, line, "", message)])


def read_source(path: str, variables: Mapping[str, str]) -> Source:
    """Read, render and classify one Sahara file; :class:`SpecError` (exit 2) names what is wrong and where."""
    text = read_text(path)
    if path.endswith(".mako"):
        text = render_mako(text, path, variables)
    if path.endswith(".json"):
        document = _json_document(text, path)
    else:
        document = load_yaml(text, path)
    if not isinstance(document.data, dict):
        raise problem(path, 1, "expected a mapping: a Sahara cluster template, node group template or "
                               "sahara-tests scenario")
    document.data = fill_placeholders(document.data, variables)
    return _classify(path, document)


def _json_document(text: str, path: str) -> Document:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise problem(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    try:
        return load_yaml(text, path)  # the same data, with each value's line (JSON is YAML)
    except SpecError:  # JSON that YAML reads otherwise (tabs, say): the data without lines
        return Document(path, data)


def render_mako(text: str, path: str, variables: Mapping[str, str]) -> str:
    """Render a Mako scenario template; every undefined variable is a located problem (exit 2)."""
    try:
        from mako import exceptions
        from mako.template import Template
    except ImportError:
        raise UsageError(f"{path}: rendering Mako templates needs Mako: pip install 'heatdeploy[sahara]'") from None

    try:
        template = Template(text, strict_undefined=True)
    except (exceptions.SyntaxException, exceptions.CompileException) as exc:
        raise problem(path, getattr(exc, "lineno", 1) or 1, f"invalid Mako template: {_first_line(exc)}") from None
    values = dict(variables)
    undefined: list[str] = []
    while True:
        try:
            rendered = str(template.render_unicode(**values))
            break
        except NameError as exc:
            name = getattr(exc, "name", None) or _name_in(exc)
            if name is None or name in values or len(undefined) >= _MAX_UNDEFINED:
                raise problem(path, 1, f"Mako template failed: {_first_line(exc)}") from None
            undefined.append(name)
            values[name] = ""  # render on, to name every undefined variable at once
        except Exception as exc:  # noqa: BLE001 - a template is code: any error of it is the file's problem
            raise problem(path, 1, f"Mako template failed: {type(exc).__name__}: {_first_line(exc)}") from None
    if undefined:
        raise SpecError(LocatedProblem(path, _line_of_name(text, name), "",
                                       f"undefined variable {name!r} (pass --var {name}=VALUE)")
                        for name in undefined)
    return rendered


def _name_in(exc: NameError) -> str | None:
    found = re.search(r"'([^']+)' is not defined", str(exc))
    return found.group(1) if found else None


def _line_of_name(text: str, name: str) -> int:
    found = re.search(rf"\$\{{[^}}]*\b{re.escape(name)}\b", text) or re.search(rf"\b{re.escape(name)}\b", text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def fill_placeholders(data: Any, variables: Mapping[str, str]) -> Any:
    """Replace whole-value ``"{name}"`` placeholders (Sahara's default templates) with ``--var`` values."""
    if isinstance(data, dict):
        return {key: fill_placeholders(value, variables) for key, value in data.items()}
    if isinstance(data, list):
        return [fill_placeholders(value, variables) for value in data]
    if isinstance(data, str):
        found = PLACEHOLDER.fullmatch(data)
        if found and found.group(1) in variables:
            return variables[found.group(1)]
    return data


def placeholder(value: object) -> str | None:
    """The name of an unfilled ``"{name}"`` placeholder, or ``None``."""
    found = PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
    return found.group(1) if found else None


# ``openstack dataprocessing ... show -f json`` prints capitalised names with spaces, and some renamed.
_SHOW_NAMES = {"version": "hadoop_version", "plugin_version": "hadoop_version"}
_LISTS = ("node_processes", "anti_affinity")


def _classify(path: str, document: Document) -> Source:
    raw: dict[str, Any] = document.data
    keys = {_normal(key): key for key in raw}
    data = {_normal(key): value for key, value in raw.items()}
    for name in _LISTS:
        if isinstance(data.get(name), str):  # show -f json joins lists: "master, namenode"
            data[name] = [item.strip() for item in data[name].split(",") if item.strip()]
    if isinstance(data.get("node_groups"), str):  # show -f json: "master:1, worker:2"
        data["node_groups"] = _node_group_counts(data["node_groups"], path, document.line_of(keys["node_groups"]))
    if any(k in data for k in ("clusters", "edp_jobs_flow", "network", "credentials", "concurrency")):
        kind = "scenario"
        data, keys = raw, {key: key for key in raw}
    elif "node_processes" in data:
        kind = "node_group_template"
    elif "node_groups" in data:
        kind = "cluster_template"
    else:
        raise problem(path, 1, "not a Sahara cluster template (no node_groups), node group template "
                               "(no node_processes) or sahara-tests scenario (no clusters)")
    return Source(path, data, document, kind, keys)


def _normal(key: str) -> str:
    name = key.strip().lower().replace(" ", "_")
    return _SHOW_NAMES.get(name, name)


def _node_group_counts(text: str, path: str, line: int) -> list[dict[str, Any]]:
    groups = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, sep, count = item.rpartition(":")
        if not sep or not count.strip().isdigit():
            raise problem(path, line, f"node groups: {item!r} is not NAME:COUNT")
        groups.append({"name": name.strip(), "count": int(count)})
    return groups
