"""Typed dataclasses as the single source of truth for a YAML format.

A spec class is a dataclass whose fields carry their documentation and
constraints in metadata (see :func:`spec_field`).  From it this module both
*converts* parsed YAML into instances, reporting every problem with its path,
and *describes* the format as JSON Schema.  Keeping both in one walk over the
same class means the validator and the published schema cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Union

from heatdeploy.spec.problems import Problem, allowed, did_you_mean
from heatdeploy.spec.yaml_source import child_path

Scalar = str | int | float | bool

_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types: resolving them is most of the cost of building a spec."""
    return typing.get_type_hints(cls)


def spec_field(
    doc: str,
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
    pattern: str | None = None,
    minimum: int | None = None,
    max_length: int | None = None,
    hint: str | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare a spec field with its documentation and constraints.

    ``hint`` is appended to pattern errors to say what is allowed, since a raw
    regular expression teaches nobody. ``check`` tests what a pattern cannot
    (a network address, say): it returns what is wrong with a value, reported
    as ``'value' <what is wrong> (<hint>)``, or ``None``. Pattern, minimum and
    check apply to each item of a list field.
    """
    meta = {"doc": doc, "pattern": pattern, "minimum": minimum, "max_length": max_length, "hint": hint,
            "check": check}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported spec type {tp!r}")
        return rest[0], True
    return tp, False


def _is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    if tp == Scalar:
        return "a string, number or boolean"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[tp]


def _matches_type(tp: Any, value: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp == Scalar:
        return isinstance(value, (str, int, float, bool))
    raise TypeError(f"unsupported spec type {tp!r}")


class Converter:
    """Builds dataclass instances from parsed YAML, collecting problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def report(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def build(self, cls: type, raw: Any, path: str = "") -> Any:
        """Return an instance of dataclass ``cls`` or ``None`` when ``raw`` is unusable."""
        if not isinstance(raw, dict):
            self.report(path, f"must be a mapping, not {_describe(raw)}")
            return None
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = _hints(cls)
        for key in raw:
            if key not in fields:
                self.report(
                    child_path(path, key),
                    f"unknown field{did_you_mean(key, fields)} (allowed: {allowed(fields)})",
                )
        values: dict[str, Any] = {}
        for name, f in fields.items():
            sub = child_path(path, name)
            if name not in raw:
                if _is_required(f):
                    self.report(sub, "required field is missing")
                continue
            values[name] = self.value(hints[name], raw[name], sub, f.metadata)
        if any(_is_required(f) and values.get(n) is None for n, f in fields.items()):
            return None
        return cls(**{k: v for k, v in values.items() if v is not None})

    def value(self, tp: Any, raw: Any, path: str, meta: typing.Mapping[str, Any]) -> Any:
        tp, optional = _unwrap_optional(tp)
        if raw is None:
            if not optional:
                self.report(path, f"must be {_type_name(tp)}, not empty")
            return None
        if dataclasses.is_dataclass(tp):
            return self.build(tp, raw, path)  # type: ignore[arg-type]
        origin = typing.get_origin(tp)
        if origin is list:
            return self._list(typing.get_args(tp)[0], raw, path, meta)
        if origin is dict:
            return self._dict(typing.get_args(tp)[1], raw, path)
        return self._scalar(tp, raw, path, meta)

    def _list(self, item_tp: Any, raw: Any, path: str, meta: typing.Mapping[str, Any]) -> Any:
        if not isinstance(raw, list):
            self.report(path, f"must be a list, not {_describe(raw)}")
            return None
        items = [self.value(item_tp, v, child_path(path, i), meta) for i, v in enumerate(raw)]
        # A partial list would shift the indices that later problems are reported at.
        return None if any(i is None for i in items) else items

    def _dict(self, value_tp: Any, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            self.report(path, f"must be a mapping, not {_describe(raw)}")
            return None
        out = {k: self.value(value_tp, v, child_path(path, k), {}) for k, v in raw.items()}
        return {k: v for k, v in out.items() if v is not None}

    def _scalar(self, tp: Any, raw: Any, path: str, meta: typing.Mapping[str, Any]) -> Any:
        if not _matches_type(tp, raw):
            extra = f' (quote it: "{raw}")' if tp is str and isinstance(raw, (int, float)) else ""
            self.report(path, f"must be {_type_name(tp)}, not {_describe(raw)}{extra}")
            return None
        if meta.get("minimum") is not None and raw < meta["minimum"]:
            self.report(path, f"must be at least {meta['minimum']}, not {raw}")
            return None
        if meta.get("max_length") is not None and len(raw) > meta["max_length"]:
            self.report(path, f"must be at most {meta['max_length']} characters, not {len(raw)}")
            return None
        if meta.get("pattern") and not re.fullmatch(meta["pattern"], raw):
            self.report(path, f"{raw!r} is not allowed ({meta.get('hint') or meta['pattern']})")
            return None
        wrong = meta["check"](raw) if meta.get("check") else None
        if wrong:
            self.report(path, f"{raw!r} {wrong} ({meta.get('hint') or 'see the schema'})")
            return None
        return raw


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    return "a list" if isinstance(value, list) else "a mapping"


def json_schema(cls: type, title: str | None = None) -> dict[str, Any]:
    """Describe dataclass ``cls`` (recursively) as a JSON Schema object."""
    hints = _hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        prop = _schema_for(hints[f.name], f.metadata)
        prop["description"] = f.metadata["doc"]
        if _is_required(f):
            required.append(f.name)
        elif f.default is not dataclasses.MISSING and f.default is not None:
            prop["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            prop["default"] = f.default_factory()
        properties[f.name] = prop
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if title:
        schema["title"] = title
    if cls.__doc__:
        schema["description"] = cls.__doc__.strip().split("\n\n")[0]
    if required:
        schema["required"] = required
    return schema


def _schema_for(tp: Any, meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    tp, optional = _unwrap_optional(tp)
    out = _schema_for_type(tp, meta)
    if optional:  # null is accepted, and means "not set"
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _schema_for_type(tp: Any, meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    if dataclasses.is_dataclass(tp):
        return json_schema(tp)  # type: ignore[arg-type]
    origin = typing.get_origin(tp)
    if origin is list:
        return {"type": "array", "items": _schema_for(typing.get_args(tp)[0], meta)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_for(typing.get_args(tp)[1], {})}
    if tp == Scalar:
        return {"type": ["string", "number", "boolean"]}
    out: dict[str, Any] = {"type": _JSON_TYPES[tp]}
    for key, name in (("pattern", "pattern"), ("minimum", "minimum"), ("max_length", "maxLength")):
        if meta.get(key) is not None:
            out[name] = meta[key] if key != "pattern" else f"^(?:{meta[key]})$"
    return out
