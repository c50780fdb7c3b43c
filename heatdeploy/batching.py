"""Small text files written by a step travel with its next command.

Writing a file over SFTP costs four round trips (open, write, close,
chmod) and a command about three. A configuration step typically writes a
few files and then runs a command, so sending the files inside that
command's shell script takes such a step from about fifteen round trips
to three: what matters on a distant cloud, and, on many instances at once,
most of the controller's CPU.

The script never shows up in errors (it holds the files' content, which
may be secret): failures name the command and the paths only. Each file
is truncated and given its mode before its content is written, so a
secret is never readable by others, even for a moment.
"""

from __future__ import annotations

import itertools
import posixpath
import secrets
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from heatdeploy.instances import Instance
from heatdeploy.remote import Command, Remote, RemoteError, Result

MAX_SCRIPT = 64 * 1024
"""Largest quoted content batched: the script is one argument of ``sh -c``, which Linux caps at 128 KiB."""


@dataclass(frozen=True)
class FileWrite:
    """A file to create or replace: ``quoted`` is its content, quoted for the shell."""

    path: str
    quoted: str
    mode: int


def file_write(path: str, content: str | bytes, mode: int) -> FileWrite | None:
    """The write as shell text, or None when it cannot be one (NUL bytes, not UTF-8, too large)."""
    try:
        text = content.decode() if isinstance(content, bytes) else content
    except UnicodeDecodeError:
        return None
    quoted = shlex.quote(text)
    if "\0" in text or len(quoted) > MAX_SCRIPT:
        return None
    return FileWrite(path, quoted, mode)


def write_script(files: Sequence[FileWrite], known_dirs: Iterable[str], marker: str) -> str:
    """Shell text that writes ``files``; on failure it prints ``marker`` to stderr and exits 1.

    Only shell builtins write and truncate; ``mkdir`` runs only for folders
    not in ``known_dirs`` and ``chmod`` once per distinct mode.
    """
    fail = f" || {{ printf '%s\\n' {shlex.quote(marker)} >&2; exit 1; }}"
    lines = []
    folders = sorted({posixpath.dirname(f.path) for f in files} - set(known_dirs) - {"", "/"})
    if folders:
        lines.append(shlex.join(["mkdir", "-p", "--", *folders]) + fail)
    # `true`, not `:`: a failed redirection on a special builtin would end the shell before `fail`.
    lines.append(" && ".join(f"true > {shlex.quote(f.path)}" for f in files) + fail)
    by_mode = itertools.groupby(sorted(files, key=lambda f: f.mode), key=lambda f: f.mode)
    for mode, same in by_mode:
        lines.append(shlex.join(["chmod", format(mode, "o"), "--", *(f.path for f in same)]) + fail)
    lines.append(" && ".join(f"printf %s {f.quoted} > {shlex.quote(f.path)}" for f in files) + fail)
    return "\n".join(lines) + "\n"


@runtime_checkable
class BatchingTarget(Protocol):
    """A remote that can run a command with files written first, in one round trip."""

    instance: Instance

    def run_with_files(self, files: Sequence[FileWrite], command: Command, *, stdin: bytes | None = None,
                       check: bool = True, timeout: float | None = None) -> Result: ...

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None: ...

    def read_file(self, path: str) -> bytes: ...

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]: ...


class BatchedRemote:
    """One step's view of a remote: text files wait for the step's next command, or its end.

    Every other operation sends the waiting files first, so the step sees
    its writes in order; :meth:`flush` sends what is left when the step's
    action returns.
    """

    def __init__(self, remote: BatchingTarget) -> None:
        self.instance = remote.instance
        self._remote = remote
        self._pending: dict[str, FileWrite] = {}

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        write = file_write(path, content, mode)
        if write is None:
            self.flush()
            self._remote.write_file(path, content, mode)
            return
        if sum(len(f.quoted) for f in self._pending.values()) + len(write.quoted) > MAX_SCRIPT:
            self.flush()
        self._pending.pop(path, None)  # a later write of the same path replaces, and goes last
        self._pending[path] = write

    def run(self, command: Command, *, stdin: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> Result:
        files, self._pending = list(self._pending.values()), {}
        return self._remote.run_with_files(files, command, stdin=stdin, check=check, timeout=timeout)

    def read_file(self, path: str) -> bytes:
        self.flush()
        return self._remote.read_file(path)

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        self.flush()
        return self._remote.http(method, port, path, body, timeout)

    def flush(self, timeout: float | None = None) -> None:
        """Write the waiting files now."""
        if self._pending:
            self.run("true", timeout=timeout)


def batched(remote: Remote) -> Remote:
    """``remote`` with batched writes when it can run commands with files, else ``remote`` itself."""
    return BatchedRemote(remote) if isinstance(remote, BatchingTarget) else remote


def script_for(files: Sequence[FileWrite], known_dirs: Iterable[str], command: str) -> tuple[str, str]:
    """Shell text that writes ``files`` then runs ``command``, and the marker a failed write prints."""
    if not files:
        return command, ""
    # Random, so that no command's output contains it by chance.
    marker = f"heatdeploy-write-failed-{secrets.token_hex(8)}"
    return write_script(files, known_dirs, marker) + command, marker


def check_written(instance: str, files: Sequence[FileWrite], result: Result, marker: str) -> None:
    """Raise a RemoteError naming the files when the script's writes failed."""
    if marker and marker in result.stderr:
        paths = ", ".join(f.path for f in files)
        detail = result.stderr.replace(marker, "").strip()
        raise RemoteError(instance, f"cannot write {paths}", detail)
