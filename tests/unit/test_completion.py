"""heatdeploy completion bash|zsh: scripts generated from the parser, tried in a real bash."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.unit.test_cli import run

# Completes the words of $1 as bash would at the end of the line, and prints the candidates, one a line.
COMPLETE = """\
source "$SCRIPT"
COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
"$(complete -p heatdeploy | sed 's/.*-F \\([^ ]*\\) .*/\\1/')" heatdeploy "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


@unittest.skipUnless(shutil.which("bash"), "bash is not installed")
class BashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        done = subprocess.run([sys.executable, "-m", "heatdeploy", "completion", "bash"], capture_output=True,
                              text=True, timeout=60, check=True)
        folder = tempfile.TemporaryDirectory()
        cls.addClassCleanup(folder.cleanup)
        cls.script = Path(folder.name) / "heatdeploy.bash"
        cls.script.write_text(done.stdout)

    def complete(self, line: str) -> list[str]:
        done = subprocess.run(["bash", "-c", COMPLETE, "complete", line], capture_output=True, text=True,
                              timeout=60, check=True, env={"SCRIPT": str(self.script), "PATH": "/usr/bin:/bin"})
        return done.stdout.split()

    def test_commands_sub_commands_and_options_complete(self) -> None:
        self.assertEqual(self.complete("heatdeploy jo"), ["job"])
        self.assertEqual(sorted(self.complete("heatdeploy job ")), ["cancel", "list", "logs", "run", "status"])
        self.assertEqual(sorted(self.complete("heatdeploy list --os-c")), ["--os-cacert", "--os-cert", "--os-cloud"])
        self.assertEqual(self.complete("heatdeploy status demo -f "), ["text", "json", "table", "yaml", "value"])


class ZshTest(unittest.TestCase):
    def test_the_zsh_script_defines_heatdeploys_completion(self) -> None:
        status, out, _ = run("completion", "zsh")
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("#compdef heatdeploy\n"), out[:100])
        self.assertIn('"--os-cacert[', out)
        self.assertIn("completion:'print a shell completion script for heatdeploy'", out)
        self.assertIn(":cluster spec file (YAML):_files", out)

    def test_an_unknown_shell_is_bad_input(self) -> None:
        status, _, err = run("completion", "fish")
        self.assertEqual(status, 2)
        self.assertIn("invalid choice: 'fish' (choose from 'bash', 'zsh')", err)
