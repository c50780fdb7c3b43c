"""Job binaries in Swift: content-addressed, uploaded once, segmented when large.

A binary (a jar, a Python file, an archive) is stored in the project's
container ``heatdeploy-binaries`` under ``sha256/<hex digest>/<file name>``,
and referred to as ``swift://<container>/<object>``. The name says what the
content is, so uploading an unchanged file again costs one HEAD request and
no data, and a reference, once handed out, always means the same bytes.

Large files go up as Static Large Objects through python-swiftclient's own
segmented upload (``SwiftService.upload``), which sends segments in parallel
and verifies each one's MD5; heatdeploy only names, hashes and checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heatdeploy.cloud import object_store
from heatdeploy.errors import HeatdeployError
from heatdeploy.user_dirs import xdg_home

if TYPE_CHECKING:
    from keystoneauth1 import session as ks_session
    from swiftclient import client as swift_client
    from swiftclient.service import SwiftService

# swiftclient is imported where it is used: the command line reads this module's
# defaults, and parse_swift_url serves spec checks, without paying for it.

DEFAULT_CONTAINER = "heatdeploy-binaries"
MiB = 1024 * 1024
DEFAULT_SEGMENT_MIB = 64
DEFAULT_SEGMENT_SIZE = DEFAULT_SEGMENT_MIB * MiB
DEFAULT_THREADS = 10
"""Segments sent at once: the ``swift`` command line's default."""
HASH_CHUNK = MiB
SCHEME = "swift://"
SHA256_META = "X-Object-Meta-Sha256"
_RETRIES = 5
RACY_SECONDS = 2.0
"""A file modified this close to its hashing may change again within the same timestamp: not remembered."""
CACHE_ENTRIES = 1000

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes uploaded so far, total bytes)."""


class BinaryError(HeatdeployError):
    """A binary could not be uploaded, or a reference is malformed; the message says why."""


@dataclass(frozen=True)
class BinaryRef:
    """Where a binary lives in Swift, and what it is."""

    container: str
    name: str
    size: int
    sha256: str
    uploaded: bool
    """False when the object was already there and nothing was sent."""

    @property
    def url(self) -> str:
        return swift_url(self.container, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "container": self.container, "object": self.name, "size": self.size,
                "sha256": self.sha256, "uploaded": self.uploaded}


def swift_url(container: str, name: str) -> str:
    """``swift://container/name``; names are kept literally (no percent-encoding)."""
    return f"{SCHEME}{container}/{name}"


def parse_swift_url(url: str) -> tuple[str, str]:
    """``swift://container/path/to/object`` as ``(container, "path/to/object")``."""
    if not url.startswith(SCHEME):
        raise BinaryError(f"not a Swift reference: {url!r} (expected swift://CONTAINER/OBJECT)")
    container, slash, name = url[len(SCHEME):].partition("/")
    if not container:
        raise BinaryError(f"no container in {url!r} (expected swift://CONTAINER/OBJECT)")
    if not slash or not name:
        raise BinaryError(f"no object in {url!r} (expected swift://CONTAINER/OBJECT)")
    if "//" in name or name.startswith("/"):
        raise BinaryError(f"empty path segment in {url!r}")
    return container, name


