"""``heatdeploy plugin new``: a new plugin package, complete and tested as generated.

The package's files are Jinja templates in this folder (``framework/`` and
``addon/``); every value in them is a name checked by :class:`Names`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

from heatdeploy.errors import UsageError

Kind = Literal["framework", "addon"]
NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
TAKEN = frozenset({"spark", "hadoop", "bare"})
"""Frameworks heatdeploy has built in (or for tests): a plugin of the same name could not register."""
_HERE = Path(__file__).parent
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_HERE)), keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined, autoescape=False)


class SkeletonError(UsageError):
    """The name is not usable, or the folder is taken: nothing was written."""


@dataclass(frozen=True)
class Names:
    """The names a plugin called ``name`` goes by."""

    name: str  # the entry point and framework name: "my-flink"
    package: str  # the distribution: "heatdeploy-my-flink"
    module: str  # "heatdeploy_my_flink"
    class_name: str  # "MyFlink"
    constant: str  # "MY_FLINK"
    title: str  # "My Flink"

    @classmethod
    def of(cls, name: str) -> Names:
        if not NAME.fullmatch(name) or len(name) > 40:
            raise SkeletonError(f"plugin name {name!r} is not usable (lower-case letters and digits, words joined "
                                "by '-', starting with a letter, at most 40 characters; e.g. flink, my-flink)")
        words = name.split("-")
        return cls(name=name, package=f"heatdeploy-{name}", module="heatdeploy_" + "_".join(words),
                   class_name="".join(w.capitalize() for w in words), constant="_".join(words).upper(),
                   title=" ".join(w.capitalize() for w in words))


def generate(name: str, kind: Kind, parent: Path) -> list[Path]:
    """Write the package of plugin ``name`` into ``parent/heatdeploy-NAME``; return the files written.

    Refuses a folder that exists, so nothing of the user's is overwritten.
    """
    names = Names.of(name)
    if name in TAKEN:
        raise SkeletonError(f"plugin name {name!r} is a framework heatdeploy has already; choose another")
    root = parent / names.package
    if root.exists():
        raise SkeletonError(f"{root} already exists; choose another folder with -o or remove it")
    values = {**vars(names), "master_port": 7800, "worker_port": 7801}
    files = {}  # rendered whole before anything is written: a failure leaves no half package
    for template in sorted((_HERE / kind).rglob("*.tmpl")):
        relative = template.relative_to(_HERE / kind)
        target = root / str(relative.with_suffix("")).replace("MODULE", names.module)
        files[target] = _ENV.get_template(f"{kind}/{relative}").render(values)
    _check_module(name, files[root / f"{names.module}.py"])
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return list(files)


def _check_module(name: str, text: str) -> None:
    """Refuse a name that makes the module invalid (``none`` makes ``class None``) or that binds a name
    the module already uses (``step`` makes ``class Step``, shadowing heatdeploy's)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        raise SkeletonError(f"plugin name {name!r} would make Python that does not parse; choose another") from None
    bound: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound += [alias.asname or alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.append(node.name)
        elif isinstance(node, ast.Assign):
            bound += [n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)]
    twice = sorted({b for b in bound if bound.count(b) > 1})
    if twice:
        raise SkeletonError(f"plugin name {name!r} would define {', '.join(twice)}, which the generated module "
                            "already uses; choose another")
