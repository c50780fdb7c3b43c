"""Small text files written by a step travel with its next command.

Writing a file over SFTP costs four round trips (open, write, close,
chmod) and a command about three. A configuration step typically writes a
few files and then runs a command, so sending the files inside that
command's shell script takes such a step from about fifteen round trips
to three: what matters on a distant cloud, and, on many instances at once,
most of the controller's CPU.

A command line can be read by every user of the instance while it runs,
so only files everyone may read travel this way; others, binary and large
files go over SFTP. The script never shows up in errors either: failures
name the command and the paths only.
"""

from __future__ import annotations

import functools
import itertools
import posixpath
import secrets
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Command, Remote, RemoteError, Result

MAX_BATCH = 24 * 1024
"""Bytes of script the waiting files may take; small enough for any SSH server's packet size."""
MAX_ARGUMENT = 120 * 1024
"""Longest script sent: it is one argument of ``$SHELL -c``, which Linux caps at 128 KiB."""

Execute = Callable[[str, "bytes | None", "float | None", str], tuple[int, bytes, bytes]]
"""Runs shell text on an instance: (script, stdin, timeout, what errors call it) -> (status, stdout, stderr)."""


@dataclass(frozen=True)
class FileWrite:
    """A file to create or replace with ``text``."""

    path: str
    text: str
    mode: int

    @functools.cached_property
    def quoted(self) -> str:
        return shlex.quote(self.text)

    @functools.cached_property
    def cost(self) -> int:
        """About how many bytes of script the file takes (its path appears four times)."""
        return len(self.quoted.encode()) + 4 * len(shlex.quote(self.path).encode()) + 128


def file_write(path: str, content: str | bytes, mode: int) -> FileWrite | None:
    """The write as shell text, or None when it must go another way.

    Only files everyone may read are batched: a command line can be read by
    every user of the instance (``/proc/PID/cmdline``) while it runs. Content
    that is not UTF-8, holds NUL bytes or is large goes another way too.
    """
    if not mode & 0o004:
        return None
    try:
        text = content.decode() if isinstance(content, bytes) else content
    except UnicodeDecodeError:
        return None
    write = FileWrite(path, text, mode)
    return None if "\0" in text or write.cost > MAX_BATCH else write


def write_script(files: Sequence[FileWrite], known_dirs: Iterable[str], marker: str) -> str:
    """Shell text that writes ``files``; on failure it prints ``marker`` to stderr and exits 1.

    Files are written one by one, as separate writes would be: a failure
    leaves those not reached as they were. Only shell builtins create and
    write; ``mkdir`` runs only for folders not in ``known_dirs`` and
    ``chmod`` once per distinct mode, before any content is written. ``>|``
    writes even when a login script set ``noclobber``; `true` rather than
    `:`, because a failed redirection on a special builtin ends the shell.
    """
    fail = f" || {{ printf '%s\\n' {shlex.quote(marker)} >&2; exit 1; }}"
    lines = []
    folders = sorted({posixpath.dirname(f.path) for f in files} - set(known_dirs) - {"", "/"})
    if folders:
        lines.append(shlex.join(["mkdir", "-p", "--", *folders]) + fail)
    for f in files:
        path = shlex.quote(f.path)
        lines.append(f"[ -e {path} ] || true >| {path}" + fail)
    by_mode = itertools.groupby(sorted(files, key=lambda f: f.mode), key=lambda f: f.mode)
    for mode, same in by_mode:
        lines.append(shlex.join(["chmod", format(mode, "o"), "--", *(f.path for f in same)]) + fail)
    for f in files:
        lines.append(f"printf %s {f.quoted} >| {shlex.quote(f.path)}" + fail)
    return "\n".join(lines) + "\n"


class ScriptRunner:
    """Runs commands on one instance with files written first, in one round trip.

    ``execute`` runs shell text there; ``write_file`` writes a file another
    way, for files a long command leaves no room for. The folders batches
    created are remembered, and forgotten when a batch fails (one may have
    been removed since).
    """

    def __init__(self, instance: str, execute: Execute, write_file: Callable[[str, str, int], None],
                 known_dirs: set[str] | None = None) -> None:
        self.instance = instance
        self._execute = execute
        self._write_file = write_file
        self.known_dirs = set() if known_dirs is None else known_dirs

    def run(self, files: Sequence[FileWrite], command: Command, *, stdin: bytes | None = None,
            check: bool = True, timeout: float | None = None) -> Result:
        text = command if isinstance(command, str) else shlex.join(command)
        script, marker = self._script(files, text)
        if len(script.encode()) > MAX_ARGUMENT:
            for f in files:
                self._write_file(f.path, f.text, f.mode)
            script, marker = text, ""
        status, out, err = self._execute(script, stdin, timeout, text)
        result = Result(status, out.decode(errors="replace"), err.decode(errors="replace"))
        folders = {posixpath.dirname(f.path) for f in files}
        if marker and marker in result.stderr:
            self.known_dirs.difference_update(folders)
            detail = result.stderr.replace(marker, "").strip()
            raise RemoteError(self.instance, f"cannot write {', '.join(f.path for f in files)}", detail)
        if result.status == 0:
            self.known_dirs.update(folders)
        if check and result.status != 0:
            raise RemoteError(self.instance, f"{short(text)} exited with status {result.status}", result.tail())
        return result

    def _script(self, files: Sequence[FileWrite], command: str) -> tuple[str, str]:
        if not files:
            return command, ""
        # Random, so that no command's output contains it by chance.
        marker = f"heatdeploy-write-failed-{secrets.token_hex(8)}"
        return write_script(files, self.known_dirs, marker) + command, marker


def short(text: str) -> str:
    """A command as error messages show it."""
    return repr(text if len(text) < 80 else text[:77] + "...")


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
        self._pending.pop(path, None)  # a later write of the same path replaces, and goes last
        if sum(f.cost for f in self._pending.values()) + write.cost > MAX_BATCH:
            self.flush()
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
