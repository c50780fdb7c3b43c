"""Swift: one-replica rings, configs and the four servers.

Every config names `swift_dir` so nothing is read from /etc/swift. The
proxy authenticates with Keystone (authtoken + keystoneauth, `member` may
own containers) and serves temp URLs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from heatdeploy.local import processes
from heatdeploy.local.state import State, write_private

SERVERS = ("account", "container", "object")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# tempurl before authtoken: a temp URL needs no token at all.
_PIPELINE = ("pipeline = catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk tempurl "
             "authtoken keystoneauth copy slo dlo proxy-logging proxy-server")


def _dir(state: State) -> Path:
    return state.dir("swift")


def build_rings(state: State) -> None:
    """One device, one replica, for account, container and object.

    Built by RingBuilder in a child process: importing Swift loads eventlet,
    which must stay out of the caller's threads."""
    sdir = _dir(state)
    if all((sdir / f"{kind}.ring.gz").exists() for kind in SERVERS):
        return
    ports = {kind: state.ports[f"swift-{kind}"] for kind in SERVERS}
    processes.run([sys.executable, "-c", _RING_SCRIPT, str(sdir), json.dumps(ports)],
                  state.log("swift-rings"))


_RING_SCRIPT = """
import json, sys
from swift.common.ring import RingBuilder
sdir, ports = sys.argv[1], json.loads(sys.argv[2])
for kind, port in ports.items():
    builder = RingBuilder(6, 1, 0)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                     "device": "d1", "weight": 100, "meta": ""})
    builder.rebalance()
    builder.get_ring().save(f"{sdir}/{kind}.ring.gz")
    builder.save(f"{sdir}/{kind}.builder")
"""


def write_config(state: State, passwords: dict[str, str]) -> None:
    sdir = _dir(state)
    (sdir / "devices" / "d1").mkdir(parents=True, exist_ok=True)
    write_private(sdir / "swift.conf", f"""\
[swift-hash]
swift_hash_path_suffix = {passwords['swift_hash']}

[storage-policy:0]
name = Policy-0
default = yes
""")
    common = f"""\
[DEFAULT]
swift_dir = {sdir}
devices = {sdir / 'devices'}
mount_check = false
workers = 0
log_level = INFO
"""
    for kind in SERVERS:
        (sdir / f"{kind}-server.conf").write_text(f"""\
{common}bind_ip = 127.0.0.1
bind_port = {state.ports[f'swift-{kind}']}

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
""")
    keystone = state.url("keystone", "/v3")
    # The proxy is public: on the gateway, where instances reach it (temp URLs).
    write_private(sdir / "proxy-server.conf", f"""\
{common}bind_ip = {state.address('swift-proxy')}
bind_port = {state.ports['swift-proxy']}

[pipeline:main]
{_PIPELINE}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
username = swift
password = {passwords['swift']}
project_name = service
user_domain_id = default
project_domain_id = default
# keystoneauth decides, so temp URLs and public containers work without a token
delay_auth_decision = true

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member

[filter:tempurl]
use = egg:swift#tempurl

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging
# Log no part of tokens or temp URL signatures.
reveal_sensitive_prefix = 0

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
""")


def start(state: State, kind: str) -> int:
    """Start one Swift server: kind is account, container, object or proxy."""
    sdir = _dir(state)
    conf = sdir / f"{kind}-server.conf"
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    argv = [sys.executable, "-m", "heatdeploy.local.swift_server", kind, str(conf)]
    return processes.start(argv, state.log(f"swift-{kind}"), env=env, cwd=sdir)


def wait_ready(state: State, kind: str, pid: int) -> None:
    path = "/healthcheck" if kind == "proxy" else "/recon/"
    service = f"swift-{kind}"
    processes.wait_http(f"Swift {kind} server", state.address(service), state.ports[service], path,
                        pid, state.log(f"swift-{kind}"))
