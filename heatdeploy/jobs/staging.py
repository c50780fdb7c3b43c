"""Moving a job's files between Swift and its instances with curl: object names are data, never syntax.

Temp URLs are secrets, so they reach curl on standard input, in a config
holding nothing but ``url = "..."`` lines; a temp URL is percent-encoded, so
no object name can add a line or an option there. Local paths go on curl's
argument list (``-o`` to download, ``-T`` to upload), one argument each: curl
pairs the n-th path with the n-th URL. An object name becomes a local path
only when it is a plain relative path (:func:`relative_path`).
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping, Sequence

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.remote import Remote

BATCH_BYTES = 64 * 1024
"""Bytes of paths per curl run: the whole command travels as one argument, which Linux caps at 128 KiB."""
# --globoff: curl would otherwise expand [] and {} in -o/-T paths ("{.,x}./..." reaches "../").
_CURL = ["curl", "-fsS", "--fail-early", "--globoff", "--retry", "3"]


class StagingError(HeatdeployError):
    """A job's file cannot be moved safely or at all; names the object or file."""


def relative_path(name: str, what: str) -> str:
    """``name`` if it is safe as a path below a job's folder, else :class:`StagingError` naming it.

    Refused: control characters (a newline, NUL, ...), an empty, ``.`` or
    ``..`` segment (a leading ``/`` is an empty one). The paths built from
    it are absolute, so a segment starting with ``-`` is never an option.
    """
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise StagingError(f"{what} {name!r} has control characters in its name; rename it")
    if any(s in ("", ".", "..") for s in name.split("/")):
        raise StagingError(f"{what} {name!r} is not a plain relative path (empty, '.' or '..' segment); "
                           "rename it")
    return name


def url_config(urls: Sequence[str]) -> bytes:
    """A curl config of ``url`` lines only, read with ``-K -``."""
    for url in urls:
        # Our own percent-encoded temp URLs: anything else here is a bug, not an object name.
        if any(ord(c) < 33 or c in '"\\' or ord(c) > 126 for c in url):
            raise StagingError("refusing to pass a URL that is not percent-encoded to curl")
    return "".join(f'url = "{url}"\n' for url in urls).encode()


def download(remote: Remote, pairs: Sequence[tuple[str, str]]) -> None:
    """Fetch each ``(url, path)`` onto ``remote``; any failed download fails the whole call."""
    _curl(remote, pairs, "-o", ["--create-dirs"])


def upload(remote: Remote, pairs: Sequence[tuple[str, str]]) -> None:
    """Send each ``(url, path)`` from ``remote``; any failed upload fails the whole call."""
    _curl(remote, pairs, "-T", [])


def _curl(remote: Remote, pairs: Sequence[tuple[str, str]], flag: str, extra: list[str]) -> None:
    for batch in _batches(pairs):
        paths = [arg for _, path in batch for arg in (flag, path)]
        remote.run([*_CURL, *extra, *paths, "-K", "-"], stdin=url_config([url for url, _ in batch]))


def _batches(pairs: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """``pairs`` cut so that each batch's paths, shell-quoted, stay under :data:`BATCH_BYTES`."""
    batches: list[list[tuple[str, str]]] = [[]]
    size = 0
    for pair in pairs:
        cost = len(shlex.quote(pair[1])) + 4  # the path, its flag and the spaces
        if batches[-1] and size + cost > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(pair)
        size += cost
    return [b for b in batches if b]


def find_files(remote: Remote, folder: str) -> list[str]:
    """Files below ``folder`` on ``remote``, relative to it; NUL-separated, so any name comes back whole."""
    listing = remote.run(["find", folder, "-type", "f", "-print0"]).stdout
    return sorted(posixpath.relpath(path, folder) for path in listing.split("\0") if path)


def substitute(args: list[str], paths: Mapping[str, str]) -> list[str]:
    """Replace ``{input}``, ``{input.NAME}``, ``{output}``, ``{output.NAME}`` in each argument.

    Plain text replacement of known placeholders only: other braces in
    arguments (JSON, Spark SQL) are left alone.
    """
    out = []
    for arg in args:
        for placeholder, path in sorted(paths.items(), key=lambda kv: -len(kv[0])):
            arg = arg.replace("{" + placeholder + "}", path)
        out.append(arg)
    return out
