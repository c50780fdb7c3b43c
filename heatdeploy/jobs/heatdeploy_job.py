"""Read a job's Swift inputs and write its outputs from the executors, in parallel: ``import heatdeploy_job``.

heatdeploy ships this module with every job (beside the job's program, on
``PYTHONPATH``, and with ``--py-files`` for PySpark) and writes the job's data
manifest next to it. It needs nothing but the standard library (and PySpark
for the Spark helpers), and no credentials: the manifest holds temp URLs
that allow reading the job's inputs and writing under its outputs' prefixes
until the job's deadline.

In a PySpark program::

    import heatdeploy_job
    lines = heatdeploy_job.read_text(spark)            # the input, as an RDD of lines
    counts = lines.flatMap(str.split).map(lambda w: f"{w}\\t1")
    heatdeploy_job.write_text(counts, "counts")         # output "counts": one object per partition

An input is split by object, and an object larger than ``split_bytes`` by
byte ranges (HTTP ``Range`` requests); a line belongs to the split its first
byte is in, so each line is read once and each byte is fetched about once.
Outputs are written as ``part-NNNNN`` objects, one per partition, by the
executors that computed them, then ``_SUCCESS`` last, by the driver.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar

MANIFEST_VARIABLE = "HEATDEPLOY_JOB_MANIFEST"
DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024
"""An HDFS block's size: a split of this size keeps an executor busy for seconds, not hours."""
TAIL_BYTES = 1024
"""Bytes first fetched past a split's end to finish its last line, doubled each time the line goes on:
the next split fetches these bytes too, so a typical line's length, not a block, is the right size."""
SUCCESS = "_SUCCESS"
T = TypeVar("T")
_ATTEMPTS = 4

Fetch = Callable[[str, int, int, int], bytes]
"""``fetch(url, first, last, size)``: bytes ``first`` to ``last`` (inclusive) of an object of ``size`` bytes."""


@dataclass(frozen=True)
class Split:
    """Bytes ``[start, end)`` of one object of an input: the lines that begin there."""

    url: str
    start: int
    end: int
    size: int
    name: str


def manifest(path: str | None = None) -> dict[str, Any]:
    """The job's data manifest (``$HEATDEPLOY_JOB_MANIFEST``): its inputs' objects and outputs' URLs."""
    path = path or os.environ.get(MANIFEST_VARIABLE)
    if not path:
        raise RuntimeError(f"${MANIFEST_VARIABLE} is not set: this program runs outside a heatdeploy job")
    with open(path, encoding="utf-8") as source:
        data: dict[str, Any] = json.load(source)
    return data


def _entry(kind: str, name: str, data: dict[str, Any] | None) -> dict[str, Any]:
    entries = (data if data is not None else manifest())[kind]
    if name not in entries:
        known = ", ".join(repr(n) for n in sorted(entries)) or "none"
        raise KeyError(f"the job has no {kind[:-1]} {name!r} read from Swift (it has: {known})")
    entry: dict[str, Any] = entries[name]
    return entry


def splits(name: str = "", split_bytes: int = DEFAULT_SPLIT_BYTES,
           data: dict[str, Any] | None = None) -> list[Split]:
    """Input ``name`` cut into splits of at most ``split_bytes``; empty objects make none."""
    if split_bytes < 1:
        raise ValueError(f"split_bytes must be positive, not {split_bytes}")
    result = []
    for obj in _entry("inputs", name, data)["objects"]:
        size = int(obj["size"])
        for start in range(0, size, split_bytes):
            result.append(Split(obj["url"], start, min(start + split_bytes, size), size, obj["name"]))
    return result


class ChangedError(RuntimeError):
    """An input object is not the size it was listed with when the job started: it changed under the job."""


