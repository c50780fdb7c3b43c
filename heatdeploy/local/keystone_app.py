"""WSGI entry point for Keystone under gunicorn.

Keystone's option parser reads sys.argv and dies on gunicorn's arguments, so
they are hidden before the app is built. The config file comes from
OS_KEYSTONE_CONFIG_FILES, set by heatdeploy.local.keystone.
"""

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

sys.argv = sys.argv[:1]

from keystone.server.wsgi import initialize_public_application  # noqa: E402

_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES = threading.Lock()


def _serialize_writes(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """One writing request at a time: SQLite answers "database is locked" when
    two transactions both try to turn a read lock into a write lock (Heat
    deletes stack users in parallel), and no busy timeout cures that."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") in _READ_ONLY:
            return app(environ, start_response)
        with _WRITES:
            # Materialise the body inside the lock: the work happens while iterating.
            return list(app(environ, start_response))

    return wrapped


application = _serialize_writes(initialize_public_application())
