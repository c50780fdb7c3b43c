"""Holding Ctrl-C and TERM for the few steps that must not be cut in half."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Delay SIGINT and SIGTERM until the block ends, then deliver them as if they came then.

    A second signal during the block is delivered at once: the way out of a
    call that hangs.

    For a cloud call and the record of what it made (a trust and its id):
    an interruption between the two would leave something nothing knows of.
    Outside the main thread, where signal handlers cannot change, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if received:  # a second one: whoever sends it means it now
            received.clear()
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, frame)
                return
            signal.signal(signum, handler or signal.SIG_DFL)
            signal.raise_signal(signum)
        received.append(signum)

    previous = {number: signal.signal(number, hold) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            signal.raise_signal(received[0])
