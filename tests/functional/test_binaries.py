"""Job binaries and temp URLs against the local cloud's Swift (no instances, no stacks)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keystoneauth1 import session as ks_session
from swiftclient import client as swift_client
from swiftclient.exceptions import ClientException

from heatdeploy.cli.main import main
from heatdeploy.cloud import binaries, object_store, tempurls
from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cloud.records import Records
from heatdeploy.local.state import State
from heatdeploy.plugin.jobs import JobRecord
from tests.functional.cloudtools import LocalCloud, poll

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def digest_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Digests are remembered in the test's own folder, not the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def session(local_cloud: LocalCloud) -> ks_session.Session:
    """The demo user's session, loaded the way the command line loads it."""
    return load_cloud("heatdeploy-local").session


@pytest.fixture
def conn(session: ks_session.Session) -> swift_client.Connection:
    return swift_client.Connection(session=session)


@pytest.fixture
def container(conn: swift_client.Connection) -> Iterator[str]:
    """A container name unique to the test; it and its segments container are removed afterwards."""
    name = f"binaries-{uuid.uuid4().hex[:8]}"
    yield name
    for each in (name, f"{name}_segments"):
        try:
            objects = conn.get_container(each, full_listing=True)[1]
        except ClientException as exc:
            if exc.http_status == 404:
                continue
            raise
        for obj in objects:
            conn.delete_object(each, obj["name"])
        conn.delete_container(each)


