"""The text of files frameworks write on instances, with every value quoted by construction."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

HEADER = "# Written by heatdeploy\n"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def env_file(values: Mapping[str, object], preamble: str = "") -> str:
    """A shell file exporting ``values`` in order, each one shell-quoted; ``None`` and ``""`` are left out.

    Suits the ``*-env.sh`` files frameworks source (``spark-env.sh``,
    ``hadoop-env.sh``) and :class:`Daemon`'s ``environment``. ``preamble``
    is shell text put first, as is: write only constants there. A name that
    is not a shell variable's raises ``ValueError``: names are never quoted.
    """
    bad = [name for name in values if not _NAME.match(name)]
    if bad:
        raise ValueError(f"not shell variable names: {', '.join(map(repr, bad))}")
    lines = [f"export {name}={shlex.quote(str(value))}\n" for name, value in values.items()
             if value is not None and value != ""]
    return HEADER + preamble + "".join(lines)
