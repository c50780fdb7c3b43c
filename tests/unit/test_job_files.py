"""Job specs from YAML, argument placeholders, and how files move: object names stay data."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import unittest
import urllib.parse
from pathlib import Path

from heatdeploy import SpecError
from heatdeploy.jobs.spec import read_job_file
from heatdeploy.jobs.staging import StagingError, download, relative_path, substitute, upload, url_config
from heatdeploy.testing import Recorder, RecordingRemote, fake_instances, parse_test_spec
from heatdeploy.testing.clusters import BARE


class JobFileTest(unittest.TestCase):
    def write(self, text: str) -> str:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = Path(tmp.name, "job.yaml")
        path.write_text(text)
        return str(path)

    def test_relative_binary_and_defaults(self) -> None:
        path = self.write('type: spark\nbinary: wc.py\nargs: ["{input}"]\ninputs: {"": swift://data/a.txt}\n')
        job = read_job_file(path)
        self.assertEqual(job.binary, str(Path(path).parent / "wc.py"))
        self.assertEqual((job.inputs, job.outputs, job.timeout), ({"": "swift://data/a.txt"}, {}, 3600))
        swift = read_job_file(self.write("type: shell\nbinary: swift://bin/run.sh\n"))
        self.assertEqual(swift.binary, "swift://bin/run.sh")

    def test_errors_name_file_line_and_field(self) -> None:
        path = self.write("type: spark\nbinary: wc.py\nouputs: {}\ninputs: {book: /tmp/book.txt}\ntimeout: 0\n")
        with self.assertRaises(SpecError) as caught:
            read_job_file(path)
        self.assertEqual([str(p) for p in caught.exception.problems], [
            f"{path}:3: ouputs: unknown field; did you mean 'outputs'? (allowed: args, binary, conf, inputs, "
            "main_class, outputs, timeout, type)",
            f"{path}:4: inputs.book: '/tmp/book.txt' is not a swift://CONTAINER/PATH URL",
            f"{path}:5: timeout: must be at least 1, not 0",
        ])

    def test_data_names_name_folders_so_they_are_plain(self) -> None:
        path = self.write('type: spark\nbinary: wc.py\ninputs: {"../../etc/cron.d": swift://c/a}\n'
                          'outputs: {"a b": swift://c/o}\n')
        with self.assertRaises(SpecError) as caught:
            read_job_file(path)
        self.assertEqual([p.path for p in caught.exception.problems], ["inputs.../../etc/cron.d", "outputs.a b"])
        self.assertIn("is not allowed (letters, digits, '_' and '-'", str(caught.exception))

    def test_a_job_file_that_is_not_utf8_is_bad_input(self) -> None:
        path = self.write("")
        Path(path).write_bytes(b"type: spark\nbinary: \xff\n")
        with self.assertRaisesRegex(SpecError, r"job.yaml:2: cannot read: not UTF-8 text$"):
            read_job_file(path)


class PlaceholderTest(unittest.TestCase):
    def test_known_placeholders_only(self) -> None:
        paths = {"input": "/j/input/a.txt", "input.names": "/j/input.names", "output": "/j/output"}
        args = ["{input}", "--names={input.names}", "{output}/part", '{"json": {input}}', "{other}"]
        self.assertEqual(substitute(args, paths), [
            "/j/input/a.txt", "--names=/j/input.names", "/j/output/part", '{"json": /j/input/a.txt}', "{other}"])



class StagingTest(unittest.TestCase):
    """Temp URLs go to curl on stdin; object names only ever become single arguments."""

    def remote(self) -> RecordingRemote:
        spec = parse_test_spec('''
            name: s
            plugin: bare
            version: "1"
            image: i
            flavor: f
            network: n
            node_groups: [{name: node, count: 1, processes: [node]}]
            ''', BARE)
        return RecordingRemote(fake_instances(spec)[0], Recorder())

    def test_urls_go_on_stdin_and_paths_as_arguments(self) -> None:
        remote = self.remote()
        download(remote, [("http://s/v1/a/c/x?temp_url_sig=1&temp_url_expires=2", "/j/in/\"odd\" name"),
                          ("http://s/v1/a/c/y%0Az?temp_url_sig=3&temp_url_expires=4", "/j/in/-")])
        self.assertEqual(remote.recorder.commands("s-node-0"), [[
            "curl", "-fsS", "--fail-early", "--globoff", "--retry", "3", "--create-dirs",
            "-o", '/j/in/"odd" name', "-o", "/j/in/-", "-K", "-"]])
        upload(remote, [("http://s/v1/a/c/o?temp_url_sig=5&temp_url_expires=6", "/j/out/part-0")])
        self.assertEqual(remote.recorder.commands("s-node-0")[-1], [
            "curl", "-fsS", "--fail-early", "--globoff", "--retry", "3", "-T", "/j/out/part-0", "-K", "-"])

    def test_real_curl_takes_brackets_and_braces_in_paths_literally(self) -> None:
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        (tmp / "job").mkdir()
        (tmp / "secret").write_text("outside the job folder")
        (tmp / "job" / "{.,x}.").mkdir()
        (tmp / "job" / "{.,x}." / "secret").write_text("the job's own file")
        target = tmp / "uploaded"

        class Local:
            instance = self.remote().instance

            def run(self, command, *, stdin=None, check=True, timeout=None):  # type: ignore[no-untyped-def]
                done = subprocess.run(command, input=stdin, capture_output=True, timeout=60)
                if check and done.returncode:
                    raise AssertionError(done.stderr)
                return done

        upload(Local(), [("file://" + urllib.parse.quote(str(target)), f"{tmp}/job/{{.,x}}./secret")])
        self.assertEqual(target.read_text(), "the job's own file")

    def test_many_long_paths_go_in_several_runs(self) -> None:
        remote = self.remote()
        pairs = [(f"http://s/v1/a/c/{n}?temp_url_sig=1", "/j/in/" + "x" * 600 + str(n)) for n in range(300)]
        download(remote, pairs)
        runs = remote.recorder.commands("s-node-0")
        self.assertGreater(len(runs), 2)
        self.assertTrue(all(len(shlex.join(run)) < 128 * 1024 for run in runs))
        self.assertEqual([a for run in runs for a in run[run.index("--create-dirs") + 1:-2] if a != "-o"],
                         [path for _, path in pairs])

    def test_the_config_holds_only_percent_encoded_urls(self) -> None:
        self.assertEqual(url_config(["http://s/a?x=1", "http://s/b%0A?x=2"]),
                         b'url = "http://s/a?x=1"\nurl = "http://s/b%0A?x=2"\n')
        for bad in ("http://s/a\nurl = file:///etc/passwd", 'http://s/"', "http://s/a b"):
            with self.subTest(url=bad), self.assertRaises(StagingError):
                url_config([bad])

    def test_hostile_object_names_are_refused_by_name(self) -> None:
        for fine in ("dir/part-0.csv", "-summary.txt", "{.,x}./x[1-2]"):  # absolute once joined; --globoff
            self.assertEqual(relative_path(fine, "object"), fine)
        hostile = ["a\nurl = file:///etc/hostname\noutput = /tmp/pwned\nx", "../../tmp/x", "a/../b", "/etc/x",
                   "a//b", "a/./b", "nul\x00", "tab\tname", ""]
        for name in hostile:
            with self.subTest(name=name), self.assertRaisesRegex(StagingError, "^object "):
                relative_path(name, "object")


if __name__ == "__main__":
    unittest.main()
