"""The driver log: its shipper, run by sh with the real curl against a real HTTP server on loopback, and
its reading back, byte for byte."""

from __future__ import annotations

import base64
import http.server
import os
import shlex
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from heatdeploy.jobs import data
from heatdeploy.jobs.history import CONFIG, SHIP_SCRIPT, STOP_SCRIPT
from heatdeploy.plugin.job_process import LOG_SCRIPT
from heatdeploy.plugin.jobs import JobRecord


class _Store(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # answers curl's "Expect: 100-continue" at once, as Swift does
    received: dict[str, list[bytes]]

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.setdefault(self.path, []).append(body)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class ShipperTest(unittest.TestCase):
    def setUp(self) -> None:
        self.received: dict[str, list[bytes]] = {}
        handler = type("Handler", (_Store,), {"received": self.received})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.folder = Path(self.enterContext(tempfile.TemporaryDirectory()))
        base = f"http://127.0.0.1:{self.server.server_address[1]}/v1/AUTH_x/heatdeploy/jobs/j/log/"
        (self.folder / "log.conf").write_text(f"export HEATDEPLOY_LOG_URL={shlex.quote(base)}\n"
                                              "export HEATDEPLOY_LOG_QUERY='temp_url_sig=s&temp_url_expires=9'\n")

    def ship(self, deadline: float, chunk: int = 10) -> None:
        subprocess.run(["sh", "-c", SHIP_SCRIPT, "ship", str(self.folder), str(int(deadline)), str(chunk)],
                       check=True, timeout=30, capture_output=True)

    def test_an_ended_drivers_log_is_sent_in_chunks_named_by_offset(self) -> None:
        (self.folder / "driver.log").write_bytes(b"0123456789abcdefghijXYZ")
        (self.folder / "exit_status").write_text("0\n")
        self.ship(deadline=time.time() + 60)
        prefix = "/v1/AUTH_x/heatdeploy/jobs/j/log/"
        query = "?temp_url_sig=s&temp_url_expires=9"
        self.assertEqual(self.received, {f"{prefix}{0:016d}{query}": [b"0123456789"],
                                         f"{prefix}{10:016d}{query}": [b"abcdefghij"],
                                         f"{prefix}{20:016d}{query}": [b"XYZ"]})
        self.assertFalse((self.folder / "log.part").exists())

    def test_a_running_drivers_growing_chunk_is_sent_until_the_deadline(self) -> None:
        (self.folder / "driver.log").write_bytes(b"start\n")
        (self.folder / "pid").write_text(f"{os.getpid()}\n")  # alive: only the deadline ends the shipper
        self.ship(deadline=time.time())
        self.assertEqual(list(self.received.values()), [[b"start\n"]])

    def test_no_log_yet_sends_nothing(self) -> None:
        (self.folder / "exit_status").write_text("1\n")
        self.ship(deadline=time.time() + 60)
        self.assertEqual(self.received, {})



class StopTest(unittest.TestCase):
    def test_stopping_removes_every_file_that_holds_a_temp_url_and_nothing_else(self) -> None:
        folder = Path(self.enterContext(tempfile.TemporaryDirectory()))
        job = JobRecord(id="j", cluster="c", type="shell", binary="swift://b/p",
                        inputs={"": "swift://d/a/", "books": "swift://d/b/"})
        secrets = [CONFIG, *data.secret_files(job), "log.part"]
        for name in [*secrets, "driver.log", "exit_status", "heatdeploy_job.py"]:
            (folder / name).write_text("x")
        subprocess.run(["sh", "-c", STOP_SCRIPT, "stop", str(folder), CONFIG, *data.secret_files(job)],
                       check=True, timeout=10)
        self.assertEqual(sorted(p.name for p in folder.iterdir()), ["driver.log", "exit_status", "heatdeploy_job.py"])
        self.assertEqual(sorted(secrets), sorted(["log.conf", "heatdeploy_job.json", "job.env", "input.urls",
                                                  "input.books.urls", "log.part"]))


class LogReadTest(unittest.TestCase):
    def test_the_log_comes_back_byte_for_byte_from_any_offset(self) -> None:
        folder = Path(self.enterContext(tempfile.TemporaryDirectory()))
        log = "é".encode() * 10 + b"\xff\xfe not UTF-8\n"
        (folder / "driver.log").write_bytes(log)
        for offset in (0, 1, 3, len(log) - 1, len(log), len(log) + 5):
            with self.subTest(offset=offset):
                done = subprocess.run(["sh", "-c", LOG_SCRIPT, "logs", str(offset + 1), str(folder / "driver.log")],
                                      capture_output=True, text=True, check=True, timeout=10)
                self.assertEqual(base64.b64decode(done.stdout), log[offset:])

    def test_no_log_yet_is_empty(self) -> None:
        done = subprocess.run(["sh", "-c", LOG_SCRIPT, "logs", "1", "/nonexistent/driver.log"],
                              capture_output=True, text=True, check=True, timeout=10)
        self.assertEqual(base64.b64decode(done.stdout), b"")


if __name__ == "__main__":
    unittest.main()
