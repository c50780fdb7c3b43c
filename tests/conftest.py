"""Settings every test of heatdeploy's suite shares."""

from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # A test run started in the background by a shell without job control (as CI systems and `cmd &`
    # in scripts do) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt, nor do
    # the heatdeploy commands the tests start: the Ctrl-C tests would test nothing. Ctrl-C is what they
    # are about, so the run takes it back (its children then start with it, too).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
