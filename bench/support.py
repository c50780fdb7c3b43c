"""What the benchmarks share: a local cloud of their own in a temporary state dir."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heatdeploy.local import lifecycle  # noqa: E402

# Refused tunnel channels while a service starts are expected; keep them off the output.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

CLOUD = "heatdeploy-local"
TRUSTEE = "heatdeploy-local-trustee"


@contextlib.contextmanager
def local_cloud() -> Iterator[Path]:
    """Start a local cloud in a temporary state dir with its own clouds.yaml; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="heatdeploy-bench-") as tmp:
        root = Path(tmp)
        saved = {k: os.environ.get(k) for k in ("HEATDEPLOY_LOCAL_DIR", "OS_CLIENT_CONFIG_FILE")}
        os.environ["HEATDEPLOY_LOCAL_DIR"] = str(root)
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(root / "clouds.yaml")
        try:
            lifecycle.up(root, log=lambda line: None)
            yield root
        finally:
            lifecycle.down(root, log=lambda line: None)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
