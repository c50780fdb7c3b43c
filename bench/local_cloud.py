"""Benchmark of the local cloud: up/down times, memory, and a 20-server stack.

Usage: .venv/bin/python bench/local_cloud.py [--servers 20] [--dir DIR]

Uses its own state dir (a temporary one unless --dir) and its own
clouds.yaml, and leaves the cloud down. Targets: cold up <= 20 s, RSS of all
local-cloud processes <= 1.5 GiB, 20 servers CREATE_COMPLETE and reachable
over SSH <= 15 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paramiko  # noqa: E402

from heatdeploy.local import lifecycle, processes  # noqa: E402
from heatdeploy.local.state import State, load_secrets  # noqa: E402
from heatdeploy.ssh import keys

USER_DATA = """#cloud-config
ssh_authorized_keys: [KEY]
runcmd:
- >-
  printf '{"status":"SUCCESS","data":"%s"}'
  "$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)"
  | WC_NOTIFY --data-binary @-
"""


def template(count: int) -> dict[str, Any]:
    member = {
        "heat_template_version": "2021-04-16",
        "parameters": {"index": {"type": "string"}, "key": {"type": "string"}, "sg": {"type": "string"}},
        "resources": {
            # `provider`: fixed addresses the controller reaches (no floating IP to wait for).
            "port": {"type": "OS::Neutron::Port", "properties": {"network": "provider",
                                                                 "security_groups": [{"get_param": "sg"}]}},
            "handle": {"type": "OS::Heat::WaitConditionHandle"},
            "wait": {"type": "OS::Heat::WaitCondition",
                     "properties": {"handle": {"get_resource": "handle"}, "timeout": 300}},
            "server": {"type": "OS::Nova::Server", "properties": {
                "name": {"list_join": ["-", ["bench", {"get_param": "index"}]]},
                "flavor": "m1.small", "image": "local",
                "networks": [{"port": {"get_resource": "port"}}],
                "user_data_format": "RAW",
                "user_data": {"str_replace": {"template": USER_DATA, "params": {
                    "KEY": {"get_param": "key"},
                    "WC_NOTIFY": {"get_attr": ["handle", "curl_cli"]}}}}}},
        },
        "outputs": {"node": {"value": {"address": {"get_attr": ["server", "first_address"]},
                                       "host_key": {"get_attr": ["wait", "data"]}}}},
    }
    top = {
        "heat_template_version": "2021-04-16",
        "parameters": {"key": {"type": "string"}},
        "resources": {
            "ssh": {"type": "OS::Neutron::SecurityGroup", "properties": {"rules": [
                {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}]}},
            "nodes": {"type": "OS::Heat::ResourceGroup", "properties": {
                "count": count, "resource_def": {"type": "member.yaml", "properties": {
                    "index": "%index%", "key": {"get_param": "key"}, "sg": {"get_resource": "ssh"}}}}}},
        "outputs": {"nodes": {"value": {"get_attr": ["nodes", "node"]}}},
    }
    return {"template": top, "files": {"member.yaml": json.dumps(member)}}


def total_rss(root: Path) -> int:
    """RSS of every service process (with forked workers) and every instance process."""
    state = State.load(root)
    pids: set[int] = set()
    for pgid in state.pids.values():
        pids.update(processes.group_members(pgid))
    pids.update(processes.pids_mentioning(f"{root}/"))
    # Processes inside instances: descendants of the instances' unshare processes.
    for pid in list(pids):
        pids.update(_descendants(pid))
    return sum(processes.rss_bytes(pid) for pid in pids)


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return found
    for child in map(int, children):
        found.add(child)
        found.update(_descendants(child))
    return found


def timed(label: str, results: dict[str, float], func: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.monotonic()
    value = func(*args, **kwargs)
    results[label] = round(time.monotonic() - started, 2)
    print(f"{label:<34} {results[label]:>7.2f} s", flush=True)
    return value


def ssh_ready(address: str, host_key_data: str, client_key: paramiko.PKey,
              deadline: float) -> None:
    import base64

    line = next(iter(json.loads(host_key_data).values()))
    host_key = paramiko.Ed25519Key(data=base64.b64decode(line.split()[1]))
    while True:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.get_host_keys().add(address, host_key.get_name(), host_key)
        try:
            client.connect(address, username="root", pkey=client_key, look_for_keys=False,
                           allow_agent=False, timeout=5, banner_timeout=5)
            _, out, _ = client.exec_command("true")
            out.channel.recv_exit_status()
            return
        except (OSError, paramiko.SSHException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            client.close()


def server_stack(root: Path, count: int, results: dict[str, float]) -> None:
    from heatclient import client as heat_client
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    state = State.load(root)
    auth = v3.Password(auth_url=state.url("keystone", "/v3"), username="demo",
                       password=load_secrets(root)["demo"], project_name="demo",
                       user_domain_id="default", project_domain_id="default")
    heat = heat_client.Client("1", session=ks_session.Session(auth=auth))
    pair = keys.generate()
    client_key = paramiko.Ed25519Key.from_private_key(io.StringIO(pair.private))
    public = pair.public
    body = template(count)
    started = time.monotonic()
    stack_id = heat.stacks.create(stack_name=f"bench-{uuid.uuid4().hex[:6]}",
                                  template=body["template"], files=body["files"],
                                  parameters={"key": public})["stack"]["id"]
    holder: dict[str, Any] = {}

    def settled() -> bool:
        holder["stack"] = heat.stacks.get(stack_id)
        return not holder["stack"].stack_status.endswith("IN_PROGRESS")

    processes.wait_until(settled, 300, interval=0.1, what="bench stack")
    stack = holder["stack"]
    if stack.stack_status != "CREATE_COMPLETE":
        raise SystemExit(f"stack failed: {stack.stack_status_reason}")
    results[f"{count} servers CREATE_COMPLETE"] = round(time.monotonic() - started, 2)
    nodes = {o["output_key"]: o["output_value"] for o in stack.outputs}["nodes"]
    deadline = time.monotonic() + 60
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda n: ssh_ready(n["address"], n["host_key"], client_key, deadline),
                      nodes))
    results[f"{count} servers reachable over SSH"] = round(time.monotonic() - started, 2)
    for label in (f"{count} servers CREATE_COMPLETE", f"{count} servers reachable over SSH"):
        print(f"{label:<34} {results[label]:>7.2f} s", flush=True)
    results["RSS with servers (MiB)"] = round(total_rss(root) / 2**20)
    print(f"{'RSS with servers':<34} {results['RSS with servers (MiB)']:>7} MiB", flush=True)
    timed(f"delete {count} servers", results, _delete, heat, stack_id)


def _delete(heat: Any, stack_id: str) -> None:
    from heatclient import exc

    heat.stacks.delete(stack_id)

    def gone() -> bool:
        try:
            return bool(heat.stacks.get(stack_id).stack_status == "DELETE_COMPLETE")
        except exc.HTTPNotFound:
            return True

    processes.wait_until(gone, 300, interval=0.1, what="bench stack deleted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    root = (args.dir or Path(tempfile.mkdtemp(prefix="heatdeploy-bench-"))).resolve()
    os.environ["HEATDEPLOY_LOCAL_DIR"] = str(root)
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(root / "clouds.yaml")
    quiet = lambda line: None  # noqa: E731
    results: dict[str, float] = {}
    try:
        lifecycle.down(root, purge=True, log=quiet)
        timed("cold up", results, lifecycle.up, root, log=quiet)
        results["RSS idle (MiB)"] = round(total_rss(root) / 2**20)
        print(f"{'RSS idle':<34} {results['RSS idle (MiB)']:>7} MiB", flush=True)
        timed("warm up (already running)", results, lifecycle.up, root, log=quiet)
        timed("down", results, lifecycle.down, root, log=quiet)
        timed("up again (state kept)", results, lifecycle.up, root, log=quiet)
        server_stack(root, args.servers, results)
    finally:
        lifecycle.down(root, purge=args.dir is None, log=quiet)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
