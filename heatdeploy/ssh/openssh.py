"""OpenSSH command lines to a cluster's instances, for people and scripts.

They take the route heatdeploy's own connections take (the management
address, a proxy command, or the cluster's proxy gateway), with the
cluster's key, and accept only the host keys the instances reported at
boot: the known_hosts file is written from them and nothing else is
trusted.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from heatdeploy.plugin.instance import Instance
from heatdeploy.ssh.connections import AccessConfig, gateway_for, known_host, management_address, pinned_key


def known_hosts(instances: Iterable[Instance], config: AccessConfig) -> str:
    """known_hosts lines for every address an instance may be reached at.

    Each key is parsed first and written back as type and base64 only: what
    an instance reported can add no other line (no ``@cert-authority``).
    """
    lines = []
    for instance in instances:
        if not instance.host_key:
            continue
        key = pinned_key(instance)
        for address in dict.fromkeys([management_address(instance, config), instance.fixed_ip]):
            lines.append(f"{known_host(address, config.port)} {key.get_name()} {key.get_base64()}")
    return "".join(line + "\n" for line in lines)


def ssh_argv(instance: Instance, instances: Sequence[Instance], config: AccessConfig, key_file: Path,
             known_hosts_file: Path, command: Sequence[str] = ()) -> list[str]:
    """The ``ssh`` command line reaching ``instance``; ``command`` runs there (a shell, when empty).

    Like ``ssh`` itself, the command's words are joined with spaces and read
    by the instance's shell.
    """
    gateway = gateway_for(instance, instances)
    for needed in (instance, gateway):
        if needed is not None:
            pinned_key(needed)  # a clear error for an instance that reported no usable host key
    options = ["-o", f"IdentityFile={_literal(str(key_file))}", "-l", config.user, "-p", str(config.port),
               "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
               "-o", f"UserKnownHostsFile={_literal(str(known_hosts_file))}", "-o", "GlobalKnownHostsFile=/dev/null",
               "-o", f"ConnectTimeout={max(1, math.ceil(config.connect_timeout))}"]
    proxy = []
    if config.proxy_command:
        proxy = ["-o", "ProxyCommand=" + _literal(config.proxy_command).format(host="%h", port="%p")]
    if gateway is None:
        return ["ssh", *options, *proxy, management_address(instance, config), *command]
    # The outer ssh expands the hop's %-tokens once before running it: all but
    # -W's (the target, which the hop forwards to) are escaped to survive that.
    inner = [_literal(word) for word in ["ssh", *options, *proxy]]
    hop = shlex.join([*inner, "-W", "[%h]:%p", _literal(management_address(gateway, config))])
    return ["ssh", *options, "-o", f"ProxyCommand={hop}", instance.fixed_ip, *command]


def _literal(text: str) -> str:
    """``text`` with ``%`` escaped, for ssh options that expand %-tokens."""
    return text.replace("%", "%%")
