"""``heatdeploy plugin new``: a new plugin package, complete and tested as generated.

The package's files are Jinja templates in this folder (``framework/`` and
``addon/``); every value in them is a name checked by :class:`Names`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

from heatdeploy.errors import UsageError

Kind = Literal["framework", "addon"]
NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
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
    root = parent / names.package
    if root.exists():
        raise SkeletonError(f"{root} already exists; choose another folder with -o or remove it")
    values = {**vars(names), "master_port": 7800, "worker_port": 7801}
    files = {}  # rendered whole before anything is written: a failure leaves no half package
    for template in sorted((_HERE / kind).rglob("*.tmpl")):
        relative = template.relative_to(_HERE / kind)
        target = root / str(relative.with_suffix("")).replace("MODULE", names.module)
        files[target] = _ENV.get_template(f"{kind}/{relative}").render(values)
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return list(files)
