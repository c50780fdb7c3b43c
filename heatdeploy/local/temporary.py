"""A throwaway local cloud: its own state dir and clouds.yaml, stopped afterwards.

For tests and benchmarks, in heatdeploy and in plugins::

    with temporary_cloud() as root:
        ...  # --os-cloud heatdeploy-local works here
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from heatdeploy.local import lifecycle

_ENVIRONMENT = ("HEATDEPLOY_LOCAL_DIR", "OS_CLIENT_CONFIG_FILE")


@contextlib.contextmanager
def temporary_cloud(root: Path | None = None, token_expiration: int | None = None) -> Iterator[Path]:
    """Start a local cloud in ``root`` (default: a new temporary folder); yield its state dir.

    The user's own clouds.yaml is left alone: ``OS_CLIENT_CONFIG_FILE`` points
    at one inside the state dir while the block runs. The cloud is stopped,
    and the environment restored, however the block ends.
    """
    with contextlib.ExitStack() as stack:
        temporary = root is None
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="heatdeploy-local-")))
        saved = {key: os.environ.get(key) for key in _ENVIRONMENT}
        os.environ["HEATDEPLOY_LOCAL_DIR"] = str(root)
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(root / "clouds.yaml")
        try:
            lifecycle.up(root, token_expiration=token_expiration, log=lambda line: None)
            yield root
        finally:
            # A folder of our own goes, and with it the cloud's claim on its local network.
            lifecycle.down(root, purge=temporary, log=lambda line: None)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
