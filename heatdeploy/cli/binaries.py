"""The command line's job binary commands: ``heatdeploy binary upload|list|delete|prune``.

Like the lifecycle commands, these import the cloud libraries (keystoneauth,
swiftclient) only when they run, so ``validate`` and ``render`` stay quick.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from collections.abc import Callable
from typing import Any, TextIO

from heatdeploy.cli.options import cloud_for, cloud_options, command, format_option, positive_int
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import BINARIES, BINARY, PRUNED
from heatdeploy.errors import ExitStatus, UsageError
from heatdeploy.events import Event

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


def _in_use(session: Any, region: str | None) -> set[str]:
    """The binaries of recorded jobs that have not ended: never deleted."""
    from heatdeploy.cloud.records import Records
    from heatdeploy.plugin.jobs import FINAL

    return {job.binary for job in Records(session, region).list_jobs() if job.state not in FINAL}


def _table(binaries: list[Any]) -> str:
    return "\n".join(f"{b.url}  {b.size} bytes  {b.to_dict()['modified']}" for b in binaries)


def cmd_list(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.cloud.binary_catalog import list_binaries

    cloud = cloud_for(args)
    found = list_binaries(cloud.session, args.container, cloud.region)
    progress.result({"binaries": [b.to_dict() for b in found]}, _table(found) or f"no binaries in {args.container}")
    return ExitStatus.OK


def cmd_delete(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.cloud.binary_catalog import delete_binary

    cloud = cloud_for(args)
    delete_binary(cloud.session, args.url, _in_use(cloud.session, cloud.region), cloud.region)
    progress.result({"deleted": [args.url]}, f"{args.url} deleted")
    return ExitStatus.OK


def cmd_prune(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.cloud.binary_catalog import delete_binary, list_binaries, stale

    cloud = cloud_for(args)
    in_use = _in_use(cloud.session, cloud.region)
    doomed = stale(list_binaries(cloud.session, args.container, cloud.region), args.older_than, in_use)
    if not args.dry_run:
        for binary in doomed:
            progress(Event("phase", message=f"deleting {binary.url}"))
            delete_binary(cloud.session, binary.url, in_use, cloud.region)
    verb = "would delete" if args.dry_run else "deleted"
    text = f"{verb} {len(doomed)} binar{'y' if len(doomed) == 1 else 'ies'}" + "".join(
        f"\n  {b.url}" for b in doomed)
    progress.result({"deleted" if not args.dry_run else "would_delete": [b.url for b in doomed]}, text)
    return ExitStatus.OK


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(value: str) -> datetime.timedelta:
    """``30d``, ``12h``, ``90m``, ``3600s`` or plain seconds."""
    number, unit = (value[:-1], value[-1]) if value[-1:] in _UNITS else (value, "s")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"expected a duration such as 30d, 12h, 90m or 3600s, got {value!r}")
    return datetime.timedelta(seconds=int(number) * _UNITS[unit])


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
    p.add_argument("--segment-size", type=positive_int, default=DEFAULT_SEGMENT_MIB, metavar="MIB",
                   help=f"files larger than this go up as a segmented SLO (default: {DEFAULT_SEGMENT_MIB})")
    p.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS,
                   help=f"segments sent at once (default: {DEFAULT_THREADS})")
    cloud_options(p, trustee=False)
    format_option(p, BINARY)

    p = command(binary_sub, "list", cmd_list, "list the binaries heatdeploy uploaded, with size and upload time",
                "heatdeploy binary list --os-cloud heatdeploy-local")
    _container_option(p)
    cloud_options(p, trustee=False)
    format_option(p, BINARIES)

    p = command(binary_sub, "delete", cmd_delete,
                "delete a binary (and its segments); refused while a recorded job that has not ended uses it",
                "heatdeploy binary delete swift://heatdeploy-binaries/sha256/ab12.../wordcount.py")
    p.add_argument("url", metavar="swift://C/O", help="the binary's reference, as binary upload or list printed it")
    cloud_options(p, trustee=False)
    format_option(p)

    p = command(binary_sub, "prune", cmd_prune,
                "delete the binaries uploaded longer ago than --older-than, except those of jobs that have "
                "not ended (a cluster's delete keeps binaries: other clusters' jobs may share them)",
                "heatdeploy binary prune --older-than 30d --dry-run")
    p.add_argument("--older-than", type=_duration, required=True, metavar="AGE",
                   help="how old a binary must be to go: 30d, 12h, 90m, 3600s")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    _container_option(p)
    cloud_options(p, trustee=False)
    format_option(p, PRUNED)


def _container_option(parser: argparse.ArgumentParser) -> None:
    from heatdeploy.cloud.binaries import DEFAULT_CONTAINER

    parser.add_argument("--container", default=DEFAULT_CONTAINER,
                        help=f"Swift container (default: {DEFAULT_CONTAINER})")
