"""The user's base folders for data, caches and configuration (XDG, as platformdirs gives them on Linux)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

_DEFAULTS = {"data": (".local", "share"), "cache": (".cache",), "config": (".config",)}


def xdg_home(kind: Literal["data", "cache", "config"]) -> Path:
    """``$XDG_DATA_HOME`` (``_CACHE_``, ``_CONFIG_``), else its default under the home folder.

    An empty variable counts as unset, as the XDG specification says.
    """
    return Path(os.environ.get(f"XDG_{kind.upper()}_HOME") or Path.home().joinpath(*_DEFAULTS[kind]))
