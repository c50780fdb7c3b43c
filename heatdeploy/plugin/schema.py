"""The cluster spec's JSON Schema with what the installed frameworks allow, for editors to complete and check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heatdeploy.plugin.framework import ConfigOption, Framework
from heatdeploy.spec.model import schema

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema_for(frameworks: Mapping[str, Framework]) -> dict[str, Any]:
    """:func:`heatdeploy.spec.model.schema`, with ``plugin`` one of ``frameworks`` and, per framework,
    its versions, processes and configs (name, type, default and description) as the only ones allowed."""
    out = schema()
    if not frameworks:
        return out
    out["properties"]["plugin"]["enum"] = sorted(frameworks)
    out["allOf"] = [_rules(name, frameworks[name]) for name in sorted(frameworks)]
    return out


def _rules(name: str, framework: Framework) -> dict[str, Any]:
    group = {"properties": {
        "processes": {"items": {"enum": list(framework.processes)}},
        "configs": _configs(c for c in framework.configs if c.scope == "node_group"),
    }}
    return {
        "if": {"properties": {"plugin": {"const": name}}, "required": ["plugin"]},
        "then": {"properties": {
            "version": {"enum": list(framework.versions)},
            "configs": _configs(framework.configs),
            "anti_affinity": {"items": {"enum": list(framework.processes)}},
            "node_groups": {"items": group},
        }},
    }


def _configs(options: Any) -> dict[str, Any]:
    properties = {o.name: _option(o) for o in options}
    return {"properties": properties, "additionalProperties": False}


def _option(option: ConfigOption) -> dict[str, Any]:
    scope = "cluster-wide" if option.scope == "cluster" else "per node group, or cluster-wide as the default"
    return {"type": _JSON_TYPES[option.type], "default": option.default,
            "description": f"{option.description} ({scope})"}
