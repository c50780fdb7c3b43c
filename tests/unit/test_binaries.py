"""Job binary references, hashing and naming, and the upload progress display: no cloud needed."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import unittest.mock
import urllib.parse
from pathlib import Path

from heatdeploy.cli.binaries import UploadProgress, _duration
from heatdeploy.cli.main import main
from heatdeploy.cli.output import Progress
from heatdeploy.cloud import binaries, tempurls
from heatdeploy.cloud.binaries import (
    BinaryError,
    BinaryRef,
    DigestCache,
    FileState,
    file_digest,
    object_name,
    parse_swift_url,
    sha256_file,
)
from heatdeploy.cloud.binary_catalog import StoredBinary, stale


class ParseSwiftUrlTest(unittest.TestCase):
    def test_container_and_object(self) -> None:
        self.assertEqual(parse_swift_url("swift://jobs/wordcount.jar"), ("jobs", "wordcount.jar"))

    def test_object_keeps_its_slashes_and_characters(self) -> None:
        self.assertEqual(parse_swift_url("swift://c/sha256/ab/my job?.jar"), ("c", "sha256/ab/my job?.jar"))

    def test_prefix_with_trailing_slash(self) -> None:
        self.assertEqual(parse_swift_url("swift://data/inputs/"), ("data", "inputs/"))

    def test_round_trip(self) -> None:
        ref = BinaryRef("c", "sha256/00/x.py", 1, "00", uploaded=True)
        self.assertEqual(ref.url, "swift://c/sha256/00/x.py")
        self.assertEqual(parse_swift_url(ref.url), ("c", "sha256/00/x.py"))

    def test_bad_urls_say_what_is_wrong(self) -> None:
        cases = {
            "http://c/o": "not a Swift reference",
            "swift:/c/o": "not a Swift reference",
            "c/o": "not a Swift reference",
            "swift://": "no container",
            "swift:///o": "no container",
            "swift://c": "no object",
            "swift://c/": "no object",
            "swift://c//o": "empty path segment",
            "swift://c/a//b": "empty path segment",
        }
        for url, message in cases.items():
            with self.subTest(url=url), self.assertRaises(BinaryError) as raised:
                parse_swift_url(url)
            self.assertIn(message, str(raised.exception))
            self.assertIn("swift://", str(raised.exception))


class HashingAndNamingTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)

    def test_sha256_matches_hashlib_across_chunk_boundaries(self) -> None:
        data = os.urandom(3 * 1024 + 17)
        path = self.tmp / "data.bin"
        path.write_bytes(data)
        for chunk_size in (1, 1024, 1 << 20):
            with self.subTest(chunk_size=chunk_size):
                self.assertEqual(sha256_file(path, chunk_size), hashlib.sha256(data).hexdigest())

    def test_empty_file(self) -> None:
        path = self.tmp / "empty"
        path.write_bytes(b"")
        self.assertEqual(sha256_file(path), hashlib.sha256(b"").hexdigest())

    def test_object_name_is_digest_then_file_name(self) -> None:
        self.assertEqual(object_name("ab" * 32, "/build/libs/word count.jar"), f"sha256/{'ab' * 32}/word count.jar")

    def test_same_content_same_name_whatever_the_directory(self) -> None:
        (self.tmp / "a").mkdir()
        (self.tmp / "b").mkdir()
        for folder in ("a", "b"):
            (self.tmp / folder / "job.py").write_text("print('hi')\n")
        names = {object_name(sha256_file(p), p) for p in (self.tmp / "a" / "job.py", self.tmp / "b" / "job.py")}
        self.assertEqual(len(names), 1)

    def test_different_content_different_name(self) -> None:
        first, second = self.tmp / "one", self.tmp / "two"
        first.write_bytes(b"1")
        second.write_bytes(b"2")
        self.assertNotEqual(object_name(sha256_file(first), "job.py"), object_name(sha256_file(second), "job.py"))

    def test_upload_refuses_a_missing_file_before_any_request(self) -> None:
        with self.assertRaises(BinaryError) as raised:
            binaries.upload(None, self.tmp / "missing.jar")  # type: ignore[arg-type]
        self.assertIn("no such file", str(raised.exception))

    def test_ref_as_dict(self) -> None:
        ref = BinaryRef("c", "sha256/00/x.py", 5, "00", uploaded=False)
        self.assertEqual(ref.to_dict(), {"url": "swift://c/sha256/00/x.py", "container": "c",
                                         "object": "sha256/00/x.py", "size": 5, "sha256": "00",
                                         "uploaded": False})


class DigestCacheTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        self.cache = DigestCache(self.tmp / "cache" / "sha256.json")
        self.file = self.tmp / "job.jar"
        self.file.write_bytes(b"version 1")
        self.age(self.file)

    @staticmethod
    def age(path: Path, seconds: float = 3600) -> None:
        then = time.time() - seconds
        os.utime(path, (then, then))

    def test_remembers_the_digest_of_an_unchanged_file(self) -> None:
        state = FileState.of(self.file)
        digest = file_digest(self.file, state, self.cache)
        self.assertEqual(digest, hashlib.sha256(b"version 1").hexdigest())
        self.assertEqual(self.cache.get(self.file, FileState.of(self.file)), digest)
        self.assertEqual(DigestCache(self.cache.path).get(self.file, state), digest)

    def test_a_rewrite_of_the_same_size_and_mtime_is_not_taken_for_the_old_content(self) -> None:
        file_digest(self.file, FileState.of(self.file), self.cache)
        before = self.file.stat()
        self.file.write_bytes(b"version 2")
        os.utime(self.file, ns=(before.st_atime_ns, before.st_mtime_ns))
        self.assertEqual(FileState.of(self.file).mtime_ns, before.st_mtime_ns)
        self.assertIsNone(self.cache.get(self.file, FileState.of(self.file)))

    def test_a_file_changed_just_before_hashing_is_not_remembered(self) -> None:
        self.age(self.file, 0.5)
        file_digest(self.file, FileState.of(self.file), self.cache)
        self.assertIsNone(self.cache.get(self.file, FileState.of(self.file)))

    def test_a_broken_cache_file_means_hashing_again(self) -> None:
        assert self.cache.path is not None
        self.cache.path.parent.mkdir()
        for content in ("not json", "[]", '{"x": 1}'):
            self.cache.path.write_text(content)
            self.assertIsNone(self.cache.get(self.file, FileState.of(self.file)))
        file_digest(self.file, FileState.of(self.file), self.cache)
        self.assertIsNotNone(self.cache.get(self.file, FileState.of(self.file)))

    def test_disabled_cache_remembers_nothing(self) -> None:
        cache = DigestCache.disabled()
        file_digest(self.file, FileState.of(self.file), cache)
        self.assertIsNone(cache.get(self.file, FileState.of(self.file)))

    def test_keeps_the_most_recent_entries_only(self) -> None:
        with unittest.mock.patch.object(binaries, "CACHE_ENTRIES", 2):
            files = []
            for n in range(3):
                path = self.tmp / f"f{n}"
                path.write_bytes(bytes([n]))
                self.age(path)
                file_digest(path, FileState.of(path), self.cache)
                files.append(path)
        self.assertEqual([self.cache.get(f, FileState.of(f)) is not None for f in files], [False, True, True])


class FakeSession:
    def get_endpoint(self, **filters: str) -> str:
        return "https://swift.example:8080/v1/AUTH_p%C3%A9/"


class TempURLTest(unittest.TestCase):
    """Temp URLs sign the unquoted path, as Swift checks it, and quote it in the URL."""

    KEY = "k" * 43

    def signature(self, method: str, expires: str, path: str) -> str:
        return hmac.new(self.KEY.encode(), f"{method}\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()

    def test_object_url(self) -> None:
        url = tempurls.temp_url(FakeSession(), "c", "sha256/ab/my job?&#.jar", seconds=60,  # type: ignore[arg-type]
                                key=self.KEY)
        parts = urllib.parse.urlsplit(url)
        self.assertEqual(f"{parts.scheme}://{parts.netloc}{parts.path}",
                         "https://swift.example:8080/v1/AUTH_p%C3%A9/c/sha256/ab/my%20job%3F%26%23.jar")
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.assertEqual(set(query), {"temp_url_sig", "temp_url_expires"})
        self.assertAlmostEqual(int(query["temp_url_expires"]), time.time() + 60, delta=5)
        self.assertEqual(query["temp_url_sig"], self.signature(
            "GET", query["temp_url_expires"], "/v1/AUTH_pé/c/sha256/ab/my job?&#.jar"))

    def test_prefix_url(self) -> None:
        prefixed = tempurls.temp_url_prefix(FakeSession(), "c", "out/run 1/", "PUT",  # type: ignore[arg-type]
                                            key=self.KEY)
        url = prefixed.url_for("out/run 1/part-0")
        parts = urllib.parse.urlsplit(url)
        self.assertTrue(url.startswith("https://swift.example:8080/v1/AUTH_p%C3%A9/c/out/run%201/part-0?"))
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.assertEqual(query["temp_url_prefix"], "out/run 1/")
        self.assertEqual(query["temp_url_sig"], self.signature(
            "PUT", query["temp_url_expires"], "prefix:/v1/AUTH_pé/c/out/run 1/"))
        with self.assertRaises(tempurls.TempURLError):
            prefixed.url_for("other/part-0")

    def test_bad_arguments(self) -> None:
        session = FakeSession()
        for call in (lambda: tempurls.temp_url(session, "c", "", key=self.KEY),  # type: ignore[arg-type]
                     lambda: tempurls.temp_url(session, "c/d", "o", key=self.KEY),  # type: ignore[arg-type]
                     lambda: tempurls.temp_url(session, "c", "o", "PATCH", key=self.KEY),  # type: ignore[arg-type]
                     lambda: tempurls.temp_url(session, "c", "o", seconds=0, key=self.KEY),  # type: ignore[arg-type]
                     lambda: tempurls.temp_url_prefix(session, "c", "", key=self.KEY)):  # type: ignore[arg-type]
            with self.assertRaises(tempurls.TempURLError):
                call()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class UploadProgressTest(unittest.TestCase):
    def test_json_events_are_rate_limited_but_the_last_is_always_sent(self) -> None:
        out = io.StringIO()
        now = [0.0]
        progress = UploadProgress(Progress("json", out=out), "job.jar", clock=lambda: now[0])
        for done in (1, 2, 3):
            progress(done, 10)
        now[0] = 5.0
        progress(4, 10)
        progress(10, 10)
        events = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual([e["done"] for e in events], [1, 4, 10])
        self.assertEqual(events[0], {"event": "upload_progress", "file": "job.jar", "done": 1, "total": 10})

    def test_terminal_bar_is_redrawn_in_place_on_stderr(self) -> None:
        out, err = io.StringIO(), FakeTerminal()
        progress = UploadProgress(Progress("text", out=out, err=err), "job.jar")
        progress(512 * 1024, 1024 * 1024)
        progress(1024 * 1024, 1024 * 1024)
        progress.finish()
        self.assertEqual(out.getvalue(), "")
        self.assertEqual(err.getvalue().count("\r"), 2)
        self.assertIn(" 50% 0.5/1.0 MiB", err.getvalue())
        self.assertTrue(err.getvalue().endswith("100% 1.0/1.0 MiB\033[K\n"))

    def test_no_bar_when_stderr_is_not_a_terminal(self) -> None:
        out, err = io.StringIO(), io.StringIO()
        progress = UploadProgress(Progress("text", out=out, err=err), "job.jar")
        progress(1, 2)
        progress.finish()
        self.assertEqual((out.getvalue(), err.getvalue()), ("", ""))


class CliTest(unittest.TestCase):
    def run_cli(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(args))
        return status, out.getvalue(), err.getvalue()

    def test_missing_file_is_bad_input_and_no_cloud_is_loaded(self) -> None:
        with unittest.mock.patch("heatdeploy.cloud.auth.load_cloud") as load_cloud:
            status, out, err = self.run_cli("binary", "upload", "/no/such/job.jar", "--format", "json")
        load_cloud.assert_not_called()
        self.assertEqual(status, 2)
        self.assertEqual(json.loads(out), {"event": "error", "exit_status": 2,
                                           "message": "/no/such/job.jar: no such file"})
        self.assertEqual(err, "")

    def test_segment_size_must_be_positive(self) -> None:
        with self.assertRaises(SystemExit) as raised, contextlib.redirect_stderr(io.StringIO()):
            main(["binary", "upload", "job.jar", "--segment-size", "0"])
        self.assertEqual(raised.exception.code, 2)


class LazyImportTest(unittest.TestCase):
    def test_validate_and_binary_help_do_not_import_swiftclient(self) -> None:
        code = ("import sys\nfrom heatdeploy.cli.main import build_parser\nbuild_parser()\n"
                "import heatdeploy.cloud.binaries\nprint('swiftclient' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "False")


if __name__ == "__main__":
    unittest.main()


class CatalogTest(unittest.TestCase):
    def test_stale_binaries_are_the_old_ones_no_running_job_uses(self) -> None:
        now = datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC)
        old, used, new = (StoredBinary(f"swift://c/sha256/{n}/p", 1, now - datetime.timedelta(days=d))
                          for n, d in (("a", 40), ("b", 40), ("c", 1)))
        self.assertEqual(stale([old, used, new], datetime.timedelta(days=30), {used.url}, now), [old])

    def test_ages_are_read_with_their_units(self) -> None:
        self.assertEqual(_duration("30d"), datetime.timedelta(days=30))
        self.assertEqual(_duration("90m"), datetime.timedelta(minutes=90))
        self.assertEqual(_duration("45"), datetime.timedelta(seconds=45))
        for bad in ("", "d", "-3d", "1.5h", "3y"):
            with self.subTest(bad=bad), self.assertRaises(argparse.ArgumentTypeError):
                _duration(bad)
