"""One operation at a time per cluster, across machines, with nothing but the project's Swift.

The lock is an object created with ``If-None-Match: *``, so only one
controller can create it; it names the holder, the operation and when it
expires, and the holder renews it while the operation runs. A lock whose
expiry has passed (its holder died) is taken over; ``break_lock`` takes
over any. A second operation fails at once with one line naming the holder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from heatdeploy.cloud import REQUEST_TIMEOUT
from heatdeploy.errors import HeatdeployError

TTL_SECONDS = 600.0
"""How long a lock lives without renewal: long enough for a slow Swift, short enough to recover a dead holder."""


class LockStore(Protocol):
    """Where locks live: the project's records container."""

    settle_seconds: float
    """The longest two creations racing each other may both seem to succeed: after it, a read tells who won."""

    def create_lock(self, name: str, body: bytes) -> bool:
        """Create cluster ``name``'s lock unless it exists; ``False`` when it does."""

    def read_lock(self, name: str) -> bytes | None:
        """The lock's content, if there is one."""

    def lock_age(self, name: str) -> float | None:
        """Seconds since the lock was last written, by the store's own clock; ``None`` when unknown."""

    def write_lock(self, name: str, body: bytes) -> None:
        """Replace the lock's content (renewal)."""

    def delete_lock(self, name: str) -> None:
        """Remove the lock; no error when it is gone already."""


class ClusterBusy(HeatdeployError):
    """Another operation holds the cluster's lock."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds a cluster's lock, doing what, since and until when (seconds since the epoch)."""

    holder: str
    operation: str
    since: float
    expires: float
    token: str = ""
    """Random, per acquisition: what tells this lock from another one of the same holder."""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LockInfo | None:
        try:
            raw = json.loads(data)
            return cls(str(raw["holder"]), str(raw["operation"]), float(raw["since"]), float(raw["expires"]),
                       str(raw.get("token", "")))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as expired, so it cannot wedge the cluster

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return f"{self.operation} by {self.holder} since {since}"


def this_holder() -> str:
    """``user@host pid N``: enough to find the process that holds a lock."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class ClusterLock:
    """Cluster ``name``'s lock, held for one operation; a context manager.

    ``store`` gives the store to use at each moment: renewals and release go
    through the cluster's work cloud, which outlives the caller's token.
    """

    def __init__(self, store: Callable[[], LockStore], name: str, operation: str, *, break_lock: bool = False,
                 ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.store, self.name, self.operation = store, name, operation
        self.break_lock, self.ttl, self.clock = break_lock, ttl, clock
        self.info = LockInfo(this_holder(), operation, clock(), clock() + ttl, secrets.token_hex(8))
        self.lost = False
        """Set when a renewal finds the lock someone else's (taken over after it expired, or broken)."""
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`ClusterBusy` naming its holder."""
        store = self.store()
        try:
            self._take(store)
            self._start_renewing()
        except BaseException:
            # Ctrl-C or a failure once the lock may be ours: leave none behind for ten minutes.
            with contextlib.suppress(Exception):
                if self._ours(self._current(store)):
                    store.delete_lock(self.name)
            raise

    def _take(self, store: LockStore) -> None:
        if self._create(store):
            return
        current = self._current(store)
        expired = current is None or self._expired(store, current)
        if not (expired or self.break_lock):
            assert current is not None
            raise ClusterBusy(f"cluster {self.name} is busy: {current.describe()}; try again when it is done, "
                              f"or pass --break-lock if that process is gone (the lock expires by itself at "
                              f"{time.strftime('%H:%M:%S UTC', time.gmtime(current.expires))})")
        # Taken over: its holder is gone, or we were told to. Only the lock judged, never a newer one.
        again = self._current(store)
        if again != current:
            raise ClusterBusy(f"cluster {self.name} is busy: {again.describe() if again else 'just released'}")
        store.delete_lock(self.name)
        if not self._create(store):
            winner = self._current(store)
            raise ClusterBusy(f"cluster {self.name} is busy: {winner.describe() if winner else 'just taken'}")

    def _create(self, store: LockStore) -> bool:
        """Create the lock; ``True`` once it is certainly ours.

        Swift's ``If-None-Match: *`` refuses a creation once the object
        exists, but two creations in flight at the same moment can both
        pass; the later one's content is what remains. So a creation that
        passed waits for any other to land, then reads back whose it is.
        """
        started = time.monotonic()
        created = store.create_lock(self.name, self.info.to_json())
        if created and store.settle_seconds > 0:
            # A rival's creation in flight lands about as fast as ours did: wait three times as long,
            # at least 50 ms, at most the store's bound.
            time.sleep(min(store.settle_seconds, max(0.05, 3 * (time.monotonic() - started))))
        # Ours also when a retried creation met the one that had gone through.
        return self._ours(self._current(store))

    def _expired(self, store: LockStore, current: LockInfo) -> bool:
        """Whether ``current`` went unrenewed for longer than its lifetime.

        Judged by the store's clock when it tells the lock's age: the
        holder's clock and ours may disagree by more than the lifetime.
        """
        age = store.lock_age(self.name)
        if age is not None:
            return age > self.ttl
        return current.expires < self.clock()

    def _current(self, store: LockStore) -> LockInfo | None:
        data = store.read_lock(self.name)
        return LockInfo.from_json(data) if data is not None else None

    def _ours(self, current: LockInfo | None) -> bool:
        return current is not None and current.token == self.info.token

    def _start_renewing(self) -> None:
        self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.name}", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                store = self.store()
                if not self._ours(self._current(store)):
                    self.lost = True  # never written over the lock of whoever holds it now
                    return
                self.info = dataclasses.replace(self.info, expires=self.clock() + self.ttl)
                store.write_lock(self.name, self.info.to_json())
            except Exception:  # noqa: BLE001 - a missed renewal is retried; the lock has time left
                continue

    def check(self) -> None:
        """Raise :class:`ClusterBusy` if the lock was lost: the operation must not go on."""
        if self.lost:
            raise ClusterBusy(f"cluster {self.name}: this {self.operation} lost its lock (it expired and was "
                              "taken over, or was broken with --break-lock); stopping")

    def release(self) -> None:
        """Stop renewing and remove the lock, if it is still ours."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=REQUEST_TIMEOUT)
        store = self.store()
        if self._ours(self._current(store)):
            store.delete_lock(self.name)

    def __enter__(self) -> ClusterLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
