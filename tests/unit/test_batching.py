"""Batched writes: the shell script they become, run by a real /bin/sh, and the per-step view."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import tempfile
import unittest
from collections.abc import Sequence
from pathlib import Path

from heatdeploy.batching import MAX_SCRIPT, BatchedRemote, FileWrite, batched, check_written, file_write, script_for
from heatdeploy.instances import Instance
from heatdeploy.plugins.spark import SPARK
from heatdeploy.remote import Command, RemoteError, Result
from heatdeploy.steps import Step, StepContext, run_steps
from heatdeploy.testing import make_cluster
from tests.unit.helpers import SPARK_SPEC

TRICKY = "a 'quoted' \"word\" $(touch /tmp/pwned) `id` \\ %s %% \n\ttabs, ünïcode, no newline at the end"


class ShellTarget:
    """A batching target that runs scripts with the machine's own /bin/sh, as sshd would."""

    def __init__(self) -> None:
        self.instance = Instance("local-0", "1", "local", (), "127.0.0.1", None, None)
        self.known_dirs: set[str] = set()
        self.calls: list[tuple[str, object]] = []

    def run_with_files(self, files: Sequence[FileWrite], command: Command, *, stdin: bytes | None = None,
                       check: bool = True, timeout: float | None = None) -> Result:
        text = command if isinstance(command, str) else shlex.join(command)
        self.calls.append(("run", ([f.path for f in files], text)))
        script, marker = script_for(files, self.known_dirs, text)
        done = subprocess.run(["/bin/sh", "-c", script], input=stdin, capture_output=True, check=False)
        result = Result(done.returncode, done.stdout.decode(), done.stderr.decode())
        check_written(self.instance.name, files, result, marker)
        self.known_dirs.update(os.path.dirname(f.path) for f in files)
        if check and result.status:
            raise RemoteError(self.instance.name, f"{text} exited with status {result.status}", result.tail())
        return result

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        self.calls.append(("write_file", path))
        Path(path).write_bytes(content if isinstance(content, bytes) else content.encode())
        os.chmod(path, mode)

    def read_file(self, path: str) -> bytes:
        self.calls.append(("read_file", path))
        return Path(path).read_bytes()

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        self.calls.append(("http", path))
        return 200, b""


class ScriptTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.dir)], check=True)
        self.target = ShellTarget()

    def write(self, files: dict[str, tuple[str, int]], command: str = "true") -> Result:
        writes = [file_write(str(self.dir / p), c, m) for p, (c, m) in files.items()]
        return self.target.run_with_files([w for w in writes if w], command)

    def mode(self, name: str) -> int:
        return stat.S_IMODE((self.dir / name).stat().st_mode)

    def test_content_arrives_byte_for_byte_with_its_mode_and_folders(self) -> None:
        result = self.write({"a/b/secret": (TRICKY, 0o600), "run.sh": ("#!/bin/sh\necho hi\n", 0o755)},
                           f"cat {self.dir}/a/b/secret")
        self.assertEqual(result.stdout, TRICKY)
        self.assertEqual((self.dir / "a/b/secret").read_text(), TRICKY)
        self.assertEqual((self.mode("a/b/secret"), self.mode("run.sh")), (0o600, 0o755))
        self.assertFalse(Path("/tmp/pwned").exists())

    def test_an_existing_file_is_replaced_in_place_and_narrowed(self) -> None:
        (self.dir / "f").write_text("old, longer content\n")
        os.chmod(self.dir / "f", 0o666)
        inode = (self.dir / "f").stat().st_ino
        self.write({"f": ("new", 0o600)})
        self.assertEqual(((self.dir / "f").read_text(), self.mode("f")), ("new", 0o600))
        self.assertEqual((self.dir / "f").stat().st_ino, inode)

    def test_a_failed_write_names_the_files_and_not_their_content(self) -> None:
        (self.dir / "plain").write_text("a file, not a folder")
        with self.assertRaises(RemoteError) as caught:
            self.write({"plain/x": ("s3cr3t", 0o600)}, "echo never")
        message = str(caught.exception)
        self.assertIn(f"cannot write {self.dir}/plain/x", message)
        self.assertNotIn("s3cr3t", message + caught.exception.output)
        self.assertNotIn("never", caught.exception.output)

    def test_the_command_status_is_its_own(self) -> None:
        result = self.target.run_with_files([file_write(str(self.dir / "f"), "x", 0o644)],  # type: ignore[list-item]
                                            "exit 3", check=False)
        self.assertEqual(result.status, 3)
        self.assertEqual((self.dir / "f").read_text(), "x")

    def test_known_folders_are_not_created_again_and_modes_share_a_chmod(self) -> None:
        files = [FileWrite(f"/x/{n}", "''", 0o644) for n in "abc"]
        script, marker = script_for(files, {"/x"}, "true")
        self.assertNotIn("mkdir", script)
        self.assertEqual(script.count("chmod"), 1)
        self.assertIn(marker, script)
        self.assertEqual(script_for([], (), "true"), ("true", ""))

    def test_what_cannot_be_shell_text_is_refused(self) -> None:
        self.assertIsNone(file_write("/f", b"\xff\xfe", 0o644))
        self.assertIsNone(file_write("/f", "nul\0byte", 0o644))
        self.assertIsNone(file_write("/f", "x" * (MAX_SCRIPT + 1), 0o644))
        self.assertEqual(file_write("/f", b"text", 0o600), FileWrite("/f", "text", 0o600))


class BatchedRemoteTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.dir)], check=True)
        self.target = ShellTarget()
        self.remote = BatchedRemote(self.target)

    def test_files_wait_for_the_next_command_which_sees_them(self) -> None:
        self.remote.write_file(str(self.dir / "one"), "1")
        self.remote.write_file(str(self.dir / "two"), "2")
        self.assertEqual(self.target.calls, [])
        self.assertEqual(self.remote.run(f"cat {self.dir}/one {self.dir}/two").stdout, "12")
        self.assertEqual(len(self.target.calls), 1)

    def test_a_later_write_of_a_path_wins(self) -> None:
        self.remote.write_file(str(self.dir / "f"), "first")
        self.remote.write_file(str(self.dir / "g"), "g")
        self.remote.write_file(str(self.dir / "f"), "second")
        self.remote.flush()
        self.assertEqual((self.dir / "f").read_text(), "second")

    def test_reads_http_and_binary_files_send_waiting_files_first(self) -> None:
        self.remote.write_file(str(self.dir / "f"), "text")
        self.assertEqual(self.remote.read_file(str(self.dir / "f")), b"text")
        self.remote.write_file(str(self.dir / "g"), "text")
        self.remote.http("GET", 80, "/")
        self.remote.write_file(str(self.dir / "h"), "text")
        self.remote.write_file(str(self.dir / "bin"), b"\0\1")
        kinds = [c[0] for c in self.target.calls]
        self.assertEqual(kinds, ["run", "read_file", "run", "http", "run", "write_file"])
        self.assertEqual((self.dir / "bin").read_bytes(), b"\0\1")

    def test_a_batch_that_would_be_too_long_is_sent_before_growing(self) -> None:
        half = "x" * (MAX_SCRIPT // 2 + 1)
        for name in "abc":
            self.remote.write_file(str(self.dir / name), half)
        self.remote.flush()
        self.remote.flush()
        self.assertEqual([len(c[1][0]) for c in self.target.calls], [1, 1, 1])  # type: ignore[index]

    def test_only_targets_that_can_batch_are_batched(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK)
        recording = ctx.connect(ctx.instances[0])
        self.assertIs(batched(recording), recording)
        self.assertIsInstance(batched(self.target), BatchedRemote)  # type: ignore[arg-type]

    def test_the_orchestrator_sends_what_a_step_left_waiting(self) -> None:
        ctx = make_cluster(SPARK_SPEC, SPARK)
        path = self.dir / "written-by-step"

        def only_writes(step_ctx: StepContext, remote: object) -> None:
            remote.write_file(str(path), "done")  # type: ignore[attr-defined]

        run_steps(StepContext(ctx.spec, ctx.framework, ctx.instances[:1], ctx.instances[:1],
                              lambda instance: self.target), [Step("write", only_writes)])  # type: ignore[arg-type,return-value]
        self.assertEqual(path.read_text(), "done")
