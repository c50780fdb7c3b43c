"""Local volumes: a sparse file per volume in the state dir, attached as a loop device.

DIR/cloud/volume-data/<volume id>.img has the volume's size and costs only
the blocks written. Attaching sets up a loop device over it (one per
volume, found again with ``losetup -j``), which the instance sees at the
device name the attachment names; detaching and ``local down`` release it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from heatdeploy.local import registry

GiB = 1024 ** 3


def image(volume_id: str) -> Path:
    return registry.root() / "volume-data" / f"{volume_id}.img"


def create(volume_id: str, size_gb: int) -> None:
    path = image(volume_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as f:
        f.truncate(size_gb * GiB)


def _losetup(*args: str) -> str:
    done = subprocess.run(["losetup", *args], check=True, capture_output=True, text=True, timeout=30)
    return done.stdout


def loops_of(path: Path) -> list[str]:
    """The loop devices set up over ``path`` (``losetup -j`` prints ``/dev/loopN: [...]: (PATH)``)."""
    if not path.exists():
        return []
    return [line.split(":", 1)[0] for line in _losetup("-j", str(path)).splitlines() if line.strip()]


def attach_loop(volume_id: str) -> str:
    """The volume's loop device, set up if it has none."""
    path = image(volume_id)
    existing = loops_of(path)
    return existing[0] if existing else _losetup("-f", "--show", str(path)).strip()


def detach_loops(volume_id: str) -> None:
    for loop in loops_of(image(volume_id)):
        subprocess.run(["losetup", "-d", loop], check=False, capture_output=True, timeout=30)


def remove(volume_id: str) -> None:
    detach_loops(volume_id)
    image(volume_id).unlink(missing_ok=True)


def detach_all(root: Path) -> None:
    """Release every loop device over the volumes of the cloud in ``root`` (``local down``)."""
    with registry.using(root):
        folder = image("x").parent
        for path in sorted(folder.glob("*.img")) if folder.is_dir() else []:
            detach_loops(path.stem)
