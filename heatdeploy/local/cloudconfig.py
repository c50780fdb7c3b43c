"""Turn a server's user data into what a local instance applies at boot.

The subset of cloud-init heatdeploy relies on:

- `ssh_authorized_keys`: authorized for root (applied before sshd starts)
- `write_files`: path, content, permissions (octal string), owner
- `runcmd`: strings run with `sh -c`, lists run as argv, in order, as root,
  after the files are written; a failing command does not stop the rest
- `disable_root` and every other key: accepted and ignored

User data starting with `#!` is run as a script instead, like cloud-init does.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class BootConfig:
    authorized_keys: list[str] = field(default_factory=list)
    script: str = "#!/bin/sh\n"


def parse(user_data: str | None) -> BootConfig:
    text = user_data or ""
    if text.startswith("#!"):
        return BootConfig(script=_script_runner(text))
    if not text.lstrip().startswith("#cloud-config"):
        return BootConfig(script=_finish(["#!/bin/sh"]))
    try:
        data: dict[str, Any] = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        # cloud-init would skip it and the wait condition would time out: fail now.
        raise ValueError(f"user_data is not valid #cloud-config YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("#cloud-config user data must be a YAML mapping")
    keys = [str(k).strip() for k in data.get("ssh_authorized_keys") or []]
    lines = ["#!/bin/sh", "umask 022"]
    for item in data.get("write_files") or []:
        lines += _write_file(item)
    for number, command in enumerate(data.get("runcmd") or [], start=1):
        lines += _run(number, command)
    return BootConfig(authorized_keys=keys, script=_finish(lines))


def _write_file(item: dict[str, Any]) -> list[str]:
    path = str(item["path"])
    content = item.get("content", "")
    if item.get("encoding") in ("b64", "base64"):
        raw = base64.b64decode(content)
    else:
        raw = str(content).encode()
    mode = str(item.get("permissions", "0644"))
    owner = str(item.get("owner", "root:root"))
    quoted = shlex.quote(path)
    # base64 keeps any content intact through the shell.
    encoded = base64.b64encode(raw).decode()
    return [
        f"mkdir -p \"$(dirname {quoted})\"",
        f"printf '%s' {shlex.quote(encoded)} | base64 -d > {quoted}",
        f"chmod {shlex.quote(mode)} {quoted}",
        f"chown {shlex.quote(owner)} {quoted} || true",
    ]


def _run(number: int, command: str | list[Any]) -> list[str]:
    if isinstance(command, list):
        line = shlex.join(str(part) for part in command)
    else:
        line = f"sh -c {shlex.quote(str(command))}"
    return [f"{line} || echo \"runcmd {number} failed with status $?\" >&2"]


def _finish(lines: list[str]) -> str:
    # Like cloud-init's marker: steps can wait for it instead of guessing.
    lines += ["mkdir -p /var/lib/cloud/instance", "touch /var/lib/cloud/instance/boot-finished"]
    return "\n".join(lines) + "\n"


def _script_runner(text: str) -> str:
    encoded = base64.b64encode(text.encode()).decode()
    return _finish([
        "#!/bin/sh", "mkdir -p /var/lib/cloud/instance",
        f"printf '%s' {shlex.quote(encoded)} | base64 -d > /var/lib/cloud/instance/user-data",
        "chmod 0700 /var/lib/cloud/instance/user-data",
        "/var/lib/cloud/instance/user-data || echo \"user data failed with status $?\" >&2",
    ])
