"""The error every deliberate heatdeploy failure derives from, and the exit statuses it maps to.

A :class:`HeatdeployError` says what failed and why in one line (plus, for
some errors, indented details), never a traceback. The command line catches
it in one place and exits with its :attr:`~HeatdeployError.exit_status`:
failures exit 1, bad input exits 2.
"""

from __future__ import annotations

import enum


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
