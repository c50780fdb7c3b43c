"""The SSH key pair heatdeploy generates for each cluster."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True, repr=False)
class KeyPair:
    """An ed25519 key pair in OpenSSH formats. ``repr`` never shows the private half."""

    private: str
    public: str

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public!r})"


def generate(comment: str = "") -> KeyPair:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return KeyPair(private, f"{public} {comment}" if comment else public)


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read: created 0600 from the start, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of its own: several processes may write the same file at once.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_private(path: Path, pair: KeyPair) -> None:
    """Write the private key where only its owner can read it, in a folder only they can list."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret(path, pair.private)
