"""Heat of the local cloud: stacks of local servers, reached over pinned SSH."""

from __future__ import annotations

import socket
import uuid

import paramiko
import pytest
from keystoneclient.v3 import client as ks_client

from heatdeploy.local import instances, processes
from tests.functional.cloudtools import (
    LocalCloud,
    delete_stack,
    heat_for,
    host_key_from_wait_data,
    node_template,
    outputs,
    run,
    ssh_pinned,
    wait_stack,
)


def _create(heat, count: int, key: str, flavor: str = "m1.small") -> str:  # type: ignore[no-untyped-def]
    body = node_template(count, flavor)
    created = heat.stacks.create(stack_name=f"test-{uuid.uuid4().hex[:8]}",
                                 template=body["template"], files=body["files"],
                                 parameters={"key": key}, timeout_mins=5)
    return str(created["stack"]["id"])


def _check_nodes(nodes: list[dict], client_key: paramiko.PKey) -> None:  # type: ignore[type-arg]
    for node in nodes:
        host_key = host_key_from_wait_data(node["host_key"])
        # On network `private` the controller reaches an instance only through its floating IP.
        with pytest.raises(OSError, match="No route to host"):
            socket.create_connection((node["address"], 22), timeout=5)
        for address in (node["floating"],):
            with ssh_pinned(address, host_key, client_key) as client:
                assert run(client, "hostname").strip() == node["name"]
                assert run(client, "cat /etc/heatdeploy/node.conf") == "configured\n"
                assert run(client, "cat /var/lib/heatdeploy/booted") == "booted\n"
                # The volume is a block device of the instance's own /dev, by name and by id, as on KVM.
                assert run(client, "test -b /dev/vdb && ls /dev/disk/by-id").startswith("virtio-")
                assert run(client, "ls /dev | grep -c '^loop'; true") == "0\n"
                # /etc/hosts is the instance's own and writable.
                run(client, "echo '127.42.9.9 other' >> /etc/hosts")
        assert node["fixed_ips"] == [{"ip_address": node["address"],
                                      "subnet_id": "private-subnet"}]


def test_stack_of_two_servers_create_update_delete(local_cloud: LocalCloud, ssh_key) -> None:  # type: ignore[no-untyped-def]
    client_key, public = ssh_key
    heat = heat_for(local_cloud.session("demo", "demo"))
    stack_id = _create(heat, 2, public)
    try:
        stack = wait_stack(heat, stack_id)
        assert stack.stack_status == "CREATE_COMPLETE", stack.stack_status_reason
        nodes = outputs(stack)["nodes"]
        assert sorted(n["name"] for n in nodes) == ["node-0", "node-1"]
        _check_nodes(nodes, client_key)
        with open("/etc/hosts") as hosts:
            assert "127.42.9.9" not in hosts.read()

        # An unknown host key is refused: nothing is trusted blindly.
        with pytest.raises(paramiko.SSHException):
            ssh_pinned(nodes[0]["floating"], None, client_key)

        body = node_template(3)
        heat.stacks.update(stack_id, template=body["template"], files=body["files"],
                           parameters={"key": public})
        stack = wait_stack(heat, stack_id)
        assert stack.stack_status == "UPDATE_COMPLETE", stack.stack_status_reason
        grown = outputs(stack)["nodes"]
        assert sorted(n["name"] for n in grown) == ["node-0", "node-1", "node-2"]
        _check_nodes([n for n in grown if n["name"] == "node-2"], client_key)
        server_ids = [n["server_id"] for n in grown]
    finally:
        delete_stack(heat, stack_id)
    # Deleting the servers ended their instances.
    pids = [instances.recorded_pid(s) for s in server_ids]
    assert not [p for p in pids if p and processes.alive(p)]
    assert not [s for s in server_ids if instances.instance_dir(s).exists()]


def test_unknown_flavor_fails_like_nova(local_cloud: LocalCloud, ssh_key) -> None:  # type: ignore[no-untyped-def]
    heat = heat_for(local_cloud.session("demo", "demo"))
    stack_id = _create(heat, 1, ssh_key[1], flavor="m1.huge")
    try:
        stack = wait_stack(heat, stack_id)
        assert stack.stack_status == "CREATE_FAILED"
        assert "Flavor m1.huge could not be found" in stack.stack_status_reason
    finally:
        delete_stack(heat, stack_id)


def test_stack_created_with_a_trust_scoped_token(local_cloud: LocalCloud, ssh_key) -> None:  # type: ignore[no-untyped-def]
    client_key, public = ssh_key
    # Heat makes its own trust from this token: the parent trust must allow
    # redelegation (Heat asks only for member, see trusts_delegated_roles).
    trust = local_cloud.trust(["member"], redelegation=True)
    demo = local_cloud.session("demo", "demo")
    heat = heat_for(local_cloud.trust_session(trust.id))
    stack_id = None
    try:
        stack_id = _create(heat, 1, public)
        stack = wait_stack(heat, stack_id)
        assert stack.stack_status == "CREATE_COMPLETE", stack.stack_status_reason
        node = outputs(stack)["nodes"][0]
        with ssh_pinned(node["floating"], host_key_from_wait_data(node["host_key"]),
                        client_key) as client:
            assert run(client, "hostname").strip() == "node-0"
    finally:
        if stack_id:
            delete_stack(heat_for(demo), stack_id)
        ks_client.Client(session=demo).trusts.delete(trust.id)


def test_changed_user_data_replaces_the_server_on_the_same_port(  # type: ignore[no-untyped-def]
        local_cloud: LocalCloud, ssh_key) -> None:
    client_key, public = ssh_key
    heat = heat_for(local_cloud.session("demo", "demo"))
    stack_id = _create(heat, 1, public)
    try:
        stack = wait_stack(heat, stack_id)
        assert stack.stack_status == "CREATE_COMPLETE", stack.stack_status_reason
        before = outputs(stack)["nodes"][0]
        body = node_template(1)
        member = body["files"]["node.yaml"].replace("configured", "reconfigured")
        heat.stacks.update(stack_id, template=body["template"],
                           files={"node.yaml": member}, parameters={"key": public})
        stack = wait_stack(heat, stack_id)
        assert stack.stack_status == "UPDATE_COMPLETE", stack.stack_status_reason
        after = outputs(stack)["nodes"][0]
        # A new server (new host key) on the same port and floating IP.
        assert after["server_id"] != before["server_id"]
        assert (after["address"], after["floating"]) == (before["address"], before["floating"])
        assert after["host_key"] != before["host_key"]
        assert not instances.instance_dir(before["server_id"]).exists()
        with ssh_pinned(after["floating"], host_key_from_wait_data(after["host_key"]),
                        client_key) as client:
            assert run(client, "cat /etc/heatdeploy/node.conf") == "reconfigured\n"
            # The volume moved to the new server and still reads: its loop device was kept.
            assert run(client, "head -c 512 /dev/vdb | wc -c") == "512\n"
    finally:
        delete_stack(heat, stack_id)
