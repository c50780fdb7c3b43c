"""OpenSSH command lines to a cluster's instances, for people and scripts.

They take the route heatdeploy's own connections take (the management
address, a proxy command, or the cluster's proxy gateway), with the
cluster's key, and accept only the host keys the instances reported at
boot: the known_hosts file is written from them and nothing else is
trusted.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from heatdeploy.instances import Instance
from heatdeploy.ssh import AccessConfig, gateway_for, known_host, management_address


def known_hosts(instances: Iterable[Instance], config: AccessConfig) -> str:
    """known_hosts lines for every address an instance may be reached at."""
    lines = []
    for instance in instances:
        if not instance.host_key:
            continue
        for address in dict.fromkeys([management_address(instance, config), instance.fixed_ip]):
            lines.append(f"{known_host(address, config.port)} {instance.host_key}")
    return "".join(line + "\n" for line in lines)


def ssh_argv(instance: Instance, instances: Sequence[Instance], config: AccessConfig, key_file: Path,
             known_hosts_file: Path, command: Sequence[str] = ()) -> list[str]:
    """The ``ssh`` command line reaching ``instance``; ``command`` runs there (a shell, when empty)."""
    options = ["-i", str(key_file), "-l", config.user, "-p", str(config.port),
               "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
               "-o", f"UserKnownHostsFile={known_hosts_file}", "-o", "GlobalKnownHostsFile=/dev/null",
               "-o", f"ConnectTimeout={int(config.connect_timeout)}"]
    gateway = gateway_for(instance, instances)
    if gateway is not None:
        hop = shlex.join(["ssh", *options, "-W", "%h:%p", management_address(gateway, config)])
        return ["ssh", *options, "-o", f"ProxyCommand={hop}", instance.fixed_ip, *command]
    if config.proxy_command:
        proxy = config.proxy_command.format(host="%h", port="%p")
        return ["ssh", *options, "-o", f"ProxyCommand={proxy}", management_address(instance, config), *command]
    return ["ssh", *options, management_address(instance, config), *command]
