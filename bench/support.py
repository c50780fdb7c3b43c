"""What the benchmarks share: a local cloud of their own in a temporary state dir."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heatdeploy.local.temporary import temporary_cloud  # noqa: E402

# Refused tunnel channels while a service starts are expected; keep them off the output.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

CLOUD = "heatdeploy-local"
TRUSTEE = "heatdeploy-local-trustee"


def local_cloud() -> contextlib.AbstractContextManager[Path]:
    """A local cloud of the benchmark's own, stopped afterwards."""
    return temporary_cloud()
