"""Job specs from YAML, argument placeholders, and the curl configs that carry temp URLs."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from heatdeploy import SpecError
from heatdeploy.jobs.manager import curl_config, substitute
from heatdeploy.jobs.spec import read_job_file


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


class PlaceholderTest(unittest.TestCase):
    def test_known_placeholders_only(self) -> None:
        paths = {"input": "/j/input/a.txt", "input.names": "/j/input.names", "output": "/j/output"}
        args = ["{input}", "--names={input.names}", "{output}/part", '{"json": {input}}', "{other}"]
        self.assertEqual(substitute(args, paths), [
            "/j/input/a.txt", "--names=/j/input.names", "/j/output/part", '{"json": /j/input/a.txt}', "{other}"])

    def test_curl_config_quotes_urls_and_paths(self) -> None:
        config = curl_config([('http://s/v1/a?sig=x&e=1', '/j/in/"odd" name')], "output").decode()
        self.assertEqual(config, 'url = "http://s/v1/a?sig=x&e=1"\noutput = "/j/in/\\\\"odd\\\\" name"\n'
                         .replace("\\\\", "\\"))


if __name__ == "__main__":
    unittest.main()
