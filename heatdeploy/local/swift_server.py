"""Run one Swift server without syslog (python -m heatdeploy.local.swift_server KIND CONF).

Without /dev/log, Swift falls back to syslog over UDP, which leaves a socket
bound to 0.0.0.0 in every server. The local cloud binds to loopback only and
logs to stderr (Swift's --verbose), so the syslog handler is replaced by a
handler that drops records.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

MODULES = {"account": "swift.account.server", "container": "swift.container.server",
           "object": "swift.obj.server", "proxy": "swift.proxy.server"}


class _NoSyslog(logging.NullHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()


def main() -> int:
    kind, conf = sys.argv[1], sys.argv[2]
    from swift.common.utils import logs

    logs.ThreadSafeSysLogHandler = _NoSyslog
    server = importlib.import_module(MODULES[kind])
    sys.argv = [f"swift-{kind}-server", conf, "--verbose"]
    return int(server.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