def http_fetch(url: str, first: int, last: int, size: int) -> bytes:
    """Bytes ``first``..``last`` of the object at ``url`` (a temp URL) of ``size`` bytes, retried on
    transient failures; :class:`ChangedError` when the object is no longer ``size`` bytes long."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={first}-{last}"})

    def fetch() -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                total = response.headers.get("Content-Range", "").rpartition("/")[2]
                body: bytes = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # the object shrank below where this split starts
                raise ChangedError(f"{_path(url)} is shorter than the {size} bytes it was when the job started")\
                    from None
            raise
        if response.status == 200:  # a server that ignores Range sends everything
            total, body = str(len(body)), body[first:last + 1]
        if total.isdigit() and int(total) != size:
            raise ChangedError(f"{_path(url)} is {total} bytes, not the {size} it was when the job started")
        return body

    return _retried(fetch)


def _retried(call: Callable[[], T]) -> T:
    """``call()``, again after a server error (5xx) or a failed connection, up to :data:`_ATTEMPTS` times."""
    for attempt in range(_ATTEMPTS):
        try:
            return call()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == _ATTEMPTS - 1:
                raise
        except (urllib.error.URLError, OSError):
            if attempt == _ATTEMPTS - 1:
                raise
        time.sleep(0.5 * 2 ** attempt)  # a server that is overloaded needs time, not more requests
    raise AssertionError("unreachable")


def _path(url: str) -> str:
    """A temp URL without its signature, to name the object in an error."""
    return urllib.parse.unquote(url.partition("?")[0])


def read_split(split: Split, fetch: Fetch = http_fetch) -> Iterator[str]:
    """The lines that begin in ``split``, without their line ends (``\\n`` or ``\\r\\n``), as text.

    The byte before the split is fetched too: when it is a line end, the
    split starts with a whole line; otherwise its first line belongs to the
    split before. The last line is followed past the split's end, a little
    at a time, to its end.
    """
    first = split.start - 1 if split.start > 0 else 0
    data = fetch(split.url, first, split.end - 1, split.size)
    if split.start > 0:
        cut = data.find(b"\n")
        if cut < 0 or first + cut + 1 >= split.end:  # the line running through this split began before it
            return
        data = data[cut + 1:]
    if data and not data.endswith(b"\n"):
        data += _rest_of_line(split, fetch)
    for line in _lines(data):
        yield line.decode("utf-8", errors="replace")


def _rest_of_line(split: Split, fetch: Fetch) -> bytes:
    """The bytes after ``split`` up to and including the first line end (or the object's end)."""
    rest, position, step = b"", split.end, TAIL_BYTES
    while position < split.size:
        more = fetch(split.url, position, min(position + step, split.size) - 1, split.size)
        if not more:
            break
        cut = more.find(b"\n")
        if cut >= 0:
            return rest + more[:cut + 1]
        rest, position, step = rest + more, position + len(more), min(step * 2, 1024 * 1024)
    return rest


def _lines(data: bytes) -> list[bytes]:
    """Lines split at ``\\n`` only (``splitlines`` would also cut at a lone ``\\r``), ``\\r\\n`` stripped."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # what follows the last line end
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def read_text(spark: Any, name: str = "", split_bytes: int = DEFAULT_SPLIT_BYTES) -> Any:
    """Input ``name`` as an RDD of lines, each split read by the executor that processes it.

    ``spark`` is a SparkSession or a SparkContext.
    """
    context = getattr(spark, "sparkContext", spark)
    parts = splits(name, split_bytes)
    return context.parallelize(parts, max(len(parts), 1)).flatMap(read_split)


def output_url(name: str, relative: str, data: dict[str, Any] | None = None) -> str:
    """The temp URL that writes object ``relative`` under output ``name``'s prefix."""
    entry = _entry("outputs", name, data)
    return f"{entry['url']}{urllib.parse.quote(relative)}?{entry['query']}"


def put(url: str, body: IO[bytes], size: int) -> None:
    """PUT ``size`` bytes of ``body`` (a seekable file) at ``url``, retried on transient failures."""

    def send() -> None:
        body.seek(0)  # a retry sends the whole body again
        request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Length": str(size)})
        with urllib.request.urlopen(request, timeout=300):
            pass

    _retried(send)


def write_lines(url: str, lines: Iterable[Any]) -> int:
    """Write ``lines`` (each followed by ``\\n``) as the object at ``url``; returns its size.

    The object is spooled to a local file first: Swift needs its length
    before the body, and a retry must send it again.
    """
    with tempfile.TemporaryFile() as spool:
        for line in lines:
            spool.write(str(line).encode("utf-8") + b"\n")
        size = spool.tell()
        put(url, spool, size)
    return size


def part_name(index: int) -> str:
    """The object name of partition ``index`` under an output's prefix, as Hadoop names them."""
    return f"part-{index:05d}"


def write_text(rdd: Any, name: str = "") -> int:
    """Write ``rdd`` to output ``name``: each partition as ``part-NNNNN`` by its executor, then ``_SUCCESS``.

    Returns the number of partitions written.
    """
    data = manifest()
    entry = _entry("outputs", name, data)

    def write_partition(index: int, lines: Iterator[Any]) -> Iterator[int]:
        yield write_lines(output_url(name, part_name(index), {"outputs": {name: entry}}), lines)

    written = rdd.mapPartitionsWithIndex(write_partition).count()
    write_success(name, data)
    return int(written)


def write_success(name: str = "", data: dict[str, Any] | None = None) -> None:
    """Write output ``name``'s ``_SUCCESS`` marker: every part is in place."""
    write_lines(output_url(name, SUCCESS, data), [])