def sha256_file(path: str | Path, chunk_size: int = HASH_CHUNK) -> str:
    """The file's SHA-256, read in chunks so that memory stays flat whatever its size."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def object_name(sha256: str, path: str | Path) -> str:
    """``sha256/<digest>/<file name>``: the digest makes the name, the file name keeps it readable."""
    filename = Path(path).name
    if not filename:
        raise BinaryError(f"{path}: not a file name")
    return f"sha256/{sha256}/{filename}"


@dataclass(frozen=True)
class FileState:
    """What identifies a file's content without reading it: any write changes one of these."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class DigestCache:
    """SHA-256 digests of local files, remembered by path and :class:`FileState`.

    Hashing a 1 GiB file takes most of a second; with its digest remembered,
    an unchanged re-upload is one HEAD request. Like git's index, a digest
    taken less than ``RACY_SECONDS`` after the file's last change is not
    remembered, since a same-sized write in the same timestamp tick would go
    unseen. Upload decisions only ever skip on a remembered digest: bytes are
    sent under a freshly computed one. Any error reading or writing the cache
    file just means hashing again.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def default(cls) -> DigestCache:
        """``$XDG_CACHE_HOME/heatdeploy/sha256.json`` (default ``~/.cache``)."""
        return cls(xdg_home("cache") / "heatdeploy" / "sha256.json")

    @classmethod
    def disabled(cls) -> DigestCache:
        return cls(None)

    def _load(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, file: Path, state: FileState) -> str | None:
        entry = self._load().get(str(file.resolve()))
        if not isinstance(entry, dict) or entry.get("state") != asdict(state):
            return None
        digest = entry.get("sha256")
        return digest if isinstance(digest, str) else None

    def put(self, file: Path, state: FileState, digest: str, hashed_at: float) -> None:
        if self.path is None or hashed_at - state.mtime_ns / 1e9 < RACY_SECONDS:
            return
        entries = self._load()
        key = str(file.resolve())
        entries.pop(key, None)
        entries[key] = {"state": asdict(state), "sha256": digest}
        for stale in list(entries)[:max(0, len(entries) - CACHE_ENTRIES)]:
            del entries[stale]
        with contextlib.suppress(OSError):
            self._write(entries)

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside then renamed: a concurrent reader sees the old file or the new one.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".sha256-")
        try:
            with os.fdopen(fd, "w") as stream:
                json.dump(entries, stream)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def file_digest(path: Path, state: FileState, cache: DigestCache) -> str:
    """Hash ``path`` and remember the digest in ``cache``."""
    started = time.time()
    digest = sha256_file(path)
    cache.put(path, state, digest, started)
    return digest


def _connection(session: ks_session.Session, region: str | None) -> swift_client.Connection:
    return object_store.connection(session, region, retries=_RETRIES)


def _service(session: ks_session.Session, region: str | None, threads: int) -> SwiftService:
    """A SwiftService whose connections come from a keystoneauth session.

    SwiftService (python-swiftclient 4.x) builds each worker's connection from
    its own credential options and has no session option, so its thread
    manager is replaced by one around a session-based connection factory
    (before any thread starts): segmentation, parallelism and checksums stay
    swiftclient's.
    """
    from swiftclient.multithreading import MultiThreadingManager
    from swiftclient.service import SwiftService

    service = SwiftService({"segment_threads": threads, "object_uu_threads": 1, "container_threads": 2})
    service.thread_manager = MultiThreadingManager(
        lambda: _connection(session, region), segment_threads=threads, object_dd_threads=1,
        object_uu_threads=1, container_threads=2)
    return service


def _existing(conn: swift_client.Connection, container: str, name: str) -> dict[str, str] | None:
    """The object's headers (lower-case names), or None when it or its container is missing."""
    from swiftclient.exceptions import ClientException

    try:
        return dict(conn.head_object(container, name))
    except ClientException as exc:
        if exc.http_status == 404:
            return None
        raise BinaryError(f"cannot check {swift_url(container, name)}: {exc}") from None


def _is_complete(headers: dict[str, str], sha256: str, size: int) -> bool:
    # The name alone proves nothing: anything can be stored under it by hand. heatdeploy
    # records the digest as metadata of the very PUT (or SLO manifest) that stores the
    # bytes, so an object carrying it and the right size is one of its own uploads.
    return (headers.get(SHA256_META.lower()) == sha256
            and headers.get("content-length") == str(size))


def _check_results(results: Iterable[dict[str, Any]], total: int, on_progress: ProgressCallback | None) -> None:
    """Drain swiftclient's result stream, reporting progress per segment and raising on failure."""
    done = 0
    for result in results:
        action = result.get("action")
        if not result["success"]:
            # Container creation is best effort in swiftclient too: a missing
            # permission surfaces on the object PUT, with a clearer error.
            if action == "create_container":
                continue
            raise BinaryError(f"{action} failed: {result.get('error')}")
        if action == "upload_segment":
            done += int(result["segment_size"])
            if on_progress is not None:
                on_progress(min(done, total), total)
        elif action == "upload_object" and on_progress is not None:
            on_progress(total, total)


def _skip(headers: dict[str, str] | None, sha256: str, size: int) -> bool:
    return headers is not None and _is_complete(headers, sha256, size)