def _file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def _status(url: str, method: str = "GET", data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def test_upload_then_download_gives_the_same_bytes(session: ks_session.Session, conn: swift_client.Connection,
                                                   container: str, tmp_path: Path) -> None:
    path = _file(tmp_path, "word count.jar", 200_000)
    ref = binaries.upload(session, path, container)
    digest = binaries.sha256_file(path)
    assert ref.uploaded
    assert (ref.container, ref.name, ref.size, ref.sha256) == (container, f"sha256/{digest}/word count.jar",
                                                               200_000, digest)
    assert binaries.parse_swift_url(ref.url) == (container, ref.name)
    headers, body = conn.get_object(container, ref.name)
    assert body == path.read_bytes()
    assert headers["x-object-meta-sha256"] == digest
    assert "x-static-large-object" not in headers


def _client_requests(local_cloud: LocalCloud, offset: int) -> list[tuple[str, str]]:
    """(method, path) of the requests clients sent to the Swift proxy, logged after ``offset`` bytes.

    Access log lines read ``proxy-server: CLIENT_IP REMOTE_ADDR DATE METHOD PATH ...``; the
    proxy's own subrequests (account and container info) have ``-`` as client address.
    """
    with open(local_cloud.state.log("swift-proxy"), "rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    fields = [line.split() for line in lines if line.startswith("proxy-server: ")]
    return [(f[4], f[5]) for f in fields if len(f) > 5 and f[1] != "-" and f[5].startswith("/v1/")]


def test_unchanged_reupload_sends_one_head_and_no_put(local_cloud: LocalCloud, session: ks_session.Session,
                                                      conn: swift_client.Connection, container: str,
                                                      tmp_path: Path) -> None:
    path = _file(tmp_path, "job.py", 50_000)
    first = binaries.upload(session, path, container)
    offset = local_cloud.state.log("swift-proxy").stat().st_size

    again = binaries.upload(session, path, container)

    # The proxy logs every request it serves, whichever connection sent it
    # (SwiftService's worker threads included). A request sent after the
    # upload returned marks where the upload's requests end.
    sentinel = f"sentinel-{uuid.uuid4().hex}"
    with pytest.raises(ClientException):
        conn.head_object(container, sentinel)
    poll(lambda: any(sentinel in p for _, p in _client_requests(local_cloud, offset)), 30,
         "the sentinel request in the proxy log")
    requests = [(m, p) for m, p in _client_requests(local_cloud, offset) if sentinel not in p]
    account = urllib.parse.urlsplit(conn.get_auth()[0]).path
    assert requests == [("HEAD", f"{account}/{container}/{first.name}")]
    assert (again.uploaded, again.url, again.size) == (False, first.url, first.size)


def test_remembered_digest_is_used_to_skip_but_never_to_name_new_bytes(
        session: ks_session.Session, conn: swift_client.Connection, container: str, tmp_path: Path,
        digest_cache_home: Path) -> None:
    path = _file(tmp_path, "job.jar", 30_000)
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    first = binaries.upload(session, path, container)
    assert (digest_cache_home / "heatdeploy" / "sha256.json").exists()
    assert not binaries.upload(session, path, container).uploaded
    conn.delete_object(container, first.name)
    assert binaries.upload(session, path, container).uploaded
    assert conn.get_object(container, first.name)[1] == path.read_bytes()

    # Same size, same mtime, new content: the remembered digest no longer applies.
    path.write_bytes(os.urandom(30_000))
    os.utime(path, (an_hour_ago, an_hour_ago))
    second = binaries.upload(session, path, container)
    assert second.uploaded and second.name != first.name
    assert conn.get_object(container, second.name)[1] == path.read_bytes()


def test_large_file_becomes_an_slo_and_downloads_identically(session: ks_session.Session,
                                                             conn: swift_client.Connection,
                                                             container: str, tmp_path: Path) -> None:
    path = _file(tmp_path, "big.tar.gz", 3 * MiB + 12_345)
    seen: list[tuple[int, int]] = []
    ref = binaries.upload(session, path, container, segment_size=MiB, threads=2,
                          on_progress=lambda done, total: seen.append((done, total)))
    headers = conn.head_object(container, ref.name)
    assert headers["x-static-large-object"].lower() == "true"
    assert headers["x-object-meta-sha256"] == ref.sha256
    assert int(headers["content-length"]) == ref.size
    _, body = conn.get_object(container, ref.name)
    assert body == path.read_bytes()
    segments = conn.get_container(f"{container}_segments")[1]
    assert len(segments) == 4
    assert seen[-1] == (ref.size, ref.size)
    assert len(seen) >= 4 and all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    again = binaries.upload(session, path, container, segment_size=MiB)
    assert not again.uploaded


def test_temp_url_get_works_without_credentials(session: ks_session.Session, container: str,
                                                tmp_path: Path) -> None:
    path = _file(tmp_path, "in put?&#.bin", 10_000)
    ref = binaries.upload(session, path, container)
    url = tempurls.temp_url(session, container, ref.name)
    assert _fetch(url) == path.read_bytes()
    assert _status(url, "PUT", b"overwrite") == 401
    assert tempurls.ensure_key(session) == tempurls.ensure_key(session)


def test_put_temp_url_uploads_an_output(session: ks_session.Session, conn: swift_client.Connection,
                                        container: str) -> None:
    conn.put_container(container)
    url = tempurls.temp_url(session, container, "outputs/part-00000", method="PUT")
    assert _status(url, "PUT", b"result\n") == 201
    assert conn.get_object(container, "outputs/part-00000")[1] == b"result\n"


def test_temp_url_for_one_object_does_not_open_another(session: ks_session.Session,
                                                       conn: swift_client.Connection, container: str) -> None:
    conn.put_container(container)
    conn.put_object(container, "a.txt", b"a")
    conn.put_object(container, "b.txt", b"b")
    url = tempurls.temp_url(session, container, "a.txt")
    assert _fetch(url) == b"a"
    assert _status(url.replace("/a.txt?", "/b.txt?")) == 401


def test_prefix_temp_url_covers_its_prefix_only(session: ks_session.Session, conn: swift_client.Connection,
                                                container: str) -> None:
    conn.put_container(container)
    conn.put_object(container, "other/secret.txt", b"secret")
    writer = tempurls.temp_url_prefix(session, container, "outputs/run 1/", method="PUT")
    for name in ("outputs/run 1/part-0", "outputs/run 1/logs/stderr"):
        assert _status(writer.url_for(name), "PUT", name.encode()) == 201
    reader = tempurls.temp_url_prefix(session, container, "outputs/run 1/")
    assert _fetch(reader.url_for("outputs/run 1/logs/stderr")) == b"outputs/run 1/logs/stderr"
    escaped = reader.url_for("outputs/run 1/x").replace("outputs/run%201/x", "other/secret.txt")
    assert _status(escaped) == 401
    assert _status(writer.url_for("outputs/run 1/part-0")) == 401


def test_expired_temp_url_is_refused(session: ks_session.Session, conn: swift_client.Connection,
                                     container: str) -> None:
    conn.put_container(container)
    conn.put_object(container, "short.txt", b"short-lived")
    url = tempurls.temp_url(session, container, "short.txt", seconds=2)
    assert _fetch(url) == b"short-lived"
    poll(lambda: _status(url) == 401, 30, "temp URL refused after expiry")


def test_cli_upload_json_then_already_present(local_cloud: LocalCloud, container: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, "job.jar", 2 * MiB + 1)
    argv = ["binary", "upload", str(path), "--container", container, "--segment-size", "1",
            "--os-cloud", "heatdeploy-local", "--format", "json"]
    assert main(argv) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    result = events[-1]
    assert result["event"] == "result" and result["uploaded"] is True
    assert result["url"].startswith(f"swift://{container}/sha256/")
    assert events[-2] == {"event": "upload_progress", "file": str(path), "done": result["size"],
                          "total": result["size"]}
    assert main(argv[:-2] + ["--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out == f"{result['url']} (already present, {result['size']} bytes)\n"


def test_an_upload_interrupted_mid_way_leaves_no_segment(session: ks_session.Session,
                                                         conn: swift_client.Connection, container: str,
                                                         tmp_path: Path) -> None:
    path = _file(tmp_path, "big.bin", 5 * 1024 * 1024)

    def interrupt_after_the_first_segment(done: int, total: int) -> None:
        if 0 < done < total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        binaries.upload(session, path, container, segment_size=1024 * 1024, threads=1,
                        on_progress=interrupt_after_the_first_segment)
    segments = conn.get_container(f"{container}_segments", full_listing=True)[1]
    assert segments == [], [s["name"] for s in segments]
    assert [o["name"] for o in conn.get_container(container, full_listing=True)[1]] == []
    ref = binaries.upload(session, path, container, segment_size=1024 * 1024, threads=1)
    assert ref.uploaded and _fetch(tempurls.temp_url(session, container, ref.name)) == path.read_bytes()


def test_an_upload_rides_out_a_swift_proxy_paused_mid_way(local_cloud: LocalCloud, session: ks_session.Session,
                                                          conn: swift_client.Connection, container: str,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, "paused.bin", 4 * MiB)
    proxy = State.load(local_cloud.root).pids["swift-proxy"]
    monkeypatch.setattr(object_store, "REQUEST_TIMEOUT", 1.0)  # each request gives up after 1 s; retries go on
    resume = threading.Timer(3.0, os.kill, (proxy, signal.SIGCONT))
    paused: list[float] = []

    def pause_after_the_first_segment(done: int, total: int) -> None:
        if 0 < done < total and not paused:
            os.kill(proxy, signal.SIGSTOP)  # accepts connections, answers nothing, for 3 s
            paused.append(time.monotonic())
            resume.start()

    try:
        ref = binaries.upload(session, path, container, segment_size=MiB, threads=1,
                              on_progress=pause_after_the_first_segment)
    finally:
        resume.cancel()
        os.kill(proxy, signal.SIGCONT)
    assert paused and time.monotonic() - paused[0] >= 3.0, "the proxy was paused mid-upload"
    _, body = conn.get_object(container, ref.name)
    assert body == path.read_bytes()
    segments = conn.get_container(f"{container}_segments", full_listing=True)[1]
    assert len(segments) == 4, [s["name"] for s in segments]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main([*argv, "--os-cloud", "heatdeploy-local", "--format", "json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return status, lines[-1]


def test_list_delete_and_prune_spare_the_binaries_of_running_jobs(
        local_cloud: LocalCloud, session: ks_session.Session, conn: swift_client.Connection, container: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = binaries.upload(session, _file(tmp_path, "small.py", 1000), container)
    other = binaries.upload(session, _file(tmp_path, "other.py", 2000), container)
    with pytest.raises(ClientException):  # below the segment size: no segments container at all
        conn.head_container(f"{container}_segments")
    status, listed = _cli(capsys, "binary", "list", "--container", container)
    assert status == 0
    assert sorted((b["url"], b["size"]) for b in listed["binaries"]) == sorted(
        [(small.url, 1000), (other.url, 2000)])
    records = Records(session)
    running = JobRecord(id=f"job-ft-{uuid.uuid4().hex[:6]}", cluster="ft-none", type="shell", binary=small.url,
                        state="RUNNING")
    records.save_job(running)
    try:
        status, refused = _cli(capsys, "binary", "delete", small.url)
        assert (status, refused["event"]) == (1, "error")
        assert refused["message"] == f"{small.url} is the binary of a running job; delete it once the job has ended"
        status, pruned = _cli(capsys, "binary", "prune", "--older-than", "0s", "--container", container)
        assert (status, pruned["deleted"]) == (0, [other.url])
        status, listed = _cli(capsys, "binary", "list", "--container", container)
        assert [b["url"] for b in listed["binaries"]] == [small.url]
        running.state = "SUCCEEDED"
        records.save_job(running)
        assert _cli(capsys, "binary", "delete", small.url)[0] == 0
        assert _cli(capsys, "binary", "list", "--container", container)[1]["binaries"] == []
    finally:
        records.delete_job(running.id)
