"""First-boot user data for instances: a ``#cloud-config`` document.

It authorizes the cluster's generated key, writes plugins' files, runs their
commands and finally reports the instance's SSH host key to heatdeploy
through the Heat wait condition, so that heatdeploy can pin it instead of
trusting whatever key answers first.  Values that only exist once the stack
runs (the public key, the signal command) are left as tokens that the
template replaces with ``str_replace``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import yaml

from heatdeploy.plugin.template_parts import File, UserDataPart

PUBLIC_KEY_TOKEN = "__heatdeploy_public_key__"
SIGNAL_TOKEN = "__heatdeploy_wc_token__"
ENDPOINT_TOKEN = "__heatdeploy_wc_endpoint__"
SIGNAL_SCRIPT_PATH = "/var/lib/heatdeploy/report-host-key.sh"
SIGNAL_CONFIG_PATH = "/var/lib/heatdeploy/signal.curl"
HOST_KEY_PATH = "/etc/ssh/ssh_host_ed25519_key.pub"
INSTANCE_ID_PATH = "/var/lib/cloud/data/instance-id"

# The wait condition's token and address go in a root-only curl config file
# (never on a command line, where ps shows it; any curl reads -K), deleted
# when the script ends. Heat's tokens and URLs hold no quote or backslash.
SIGNAL_CONFIG = (f'url = "{ENDPOINT_TOKEN}"\nheader = "X-Auth-Token: {SIGNAL_TOKEN}"\n'
                 'header = "Content-Type: application/json"\nheader = "Accept: application/json"\n')

# The signal's id is the server's id (cloud-init's instance-id), so a replaced
# server's report never passes for its predecessor's. The host key is "type
# base64 [comment]"; the comment is dropped because it is free text and the
# JSON below is built by printf. Both are checked to hold only safe characters.
SIGNAL_SCRIPT = f"""#!/bin/sh
# Reports this instance's SSH host key to heatdeploy, which pins it, then forgets how to signal.
trap 'rm -f {SIGNAL_CONFIG_PATH}' EXIT
key=$(cut -d' ' -f1,2 {HOST_KEY_PATH})
id=$(cat {INSTANCE_ID_PATH} 2>/dev/null)
case "$id" in *[!0-9A-Za-z_-]*) id= ;; esac
case "$key" in *[!0-9A-Za-z+/=\\ .@-]*) echo "unexpected host key" >&2; exit 1 ;; esac
if [ -n "$id" ]; then id=', "id": "'"$id"'"'; fi
printf '{{"status": "SUCCESS", "reason": "booted"%s, "data": "%s"}}' "$id" "$key" \\
  | curl -sS --fail --retry 10 --retry-connrefused -o /dev/null -X POST -K {SIGNAL_CONFIG_PATH} --data-binary @-
"""


class UserDataError(ValueError):
    """A plugin's user data part is unusable."""


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes multi-line strings as literal blocks, which keeps scripts readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _check_tokens(part: UserDataPart) -> None:
    texts = [f.path for f in part.files] + [f.content for f in part.files]
    texts += [c if isinstance(c, str) else " ".join(c) for c in part.commands]
    for text in texts:
        if any(token in text for token in (PUBLIC_KEY_TOKEN, SIGNAL_TOKEN, ENDPOINT_TOKEN)):
            raise UserDataError(f"user data contains a reserved __heatdeploy_ token: {text[:80]!r}")


def _file(f: File) -> dict[str, Any]:
    return {"path": f.path, "content": f.content, "permissions": f.permissions}


def cloud_config(parts: Iterable[UserDataPart]) -> str:
    """The cloud-config text for one node group, from the plugins' parts."""
    key = tuple(parts)
    try:
        hash(key)
    except TypeError:  # a part holding a list: correct, only not cacheable
        return _cloud_config.__wrapped__(key)
    return _cloud_config(key)


@functools.lru_cache(maxsize=64)
def _cloud_config(parts: tuple[UserDataPart, ...]) -> str:
    # Node groups mostly share their parts: one YAML dump serves them all (parts are frozen).
    files: list[dict[str, Any]] = []
    commands: list[Any] = []
    for part in parts:
        _check_tokens(part)
        files.extend(_file(f) for f in part.files)
        commands.extend(c if isinstance(c, str) else list(c) for c in part.commands)
    files.append({"path": SIGNAL_CONFIG_PATH, "content": SIGNAL_CONFIG, "permissions": "0600"})
    files.append({"path": SIGNAL_SCRIPT_PATH, "content": SIGNAL_SCRIPT, "permissions": "0700"})
    commands.append(["sh", SIGNAL_SCRIPT_PATH])
    document = {
        "disable_root": False,
        "ssh_authorized_keys": [PUBLIC_KEY_TOKEN],
        "write_files": files,
        "runcmd": commands,
    }
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    return "#cloud-config\n" + body
