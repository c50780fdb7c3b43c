"""Batched writes: the shell script they become, run by a real /bin/sh, and the per-step view."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
import unittest
from collections.abc import Sequence
from pathlib import Path

from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Command, RemoteError, Result
from heatdeploy.plugin.steps import Step, StepContext
from heatdeploy.plugins.spark import SPARK
from heatdeploy.ssh.batching import (
    MAX_ARGUMENT,
    MAX_BATCH,
    BatchedRemote,
    FileWrite,
    ScriptRunner,
    batched,
    file_write,
    write_script,
)
from heatdeploy.ssh.connections import private_write_script
from heatdeploy.steps.orchestrator import run_steps
from heatdeploy.testing import make_cluster
from tests.unit.helpers import SPARK_SPEC

TRICKY = "a 'quoted' \"word\" $(touch /tmp/pwned) `id` \\ %s %% \n\ttabs, ünïcode, no newline at the end"


class ShellTarget:
    """A batching target whose scripts run in the machine's own /bin/sh, as sshd would run them."""

    def __init__(self, shell_options: str = "") -> None:
        self.instance = Instance("local-0", "1", "local", (), "127.0.0.1", None, None)
        self.shell_options = shell_options
        self.calls: list[tuple[str, object]] = []
        self.runner = ScriptRunner(self.instance.name, self.execute, self.write_file)

    def execute(self, script: str, stdin: bytes | None, timeout: float | None, label: str) -> tuple[int, bytes, bytes]:
        done = subprocess.run(["/bin/sh", *self.shell_options.split(), "-c", script], input=stdin,
                              capture_output=True, check=False)
        return done.returncode, done.stdout, done.stderr

    def run_with_files(self, files: Sequence[FileWrite], command: Command, *, stdin: bytes | None = None,
                       check: bool = True, timeout: float | None = None) -> Result:
        self.calls.append(("run", ([f.path for f in files], command)))
        return self.runner.run(files, command, stdin=stdin, check=check, timeout=timeout)

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

    def writes(self, files: dict[str, tuple[str, int]]) -> list[FileWrite]:
        made = [file_write(str(self.dir / p), c, m) for p, (c, m) in files.items()]
        assert all(made), "every file here can be batched"
        return made  # type: ignore[return-value]

    def write(self, files: dict[str, tuple[str, int]], command: str = "true", check: bool = True) -> Result:
        return self.target.runner.run(self.writes(files), command, check=check)

    def mode(self, name: str) -> int:
        return stat.S_IMODE((self.dir / name).stat().st_mode)

    def test_content_arrives_byte_for_byte_with_its_mode_and_folders(self) -> None:
        result = self.write({"a/b/conf": (TRICKY, 0o644), "run.sh": ("#!/bin/sh\necho hi\n", 0o755)},
                            f"cat {self.dir}/a/b/conf")
        self.assertEqual(result.stdout, TRICKY)
        self.assertEqual((self.dir / "a/b/conf").read_text(), TRICKY)
        self.assertEqual((self.mode("a/b/conf"), self.mode("run.sh")), (0o644, 0o755))
        self.assertFalse(Path("/tmp/pwned").exists())

    def test_an_existing_file_is_replaced_in_place_even_under_noclobber(self) -> None:
        self.target.shell_options = "-C"
        (self.dir / "f").write_text("old, longer content\n")
        os.chmod(self.dir / "f", 0o666)
        inode = (self.dir / "f").stat().st_ino
        self.write({"f": ("new", 0o644)})
        self.assertEqual(((self.dir / "f").read_text(), self.mode("f")), ("new", 0o644))
        self.assertEqual((self.dir / "f").stat().st_ino, inode)

    def test_a_failed_write_names_the_files_and_leaves_those_after_it_alone(self) -> None:
        (self.dir / "folder").mkdir()
        (self.dir / "after").write_text("kept")
        files = self.writes({"first": ("1", 0o644), "folder": ("content", 0o644), "after": ("2", 0o644)})
        with self.assertRaises(RemoteError) as caught:
            self.target.runner.run(files, "echo never", check=False)
        self.assertIn(f"cannot write {self.dir}/first, {self.dir}/folder, {self.dir}/after", str(caught.exception))
        self.assertNotIn("content", str(caught.exception) + caught.exception.output)
        self.assertNotIn("never", caught.exception.output)
        self.assertEqual(((self.dir / "first").read_text(), (self.dir / "after").read_text()), ("1", "kept"))

    def test_a_folder_is_forgotten_once_a_write_into_it_failed(self) -> None:
        self.write({"d/f": ("1", 0o644)})
        self.assertIn(str(self.dir / "d"), self.target.runner.known_dirs)
        subprocess.run(["rm", "-r", str(self.dir / "d")], check=True)
        with self.assertRaises(RemoteError):
            self.write({"d/f": ("2", 0o644)})
        self.write({"d/f": ("3", 0o644)})  # as a retried step would
        self.assertEqual((self.dir / "d/f").read_text(), "3")

    def test_the_command_status_is_its_own(self) -> None:
        self.assertEqual(self.write({"f": ("x", 0o644)}, "exit 3", check=False).status, 3)
        self.assertEqual((self.dir / "f").read_text(), "x")
        with self.assertRaises(RemoteError) as caught:
            self.write({"f": ("x", 0o644)}, "exit 3")
        self.assertIn("'exit 3' exited with status 3", str(caught.exception))

    def test_files_a_long_command_leaves_no_room_for_are_written_first_another_way(self) -> None:
        command = f"cat {self.dir}/f >/dev/null; : " + "x" * MAX_ARGUMENT
        self.write({"f": ("x", 0o644)}, command)
        self.assertEqual(self.target.calls, [("write_file", str(self.dir / "f"))])

    def test_known_folders_are_not_created_again_and_modes_share_a_chmod(self) -> None:
        files = [FileWrite(f"/x/{n}", "", 0o644) for n in "abc"]
        script = write_script(files, {"/x"}, "MARK")
        self.assertNotIn("mkdir", script)
        self.assertEqual(script.count("chmod"), 1)

    def test_what_cannot_be_batched_is_refused(self) -> None:
        self.assertIsNone(file_write("/f", "secret", 0o600), "a command line is readable by every user")
        self.assertIsNone(file_write("/f", "secret", 0o640))
        self.assertIsNone(file_write("/f", b"\xff\xfe", 0o644))
        self.assertIsNone(file_write("/f", "nul\0byte", 0o644))
        self.assertIsNone(file_write("/f", "€" * (MAX_BATCH // 3), 0o644), "the limit counts bytes")
        self.assertEqual(file_write("/f", b"text", 0o444), FileWrite("/f", "text", 0o444))


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
        half = "€" * (MAX_BATCH // 6)
        for name in "abc":
            self.remote.write_file(str(self.dir / name), half)
        self.remote.flush()
        self.remote.flush()
        self.assertEqual([len(c[1][0]) for c in self.target.calls], [1, 1, 1])  # type: ignore[index]

    def test_secrets_go_at_once_and_never_on_a_command_line(self) -> None:
        self.remote.write_file(str(self.dir / "conf"), "public")
        self.remote.write_file(str(self.dir / "key"), "secret", 0o600)
        self.assertEqual([c[0] for c in self.target.calls], ["run", "write_file"])
        self.assertEqual(self.target.calls[0][1], ([str(self.dir / "conf")], "true"))

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

        run_steps(StepContext(spec=ctx.spec, framework=ctx.framework, instances=ctx.instances[:1],
                              targets=ctx.instances[:1], connect=lambda instance: self.target),
                  [Step("write", only_writes)])  # type: ignore[arg-type,return-value]
        self.assertEqual(path.read_text(), "done")


class PrivateWriteTest(unittest.TestCase):
    """How files others may not read are written: run by a real /bin/sh."""

    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.dir)], check=True)

    def write(self, name: str, data: bytes, mode: int, sent: bytes | None = None) -> int:
        script = private_write_script(str(self.dir / name), len(data), mode)
        return subprocess.run(["/bin/sh", "-C", "-c", script], input=data if sent is None else sent,
                              capture_output=True, check=False).returncode

    def test_the_file_is_replaced_whole_with_its_mode(self) -> None:
        (self.dir / "key").write_text("old")
        os.chmod(self.dir / "key", 0o644)
        self.assertEqual(self.write("key", TRICKY.encode(), 0o640), 0)
        self.assertEqual((self.dir / "key").read_text(), TRICKY)
        self.assertEqual(stat.S_IMODE((self.dir / "key").stat().st_mode), 0o640)
        self.assertEqual(self.write("new/folder/key", b"s3cr3t", 0o600), 0)
        self.assertEqual(stat.S_IMODE((self.dir / "new/folder/key").stat().st_mode), 0o600)

    def test_content_cut_short_leaves_the_old_file(self) -> None:
        (self.dir / "key").write_text("old")
        self.assertEqual(self.write("key", b"complete content", 0o600, sent=b"complete"), 1)
        self.assertEqual((self.dir / "key").read_text(), "old")
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["key"])
