"""Heat API and engine in one process (run as `python -m heatdeploy.local.heat_server`).

Heat 27 ships no heat-all: the engine runs on oslo.service's threading
backend, the API talks to it over oslo.messaging's in-process `fake://`
transport, and a threaded WSGI server serves the API's paste app. The
engine's threads are not daemons, so any fatal error and SIGTERM end the
process with os._exit: nothing else would stop it.
"""

from __future__ import annotations

import logging as std_logging
import os
import signal
import socketserver
import sys
import traceback
from typing import Any
from wsgiref import simple_server

from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        std_logging.getLogger("heat.local.access").debug(format, *args)


def forget_finished_threads(engine: Any) -> None:
    """Make the engine's per-stack thread groups drop threads that have finished.

    Since Heat 25 (its move to the threading backend) ``ThreadGroup.add_thread``
    in heat/engine/service.py appends every thread to the stack's group and
    nothing ever removes it, while the group refuses a thread once it holds
    ``max_threads`` (1000). Every resource event starts one (event sinks are
    dispatched in a thread even when none is configured), so a stack whose
    resources have had 1000 events since the engine started can no longer
    record one: "Maximum number of threads reached", and the operation stays
    IN_PROGRESS. A 200-member group's create, scale and delete get there.
    """
    group = engine.ThreadGroup
    if getattr(group.add_thread, "forgets_finished", False):
        return
    add_thread = group.add_thread

    def add_thread_forgetting_finished(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.threads[:] = [thread for thread in self.threads if thread.is_alive()]
        return add_thread(self, func, *args, **kwargs)

    add_thread_forgetting_finished.forgets_finished = True  # type: ignore[attr-defined]
    group.add_thread = add_thread_forgetting_finished


def _exit_now(signum: int, frame: object) -> None:
    os._exit(0)


def main() -> None:
    config_file, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, _exit_now)
    try:
        from heat import version
        from heat.common import config, messaging
        from heat.engine import service as engine  # registers the engine's options
        from heat.rpc import api as rpc_api

        logging.register_options(cfg.CONF)
        cfg.CONF(args=["--config-file", config_file], project="heat", prog="heat-engine",
                 version=version.version_info.version_string())
        logging.setup(cfg.CONF, "heat")
        messaging.setup()
        config.startup_sanity_check()
        forget_finished_threads(engine)
        engine.EngineService(cfg.CONF.host, rpc_api.ENGINE_TOPIC).start()
        app = config.load_paste_app("heat-api")
        server = simple_server.make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
        print(f"heat listening on {host}:{port}", flush=True)
        server.serve_forever()
    except BaseException:  # noqa: BLE001 - any failure must end the whole process
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
