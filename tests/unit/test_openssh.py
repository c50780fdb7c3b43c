"""OpenSSH command lines: the route heatdeploy takes, the cluster's key, only the pinned host keys."""

from __future__ import annotations

import dataclasses
import shlex
import unittest
from pathlib import Path

from heatdeploy.instances import Instance
from heatdeploy.openssh import known_hosts, ssh_argv
from heatdeploy.ssh import AccessConfig

KEY, KNOWN = Path("/keys/id_ed25519"), Path("/keys/known_hosts")
CONFIG = AccessConfig(private_key="unused here")
MASTER = Instance("c-master-0", "1", "master", ("master",), "10.0.0.2", "172.24.4.2", "ssh-ed25519 AAAAmaster")
WORKER = Instance("c-worker-0", "2", "worker", ("worker",), "10.0.0.3", None, "ssh-ed25519 AAAAworker")


def option(argv: list[str], name: str) -> str:
    values = [argv[n + 1].partition("=")[2] for n, a in enumerate(argv) if a == "-o" and argv[n + 1].startswith(name)]
    assert len(values) == 1, (name, argv)
    return values[0]


class OpenSSHTest(unittest.TestCase):
    def test_known_hosts_pins_every_address_an_instance_is_reached_at(self) -> None:
        self.assertEqual(known_hosts([MASTER, WORKER], CONFIG).splitlines(), [
            "172.24.4.2 ssh-ed25519 AAAAmaster", "10.0.0.2 ssh-ed25519 AAAAmaster",
            "10.0.0.3 ssh-ed25519 AAAAworker"])
        other_port = dataclasses.replace(CONFIG, port=2222, use_floating_ip=False)
        self.assertEqual(known_hosts([MASTER], other_port), "[10.0.0.2]:2222 ssh-ed25519 AAAAmaster\n")

    def test_direct_to_the_floating_address_trusting_only_the_pinned_keys(self) -> None:
        argv = ssh_argv(MASTER, [MASTER, WORKER], CONFIG, KEY, KNOWN, ["df", "-h"])
        self.assertEqual(argv[0], "ssh")
        self.assertEqual(argv[-3:], ["172.24.4.2", "df", "-h"])
        self.assertEqual(option(argv, "StrictHostKeyChecking"), "yes")
        self.assertEqual(option(argv, "UserKnownHostsFile"), str(KNOWN))
        self.assertEqual(option(argv, "GlobalKnownHostsFile"), "/dev/null")
        self.assertEqual(argv[argv.index("-i") + 1], str(KEY))

    def test_through_the_proxy_gateway_to_the_fixed_address(self) -> None:
        gateway = dataclasses.replace(MASTER, proxy_gateway=True)
        argv = ssh_argv(WORKER, [gateway, WORKER], CONFIG, KEY, KNOWN)
        self.assertEqual(argv[-1], "10.0.0.3")
        hop = shlex.split(option(argv, "ProxyCommand"))
        self.assertEqual(hop[-3:], ["-W", "%h:%p", "172.24.4.2"])
        self.assertIn(f"UserKnownHostsFile={KNOWN}", hop)
        self.assertNotIn("ProxyCommand", " ".join(ssh_argv(gateway, [gateway, WORKER], CONFIG, KEY, KNOWN)))

    def test_through_a_proxy_command(self) -> None:
        config = dataclasses.replace(CONFIG, proxy_command="ssh -W {host}:{port} bastion", use_floating_ip=False)
        argv = ssh_argv(MASTER, [MASTER], config, KEY, KNOWN)
        self.assertEqual((option(argv, "ProxyCommand"), argv[-1]), ("ssh -W %h:%p bastion", "10.0.0.2"))
