"""The error every deliberate heatdeploy failure derives from, and the exit statuses it maps to.

A :class:`HeatdeployError` says what failed and why in one line (plus, for
some errors, indented details), never a traceback. The command line catches
it in one place and exits with its :attr:`~HeatdeployError.exit_status`:
failures exit 1, bad input exits 2.
"""

from __future__ import annotations

import enum
import sys


class ExitStatus(enum.IntEnum):
    """How ``heatdeploy`` exits: the one table of exit statuses."""

    OK = 0
    FAILED = 1
    """An operation failed: cloud, instance, plugin or job."""
    BAD_INPUT = 2
    """A spec, job file or argument is invalid; nothing was created."""
    INTERRUPTED = 130
    """Ctrl-C or TERM: running the same command again finishes the work."""


class HeatdeployError(Exception):
    """Base of every error heatdeploy raises on purpose; ``str()`` is the message for users."""

    exit_status: ExitStatus = ExitStatus.FAILED


class UsageError(HeatdeployError):
    """A command-line argument is unusable (a missing file, say); nothing was done."""

    exit_status = ExitStatus.BAD_INPUT


class CloudError(HeatdeployError):
    """The cloud refused or failed a request (Keystone, Heat, Swift) or an SSH library failed; names the service."""


_LIBRARY_ERRORS = (
    ("keystoneauth1.exceptions", "ClientException", "Keystone"),
    ("swiftclient.exceptions", "ClientException", "Swift"),
    ("heatclient.exc", "BaseException", "Heat"),
    ("paramiko", "SSHException", "SSH"),
    ("requests.exceptions", "RequestException", "cloud request"),  # a timeout or refused connection
)


def blame(exc: BaseException, service: str) -> None:
    """Mark ``exc`` as a failure of ``service`` (then re-raise it).

    keystoneauth raises the same exceptions for every service reached through
    a session, so the caller that knows which service it was talking to says so.
    """
    exc.heatdeploy_service = service  # type: ignore[attr-defined]


def library_failure(exc: BaseException) -> str | None:
    """``SERVICE: message`` for an error of the cloud or SSH libraries heatdeploy drives, else ``None``.

    Only a library already imported can have raised, so none is imported here.
    """
    for module, name, service in _LIBRARY_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return f"{getattr(exc, 'heatdeploy_service', service)}: {exc}"
    return None
