"""OpenSSH command lines: the route heatdeploy takes, the cluster's key, only the pinned host keys."""

from __future__ import annotations

import dataclasses
import re
import shlex
import unittest
from pathlib import Path

from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import RemoteError
from heatdeploy.ssh import keys
from heatdeploy.ssh.connections import AccessConfig
from heatdeploy.ssh.openssh import known_hosts, ssh_argv

KEY, KNOWN = Path("/keys/100%/id_ed25519"), Path("/keys/100%/known_hosts")
CONFIG = AccessConfig(private_key="unused here")
MASTER_KEY, WORKER_KEY = keys.generate().public, keys.generate().public
MASTER = Instance("c-master-0", "1", "master", ("master",), "10.0.0.2", "172.24.4.2", MASTER_KEY)
WORKER = Instance("c-worker-0", "2", "worker", ("worker",), "10.0.0.3", None, WORKER_KEY)


def option(argv: list[str], name: str) -> str:
    values = [argv[n + 1].partition("=")[2] for n, a in enumerate(argv) if a == "-o" and argv[n + 1].startswith(name)]
    assert len(values) == 1, (name, argv)
    return values[0]


def expand(text: str, host: str, port: int) -> str:
    """What ssh does to a ProxyCommand before running it: %h, %p and %% (and refuses others)."""
    def token(match: re.Match[str]) -> str:
        return {"%%": "%", "%h": host, "%p": str(port)}[match.group()]
    return re.sub(r"%.", token, text)


class OpenSSHTest(unittest.TestCase):
    def test_known_hosts_pins_every_address_an_instance_is_reached_at(self) -> None:
        master, worker = (" ".join(k.split()[:2]) for k in (MASTER_KEY, WORKER_KEY))
        self.assertEqual(known_hosts([MASTER, WORKER], CONFIG).splitlines(), [
            f"172.24.4.2 {master}", f"10.0.0.2 {master}", f"10.0.0.3 {worker}"])
        other_port = dataclasses.replace(CONFIG, port=2222, use_floating_ip=False)
        self.assertEqual(known_hosts([MASTER], other_port), f"[10.0.0.2]:2222 {master}\n")

    def test_a_reported_key_adds_no_line_of_its_own(self) -> None:
        forged = dataclasses.replace(WORKER, host_key=WORKER_KEY + "\n@cert-authority * " + MASTER_KEY)
        self.assertEqual(known_hosts([forged], CONFIG).count("\n"), 1)
        self.assertNotIn("cert-authority", known_hosts([forged], CONFIG))

    def test_direct_to_the_floating_address_trusting_only_the_pinned_keys(self) -> None:
        argv = ssh_argv(MASTER, [MASTER, WORKER], CONFIG, KEY, KNOWN, ["df", "-h"])
        self.assertEqual(argv[0], "ssh")
        self.assertEqual(argv[-3:], ["172.24.4.2", "df", "-h"])
        self.assertEqual(option(argv, "StrictHostKeyChecking"), "yes")
        self.assertEqual(option(argv, "UserKnownHostsFile"), "/keys/100%%/known_hosts")
        self.assertEqual(option(argv, "GlobalKnownHostsFile"), "/dev/null")
        self.assertEqual(option(argv, "IdentityFile"), "/keys/100%%/id_ed25519")

    def test_through_the_proxy_gateway_to_the_fixed_address(self) -> None:
        gateway = dataclasses.replace(MASTER, proxy_gateway=True)
        argv = ssh_argv(WORKER, [gateway, WORKER], CONFIG, KEY, KNOWN)
        self.assertEqual(argv[-1], "10.0.0.3")
        hop = shlex.split(expand(option(argv, "ProxyCommand"), "10.0.0.3", 22))
        self.assertEqual(hop[-3:], ["-W", "[10.0.0.3]:22", "172.24.4.2"])
        self.assertIn("UserKnownHostsFile=/keys/100%%/known_hosts", hop)  # escaped again for the hop's own ssh
        self.assertNotIn("ProxyCommand", " ".join(ssh_argv(gateway, [gateway, WORKER], CONFIG, KEY, KNOWN)))

    def test_through_a_proxy_command_also_to_the_gateway(self) -> None:
        config = dataclasses.replace(CONFIG, proxy_command="bastion-nc {host} {port} 50%", use_floating_ip=False)
        argv = ssh_argv(MASTER, [MASTER], config, KEY, KNOWN)
        self.assertEqual(expand(option(argv, "ProxyCommand"), "10.0.0.2", 22), "bastion-nc 10.0.0.2 22 50%")
        gateway = dataclasses.replace(MASTER, proxy_gateway=True)
        hop = shlex.split(expand(option(ssh_argv(WORKER, [gateway, WORKER], config, KEY, KNOWN), "ProxyCommand"),
                                 "10.0.0.3", 22))
        self.assertIn("ProxyCommand=bastion-nc %h %p 50%%", hop)  # for the hop's own ssh to expand
        self.assertEqual(hop[-3:], ["-W", "[10.0.0.3]:22", "10.0.0.2"])

    def test_an_instance_without_a_usable_host_key_is_refused(self) -> None:
        with self.assertRaisesRegex(RemoteError, "c-worker-0: no host key"):
            ssh_argv(dataclasses.replace(WORKER, host_key=None), [MASTER, WORKER], CONFIG, KEY, KNOWN)