def upload(session: ks_session.Session, path: str | Path, container: str = DEFAULT_CONTAINER, *,
           segment_size: int = DEFAULT_SEGMENT_SIZE, threads: int = DEFAULT_THREADS, region: str | None = None,
           on_progress: ProgressCallback | None = None, digest_cache: DigestCache | None = None) -> BinaryRef:
    """Upload ``path`` unless the same content is already stored; return its reference.

    Files larger than ``segment_size`` become an SLO whose segments (in
    ``<container>_segments``) go up ``threads`` at a time. ``digest_cache``
    defaults to :meth:`DigestCache.default`.
    """
    source = Path(path)
    if not source.is_file():
        raise BinaryError(f"{source}: no such file")
    if segment_size < 1 or threads < 1:
        raise BinaryError("segment size and threads must be positive")
    if not container or "/" in container:
        raise BinaryError(f"bad container name {container!r}")
    cache = digest_cache if digest_cache is not None else DigestCache.default()
    state = FileState.of(source)
    conn = _connection(session, region)
    remembered = cache.get(source, state)
    sha256 = remembered or file_digest(source, state, cache)
    headers = _existing(conn, container, object_name(sha256, source))
    if remembered is not None and not _skip(headers, sha256, state.size):
        # About to send bytes: name them by what they are now, not by what was remembered.
        sha256 = file_digest(source, state, cache)
        if sha256 != remembered:
            headers = _existing(conn, container, object_name(sha256, source))
    ref = BinaryRef(container, object_name(sha256, source), state.size, sha256, uploaded=False)
    if _skip(headers, sha256, state.size):
        if on_progress is not None:
            on_progress(state.size, state.size)
        return ref
    try:
        _send(session, region, source, ref, segment_size, threads, replacing=headers is not None,
              on_progress=on_progress)
    except BaseException:
        # A failure or Ctrl-C mid-upload: swiftclient finishes what its threads had started (the
        # manifest may be among it), so both go: a half-kept object would pass for a complete one.
        _delete(conn, ref)
        _delete_segments(conn, ref)
        raise
    if FileState.of(source) != state:
        _delete(conn, ref)
        raise BinaryError(f"{source} changed while it was uploaded; nothing was kept, run again")
    return BinaryRef(container, ref.name, ref.size, sha256, uploaded=True)


def _send(session: ks_session.Session, region: str | None, source: Path, ref: BinaryRef, segment_size: int,
          threads: int, *, replacing: bool, on_progress: ProgressCallback | None) -> None:
    """Upload through SwiftService: one PUT, or segments plus an SLO manifest."""
    from swiftclient.service import SwiftUploadObject

    options = {
        # None below the segment size: swiftclient would create <container>_segments for nothing.
        "segment_size": segment_size if ref.size > segment_size else None,
        "use_slo": True,
        "meta": [f"Sha256:{ref.sha256}"],
        "header": ["Content-Type: application/octet-stream"],
        # Nothing there yet: no old segments to clean up, so spare swiftclient's own HEAD.
        "leave_segments": not replacing,
        "checksum": True,
    }
    with _service(session, region, threads) as service:
        results = service.upload(ref.container, [SwiftUploadObject(str(source), object_name=ref.name)], options)
        _check_results(results, ref.size, on_progress)


def _delete_segments(conn: swift_client.Connection, ref: BinaryRef) -> None:
    """Delete the segments an unfinished upload of ``ref`` left (the manifest is written last)."""
    from swiftclient.exceptions import ClientException

    segments = f"{ref.container}_segments"
    with contextlib.suppress(ClientException):
        _, objects = conn.get_container(segments, prefix=f"{ref.name}/", full_listing=True)
        for item in objects:
            conn.delete_object(segments, item["name"])


def _delete(conn: swift_client.Connection, ref: BinaryRef) -> None:
    """Delete an object and, when it is an SLO, its segments; whatever is not there is no error."""
    from swiftclient.exceptions import ClientException

    with contextlib.suppress(ClientException):
        delete_object(conn, ref.container, ref.name)


def delete_object(conn: swift_client.Connection, container: str, name: str) -> None:
    """Delete object ``name`` and, when it is a static large object, its segments.

    ``multipart-manifest=delete`` only for a manifest: on a plain object Swift
    answers 200 and deletes nothing.
    """
    headers = conn.head_object(container, name)
    is_slo = str(headers.get("x-static-large-object", "")).lower() == "true"
    conn.delete_object(container, name, query_string="multipart-manifest=delete" if is_slo else None)
