"""The local cloud's nftables table, rendered from records: what it lets through, and that it always loads."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import Any

from heatdeploy.local import network, registry
from heatdeploy.local.state import State

GROUP = "5b9a3c1e-0000-4000-8000-00000000000a"
OTHER = "6c8b4d2f-0000-4000-8000-00000000000b"
PORT = "7d7c5e30-0000-4000-8000-00000000000c"
OCTET = 98  # the last one a cloud claims: the check below must not meet a running cloud's table


class RulesetTest(unittest.TestCase):
    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.root)
        state = State(root=self.root, network=OCTET)
        state.save()
        self.using = registry.using(self.root)
        self.using.__enter__()
        self.addCleanup(self.using.__exit__, None, None, None)

    def table(self, rules: list[dict[str, Any]]) -> str:
        registry.save("security_groups", GROUP, {"id": GROUP, "name": "g", "rules": rules})
        registry.save("ports", PORT, {"id": PORT, "address": f"127.{OCTET}.0.10", "network": "private",
                                      "security_groups": [GROUP]})
        registry.save("floating_ips", "f", {"id": "f", "address": f"127.{OCTET + 1}.0.10", "port_id": PORT})
        return network.ruleset(OCTET)

    def port_chain(self, table: str) -> list[str]:
        start = table.index(f"chain port_{PORT.replace('-', '')}")
        return [line.strip() for line in table[start:].split("}", 1)[0].splitlines()[1:] if line.strip()]

    def test_each_rule_becomes_one_match_and_the_rest_is_dropped(self) -> None:
        chain = self.port_chain(self.table([
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"},
            {"protocol": "tcp", "port_range_min": 7077, "port_range_max": 7080, "remote_ip_prefix": "10.0.0.0/8"},
            {"protocol": "icmp"},
            {"remote_mode": "remote_group_id"},
            {"direction": "egress", "protocol": "udp"},
            {"ethertype": "IPv6", "protocol": "tcp", "remote_ip_prefix": "::/0"},
        ]))
        self.assertEqual(chain, ["tcp dport 22 accept", "ip saddr 10.0.0.0/8 tcp dport 7077-7080 accept",
                                 "meta l4proto icmp accept", f"ip saddr @sg_{GROUP.replace('-', '')} accept",
                                 "counter drop"])

    def test_a_rule_no_port_fits_is_left_out_instead_of_breaking_the_table(self) -> None:
        chain = self.port_chain(self.table([
            {"protocol": "tcp", "port_range_min": 70000}, {"protocol": "tcp", "port_range_min": 100,
                                                           "port_range_max": 50},
            {"protocol": "tcp", "port_range_min": "22; flush ruleset"}, {"protocol": "tcp; drop"},
            {"remote_ip_prefix": "1.2.3.4/33"},
        ]))
        self.assertEqual(chain, ["counter drop"])

    def test_a_remote_group_that_is_gone_is_an_empty_set(self) -> None:
        table = self.table([{"remote_mode": "remote_group_id", "remote_group_id": OTHER.upper()}])
        self.assertIn(f"set sg_{OTHER.replace('-', '')} {{", table)

    def test_floating_ips_and_the_controller(self) -> None:
        table = self.table([])
        self.assertIn(f"elements = {{ 127.{OCTET + 1}.0.10 : 127.{OCTET}.0.10 }}", table)
        self.assertIn("reject with icmp type host-unreachable", table)

    @unittest.skipUnless(shutil.which("nft") and subprocess.run(["id", "-u"], capture_output=True,
                                                                 text=True).stdout.strip() == "0",
                         "nft checks need root and nftables")
    def test_nftables_accepts_the_table(self) -> None:
        table = self.table([
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"},
            {"remote_mode": "remote_group_id", "remote_group_id": OTHER},
        ])
        # -c: checked by the kernel in a transaction that is never committed.
        done = subprocess.run(["nft", "-c", "-f", "-"], input=table,
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr + json.dumps(table))
