"""The command line's job binary commands: ``heatdeploy binary upload``.

Like the lifecycle commands, these import the cloud libraries (keystoneauth,
swiftclient) only when they run, so ``validate`` and ``render`` stay quick.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any, TextIO

from heatdeploy.cli.options import cloud_for, cloud_options, command, format_option
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import BINARY
from heatdeploy.errors import ExitStatus, UsageError

_BAR_WIDTH = 30
_JSON_EVERY = 1.0
"""Seconds between JSON progress events: enough for CI logs, few enough not to flood them."""


class UploadProgress:
    """Shows upload progress: a bar redrawn in place in a terminal, timed JSON events otherwise."""

    def __init__(self, progress: Progress, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress = progress
        self.name = name
        self.clock = clock
        self._last_event = float("-inf")
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if self.progress.json:
            now = self.clock()
            if done >= total or now - self._last_event >= _JSON_EVERY:
                self._last_event = now
                self.progress.emit({"event": "upload_progress", "file": self.name, "done": done, "total": total})
        elif self.progress.live:
            self._draw(self.progress.err, done, total)

    def _draw(self, err: TextIO, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        mib = 1024 * 1024
        err.write(f"\r{self.name} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] "
                  f"{fraction:4.0%} {done / mib:.1f}/{total / mib:.1f} MiB\033[K")
        err.flush()
        self._drawn = True

    def finish(self) -> None:
        """End the bar's line, so that what follows starts on a line of its own."""
        if self._drawn:
            self.progress.err.write("\n")
            self.progress.err.flush()
            self._drawn = False


def cmd_upload(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.cloud.binaries import upload

    if not os.path.isfile(args.file):
        raise UsageError(f"{args.file}: no such file")
    bar = UploadProgress(progress, args.file)
    try:
        cloud = cloud_for(args)
        ref = upload(cloud.session, args.file, args.container, segment_size=args.segment_size * 1024 * 1024,
                     threads=args.threads, region=cloud.region, on_progress=bar)
    finally:
        bar.finish()
    state = "uploaded" if ref.uploaded else "already present"
    progress.result(ref.to_dict(), f"{ref.url} ({state}, {ref.size} bytes)")
    return ExitStatus.OK


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def add_commands(sub: Any) -> None:
    from heatdeploy.cloud.binaries import DEFAULT_CONTAINER, DEFAULT_SEGMENT_MIB, DEFAULT_THREADS

    group = sub.add_parser("binary", help="job binaries in Swift", description="job binaries in Swift")
    binary_sub = group.add_subparsers(dest="binary_command", metavar="COMMAND", required=True)
    p = command(binary_sub, "upload", cmd_upload,
                "upload a job binary to Swift (once per content) and print its swift:// reference",
                "heatdeploy binary upload build/wordcount.jar --os-cloud heatdeploy-local",
                "interrupted: run the same command again to upload the file")
    p.add_argument("file", metavar="FILE", help="the file to upload")
    p.add_argument("--container", default=DEFAULT_CONTAINER,
                   help=f"Swift container (default: {DEFAULT_CONTAINER})")
    p.add_argument("--segment-size", type=_positive, default=DEFAULT_SEGMENT_MIB, metavar="MIB",
                   help=f"files larger than this go up as a segmented SLO (default: {DEFAULT_SEGMENT_MIB})")
    p.add_argument("--threads", type=_positive, default=DEFAULT_THREADS,
                   help=f"segments sent at once (default: {DEFAULT_THREADS})")
    cloud_options(p, trustee=False)
    format_option(p, BINARY)
