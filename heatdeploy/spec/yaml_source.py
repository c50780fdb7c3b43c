"""YAML loading that remembers the line of every value, by field path."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from heatdeploy.spec.problems import LocatedProblem, SpecError

# libyaml's parser is about ten times faster than the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 1 << 20
"""A spec or job file is a few KiB; anything past this is refused unread."""
MAX_VALUES = 20_000
"""Values a document may hold once its aliases are expanded: a spec of 100 node groups has under 2,000.

A long string counts as one value per :data:`CHARS_PER_VALUE` characters, so
the bound is on bytes too (about 5 MB), whatever the aliases repeat."""
CHARS_PER_VALUE = 256
MAX_DEPTH = 32
"""Nesting of mappings and lists; a spec needs five levels."""


class _TooLarge(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


@dataclass
class Document:
    """A parsed YAML document: plain Python data plus the line of each path."""

    file: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int:
        """Line of ``path``, or of its nearest ancestor that exists in the file."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent(path)
        return self.lines.get("", 1)

    def locate(self, path: str, message: str) -> LocatedProblem:
        return LocatedProblem(self.file, self.line_of(path), path, message)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def child_path(parent: str, key: str | int) -> str:
    """The path of ``key`` below ``parent``: ``a.b`` for mapping keys, ``a[0]`` for items."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def read_text(path: str | Path) -> str:
    """A spec or job file's text: at most :data:`MAX_BYTES` are read, and it must be UTF-8."""
    try:
        with open(path, "rb") as source:
            data = source.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError([LocatedProblem(str(path), 1, "", f"cannot read: {exc.strerror or exc}")]) from None
    if len(data) > MAX_BYTES:
        raise SpecError([LocatedProblem(str(path), 1, "", f"file is too large (more than {MAX_BYTES} bytes)")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError([LocatedProblem(str(path), line, "", "cannot read: not UTF-8 text")]) from None


def load_yaml(text: str, file: str) -> Document:
    """Parse one YAML document, raising :class:`SpecError` on syntax errors.

    Bounded whatever the input: files over :data:`MAX_BYTES`, documents that
    would expand (through aliases and merge keys) to over :data:`MAX_VALUES`
    values or nest deeper than :data:`MAX_DEPTH` are refused before any
    value is built, so a few hundred bytes of aliases cannot take minutes.
    """
    if len(text) > MAX_BYTES:
        raise SpecError([LocatedProblem(file, 1, "", f"file is too large ({len(text)} characters; "
                                        f"at most {MAX_BYTES})")])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = Document(file, None)
        if node is not None:
            _expanded_size(node, {}, 0)
            errors: list[LocatedProblem] = []
            doc.data = _construct(loader, node, "", doc, errors)
            if errors:
                raise SpecError(errors)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise SpecError([LocatedProblem(file, line, "", f"invalid YAML: {reason}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: binary junk, NUL
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise SpecError([LocatedProblem(file, line, "", f"invalid YAML: {exc.reason} "
                                        f"(character {exc.character!r})")]) from None
    except _TooLarge as exc:
        raise SpecError([LocatedProblem(file, exc.line, "", str(exc))]) from None
    except RecursionError:  # the pure-Python parser, without libyaml, on deep nesting
        raise SpecError([LocatedProblem(file, 1, "", f"nested deeper than {MAX_DEPTH} levels")]) from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], depth: int) -> int:
    """How many values ``node`` stands for once aliases and merge keys are expanded (memoised per node)."""
    known = sizes.get(id(node))
    if known is not None:
        if known < 0:
            raise _TooLarge(node.start_mark.line + 1, "invalid YAML: an alias refers to its own anchor")
        return known
    if depth > MAX_DEPTH:
        raise _TooLarge(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
    sizes[id(node)] = -1  # in progress: meeting it again is a cycle
    size = 1
    if isinstance(node, yaml.ScalarNode):
        size += len(node.value) // CHARS_PER_VALUE
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes, depth + 1) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes, depth + 1) + _expanded_size(v, sizes, depth + 1)
                    for k, v in node.value)
    if size > MAX_VALUES:
        raise _TooLarge(node.start_mark.line + 1, f"expands to more than {MAX_VALUES} values or about "
                        f"{MAX_VALUES * CHARS_PER_VALUE // 1_000_000} MB (aliases repeated too often?)")
    sizes[id(node)] = size
    return size


def _construct(
    loader: yaml.SafeLoader, node: yaml.Node, path: str, doc: Document, errors: list[LocatedProblem]
) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return _construct_mapping(loader, node, path, doc, errors)
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, child_path(path, i), doc, errors)
            for i, item in enumerate(node.value)
        ]
    return _scalar(loader, node, path, doc, errors)


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, path: str, doc: Document,
            errors: list[LocatedProblem]) -> Any:
    """A scalar's value; one YAML cannot build (``2001-02-30``, ``!!int abc``) is a located problem."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        errors.append(LocatedProblem(doc.file, node.start_mark.line + 1, path,
                                     f"invalid value {node.value!r:.60}: {reason}"))
        return None


def _construct_mapping(
    loader: yaml.SafeLoader, node: yaml.MappingNode, path: str, doc: Document, errors: list[LocatedProblem]
) -> dict[str, Any]:
    loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _scalar(loader, key_node, path, doc, errors) if isinstance(key_node, yaml.ScalarNode) else None
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            errors.append(LocatedProblem(doc.file, line, path, f"key {key!r} must be a string"))
            continue
        sub = child_path(path, key)
        if key in result:
            errors.append(LocatedProblem(doc.file, line, sub, "duplicate key"))
            continue
        result[key] = _construct(loader, value_node, sub, doc, errors)
        doc.lines.setdefault(sub, line)
    return result
