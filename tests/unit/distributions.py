"""Installable-looking distributions in a temporary folder, for entry point tests.

A folder on ``sys.path`` holding ``NAME-VERSION.dist-info/entry_points.txt``
is discovered by ``importlib.metadata`` exactly as an installed package is,
without running pip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def add_distribution(site: Path, dist: str, entry_points: dict[str, str],
                     modules: dict[str, str] | None = None) -> None:
    """Write a distribution ``dist`` with ``heatdeploy`` entry points and module files."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[heatdeploy]\n{lines}\n")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


def run_cli(site: Path, *args: str, env: dict[str, str] | None = None,
            extra_path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``python -m heatdeploy ARGS`` with ``site`` on the path."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEATDEPLOY_")}
    path = [str(site), *map(str, extra_path), str(ROOT)]
    environ["PYTHONPATH"] = os.pathsep.join(path)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "heatdeploy", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60, check=False)


def plugins_json(site: Path, env: dict[str, str] | None = None,
                 extra_path: tuple[Path, ...] = ()) -> dict[str, object]:
    result = run_cli(site, "plugins", "--format", "json", env=env, extra_path=extra_path)
    if result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return json.loads(result.stdout)
