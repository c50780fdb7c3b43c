"""Direct job data: splitting inputs by byte ranges, reading lines across splits, the manifest and environment."""

from __future__ import annotations

import http.server
import json
import random
import threading
import unittest

from heatdeploy.errors import HeatdeployError
from heatdeploy.jobs import data, heatdeploy_job
from heatdeploy.jobs.heatdeploy_job import Split, read_split, splits
from heatdeploy.plugin.jobs import JobRecord
from heatdeploy.testing.cloud import FakeObjectStore


class Ranges:
    """An object served by byte ranges, counting what was fetched."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.fetched = 0

    def __call__(self, url: str, first: int, last: int, size: int) -> bytes:
        assert size == len(self.body)
        chunk = self.body[first:last + 1]
        self.fetched += len(chunk)
        return chunk


def read_all(body: bytes, split_bytes: int) -> tuple[list[str], int]:
    source = Ranges(body)
    manifest = {"inputs": {"": {"objects": [{"name": "o", "size": len(body), "url": "u"}]}}}
    lines = [line for part in splits("", split_bytes, manifest) for line in read_split(part, source)]
    return lines, source.fetched


def expected(body: bytes) -> list[str]:
    lines = body.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return [line.removesuffix(b"\r").decode("utf-8", errors="replace") for line in lines]


class ReadSplitTest(unittest.TestCase):
    def test_every_line_is_read_once_whatever_the_split_size(self) -> None:
        rng = random.Random(7)
        for trial in range(300):
            pieces = [rng.choice(["", "a", "bb", "ccc dd", "é€", "x" * rng.randint(0, 40)]) +
                      rng.choice(["\n", "\r\n", "\n\n", ""]) for _ in range(rng.randint(0, 30))]
            body = "".join(pieces).encode()
            split_bytes = rng.randint(1, 50)
            with self.subTest(trial=trial, body=body, split_bytes=split_bytes):
                self.assertEqual(read_all(body, split_bytes)[0], expected(body))

    def test_bytes_fetched_stay_close_to_the_object_size(self) -> None:
        body = "".join(f"line {i} of the input with some words\n" for i in range(20000)).encode()
        lines, fetched = read_all(body, 64 * 1024)
        self.assertEqual(len(lines), 20000)
        self.assertLessEqual(fetched / len(body), 1.05)

    def test_a_line_longer_than_many_splits_is_read_by_the_split_it_starts_in(self) -> None:
        body = b"short\n" + b"y" * 10000 + b"\nend\n"
        self.assertEqual(read_all(body, 100)[0], ["short", "y" * 10000, "end"])

    def test_a_lone_carriage_return_does_not_end_a_line(self) -> None:
        self.assertEqual(read_all(b"a\rb\nc\r\n", 3)[0], ["a\rb", "c"])

    def test_empty_objects_make_no_split(self) -> None:
        manifest = {"inputs": {"": {"objects": [{"name": "e", "size": 0, "url": "u"},
                                                {"name": "f", "size": 5, "url": "v"}]}}}
        self.assertEqual(splits("", 2, manifest), [Split("v", 0, 2, 5, "f"), Split("v", 2, 4, 5, "f"),
                                                   Split("v", 4, 5, 5, "f")])

    def test_an_unknown_input_names_those_there_are(self) -> None:
        with self.assertRaisesRegex(KeyError, r"no input 'logs' read from Swift \(it has: 'books'\)"):
            splits("logs", data={"inputs": {"books": {"objects": []}}})


class _Object(http.server.BaseHTTPRequestHandler):
    """One object, served with byte ranges (or without, when ``ranges`` is false)."""

    body = b""
    ranges = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        first, _, last = self.headers["Range"].removeprefix("bytes=").partition("-")
        start, end = int(first), min(int(last), len(self.body) - 1)
        if not self.ranges:
            self.send_response(200)
            chunk = self.body
        elif start >= len(self.body):
            self.send_response(416)
            chunk = b""
        else:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(self.body)}")
            chunk = self.body[start:end + 1]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        self.wfile.write(chunk)

    def log_message(self, *args: object) -> None:
        pass


class HttpFetchTest(unittest.TestCase):
    def serve(self, body: bytes, ranges: bool = True) -> str:
        handler = type("Handler", (_Object,), {"body": body, "ranges": ranges})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}/v1/AUTH_x/c/in%20put?temp_url_sig=secret"

    def test_a_range_is_fetched_as_asked(self) -> None:
        url = self.serve(b"0123456789")
        self.assertEqual(heatdeploy_job.http_fetch(url, 2, 5, 10), b"2345")

    def test_a_server_that_ignores_ranges_still_gives_the_range(self) -> None:
        url = self.serve(b"0123456789", ranges=False)
        self.assertEqual(heatdeploy_job.http_fetch(url, 2, 5, 10), b"2345")

    def test_an_object_that_changed_size_fails_the_read_without_its_signature(self) -> None:
        url = self.serve(b"01234")
        for first in (2, 7):  # a shorter object: a smaller total, or nothing where the split starts
            changed = r"^http://127.0.0.1:[0-9]+/v1/AUTH_x/c/in put is .*the job started$"
            with self.subTest(first=first), self.assertRaisesRegex(heatdeploy_job.ChangedError, changed) as raised:
                heatdeploy_job.http_fetch(url, first, 9, 10)
            self.assertNotIn("secret", str(raised.exception))


def _job(**kwargs: object) -> JobRecord:
    kwargs.setdefault("direct", True)
    return JobRecord(id="job-1", cluster="c", type="shell", binary="swift://b/p", **kwargs)  # type: ignore[arg-type]


class DirectDataTest(unittest.TestCase):
    def setUp(self) -> None:
        self.store = FakeObjectStore()
        self.store.objects[("data", "in/a.txt")] = b"aaa"
        self.store.objects[("data", "in/b c.txt")] = b"bbbbb"
        self.store.objects[("data", "one.txt")] = b"1"
        self.store.objects[("data", "one.txt.bak")] = b"2"

    def test_placeholders_in_the_arguments_keep_staging(self) -> None:
        self.assertEqual(data.staged_names(["{input}", "--x={output.logs}", "{input.a-b}", "{inputs}"]),
                         ({"", "a-b"}, {"logs"}))

    def test_direct_inputs_list_every_object_with_its_size_and_url(self) -> None:
        job = _job(inputs={"": "swift://data/in/", "one": "swift://data/one.txt"}, args=["{input.one}"])
        direct = data.direct_data(self.store, job, 4200)
        self.assertEqual(set(direct.manifest["inputs"]), {""}, "the staged input is not in the manifest")
        objects = direct.manifest["inputs"][""]["objects"]
        self.assertEqual([(o["name"], o["size"]) for o in objects], [("in/a.txt", 3), ("in/b c.txt", 5)])
        self.assertTrue(objects[1]["url"].startswith("https://object-store.invalid/v1/AUTH_fake/data/in/b%20c.txt?"))
        self.assertIn("temp_url_expires=4200", objects[1]["url"])
        self.assertEqual(direct.environment, {"HEATDEPLOY_INPUT_URLS": "/var/lib/heatdeploy/jobs/job-1/input.urls"})
        self.assertEqual(direct.files["input.urls"], "".join(o["url"] + "\n" for o in objects))

    def test_an_engine_without_direct_data_has_everything_staged(self) -> None:
        job = _job(inputs={"": "swift://data/in/"}, outputs={"o": "swift://results/r"}, direct=False)
        self.assertEqual(data.staged(job), ({""}, {"o"}))
        self.assertEqual(data.direct_data(self.store, job, 60).manifest, {"inputs": {}, "outputs": {}})

    def test_an_output_that_already_holds_objects_is_refused(self) -> None:
        self.store.objects[("results", "r/part-00000")] = b"old"
        with self.assertRaisesRegex(data.DataError, "output swift://results/r already holds objects"):
            data.direct_data(self.store, _job(outputs={"": "swift://results/r"}), 60)

    def test_hostile_object_names_are_percent_encoded_in_every_url(self) -> None:
        self.store.objects[("data", "in/x\nurl = file:///etc/hostname\n../../y")] = b"x"
        direct = data.direct_data(self.store, _job(inputs={"": "swift://data/in/"}), 60)
        listing = direct.files["input.urls"]
        self.assertEqual(len(listing.splitlines()), 3, "one line per object, whatever its name")
        self.assertIn("/in/x%0Aurl%20%3D%20file%3A///etc/hostname%0A../../y?", listing)

    def test_a_one_object_input_is_that_object_only(self) -> None:
        direct = data.direct_data(self.store, _job(inputs={"one": "swift://data/one.txt"}), 60)
        (only,) = direct.manifest["inputs"]["one"]["objects"]
        self.assertEqual(only["name"], "one.txt")
        self.assertEqual(list(direct.environment), ["HEATDEPLOY_INPUT_ONE_URLS"])

    def test_direct_outputs_get_a_prefix_url_for_put(self) -> None:
        direct = data.direct_data(self.store, _job(outputs={"wc-out": "swift://results/run1"}), 60)
        entry = direct.manifest["outputs"]["wc-out"]
        self.assertEqual(entry["url"], "https://object-store.invalid/v1/AUTH_fake/results/run1/")
        self.assertIn("method=PUT", entry["query"])
        self.assertEqual(direct.environment["HEATDEPLOY_OUTPUT_WC_OUT_URL"], entry["url"])
        self.assertEqual(direct.environment["HEATDEPLOY_OUTPUT_WC_OUT_QUERY"], entry["query"])
        self.assertIn("results", self.store.containers)
        self.assertEqual(heatdeploy_job.output_url("wc-out", "part-00000", direct.manifest),
                         f"{entry['url']}part-00000?{entry['query']}")

    def test_missing_inputs_and_whole_container_outputs_are_refused(self) -> None:
        for job, message in ((_job(inputs={"": "swift://data/none/"}), "input swift://data/none/ is empty"),
                             (_job(inputs={"": "swift://data/one"}), "input swift://data/one: no such object"),
                             (_job(outputs={"": "swift://results"}), "no object in 'swift://results'")):
            with self.subTest(message=message), self.assertRaisesRegex(HeatdeployError, message):
                data.direct_data(self.store, job, 60)

    def test_names_that_would_share_a_variable_are_refused(self) -> None:
        job = _job(inputs={"a-b": "swift://data/in/", "a_b": "swift://data/in/"})
        with self.assertRaisesRegex(data.DataError, "would share an environment variable"):
            data.direct_data(self.store, job, 60)

    def test_the_environment_file_exports_quoted_values_and_keeps_pythonpath(self) -> None:
        direct = data.direct_data(self.store, _job(outputs={"": "swift://results/r"}), 60)
        files = direct.files_to_write("/var/lib/heatdeploy/jobs/job-1")
        self.assertEqual(json.loads(files["heatdeploy_job.json"]), direct.manifest)
        script = files["job.env"]
        self.assertIn("export HEATDEPLOY_JOB_MANIFEST=/var/lib/heatdeploy/jobs/job-1/heatdeploy_job.json\n", script)
        self.assertIn("export HEATDEPLOY_OUTPUT_QUERY='method=PUT&temp_url_sig=fake&temp_url_expires=60'\n", script)
        self.assertTrue(script.endswith('export PYTHONPATH="$HEATDEPLOY_JOB_DIR${PYTHONPATH:+:$PYTHONPATH}"\n'))


if __name__ == "__main__":
    unittest.main()
