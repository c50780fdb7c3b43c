"""What steps act on an instance through: the Remote protocol, its results and errors.

heatdeploy.ssh implements it over SSH; heatdeploy.testing records it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.instance import Instance

Command = Sequence[str] | str
OUTPUT_TAIL = 2000


class RemoteError(HeatdeployError):
    """Something failed on or on the way to an instance; names the instance.

    ``fatal`` errors end a :meth:`~heatdeploy.StepContext.wait_until`
    at once: raise one when waiting longer cannot help (a daemon that died).
    """

    fatal = False

    def __init__(self, instance: str, message: str, output: str = "") -> None:
        self.instance = instance
        self.output = output
        super().__init__(f"{instance}: {message}")


@dataclass(frozen=True)
class Result:
    """What a remote command did."""

    status: int
    stdout: str
    stderr: str

    def tail(self) -> str:
        """The last part of the output, for error messages."""
        text = (self.stdout + self.stderr).strip()
        return text[-OUTPUT_TAIL:]


class Remote(Protocol):
    """What steps use to act on one instance. Tests may pass a recording fake."""

    instance: Instance

    def run(self, command: Command, *, stdin: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> Result:
        """Run ``command`` (argv list, quoted for the shell by heatdeploy, or a shell string)."""

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace ``path`` with ``content``, creating parent folders."""

    def read_file(self, path: str) -> bytes:
        """The content of ``path``."""

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        """An HTTP request to ``port`` on the instance's own address; returns (status, body)."""
