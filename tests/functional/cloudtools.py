"""Helpers of the functional tests: sessions, trusts, stacks, pinned SSH."""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import paramiko
from heatclient import client as heat_client
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

from heatdeploy.local import processes
from heatdeploy.local.state import State


@dataclass
class LocalCloud:
    root: Path
    state: State
    passwords: dict[str, str]

    @property
    def auth_url(self) -> str:
        return self.state.url("keystone", "/v3")

    def session(self, user: str, project: str | None = None, **auth: Any) -> ks_session.Session:
        """A keystoneauth1 session for a local user (project scope unless trust_id)."""
        password = auth.pop("password", None) or self.passwords[user]
        args: dict[str, Any] = {"auth_url": self.auth_url, "username": user,
                                "password": password, "user_domain_id": "default"}
        if project:
            args.update(project_name=project, project_domain_id="default")
        args.update(auth)
        return ks_session.Session(auth=v3.Password(**args))

    def admin(self) -> ks_client.Client:
        return ks_client.Client(session=self.session("admin", "admin"))

    def trust(self, roles: list[str], expires_in: float | None = 600.0,
              redelegation: bool = False) -> Any:
        """A trust from demo (project demo) to the heatdeploy user."""
        demo = self.session("demo", "demo")
        trustee_id = self.session("heatdeploy", "service").get_user_id()
        expires = None
        if expires_in is not None:
            expires = (datetime.datetime.now(datetime.UTC)
                       + datetime.timedelta(seconds=expires_in))
        return ks_client.Client(session=demo).trusts.create(
            trustee_user=trustee_id, trustor_user=demo.get_user_id(),
            project=demo.get_project_id(), role_names=roles, impersonation=True,
            expires_at=expires, allow_redelegation=redelegation)

    def trust_session(self, trust_id: str) -> ks_session.Session:
        return self.session("heatdeploy", trust_id=trust_id)


def access_info(session: ks_session.Session) -> Any:
    """The keystoneauth1 AccessInfo (token, roles, trust) of a session."""
    auth = cast(v3.Password, session.auth)
    return auth.get_access(session)


def heat_for(session: ks_session.Session) -> Any:
    return heat_client.Client("1", session=session)


def wait_stack(heat: Any, stack_id: str, timeout: float = 120.0) -> Any:
    """Poll until the stack leaves *_IN_PROGRESS; return it."""
    found: dict[str, Any] = {}

    def settled() -> bool:
        stack = heat.stacks.get(stack_id)
        found["stack"] = stack
        return not stack.stack_status.endswith("IN_PROGRESS")

    processes.wait_until(settled, timeout, interval=0.25, what=f"stack {stack_id} settled")
    return found["stack"]


def delete_stack(heat: Any, stack_id: str, timeout: float = 120.0) -> None:
    """Delete and wait until Heat no longer lists it (or reports it deleted)."""
    from heatclient import exc

    try:
        heat.stacks.delete(stack_id)
    except exc.HTTPNotFound:
        return

    def deleted() -> bool:
        try:
            stack = heat.stacks.get(stack_id)
        except exc.HTTPNotFound:
            return True
        if stack.stack_status == "DELETE_FAILED":
            raise AssertionError(f"stack delete failed: {stack.stack_status_reason}")
        return stack.stack_status == "DELETE_COMPLETE"

    processes.wait_until(deleted, timeout, interval=0.25, what=f"stack {stack_id} deleted")


def outputs(stack: Any) -> dict[str, Any]:
    return {o["output_key"]: o["output_value"] for o in stack.outputs}


def host_key_from_wait_data(data: str) -> paramiko.PKey:
    """The wait condition's data ({"1": "ssh-ed25519 AAAA..."}) as a paramiko key.

    A replaced server signals the same wait condition again: the latest signal
    (highest id) is the current host key."""
    signals = json.loads(data)
    line = signals[max(signals, key=lambda k: int(k) if k.isdigit() else 0)]
    kind, blob = line.split()[:2]
    assert kind == "ssh-ed25519"
    return paramiko.Ed25519Key(data=base64.b64decode(blob))


def ssh_pinned(address: str, host_key: paramiko.PKey | None, client_key: paramiko.PKey,
               timeout: float = 10.0) -> paramiko.SSHClient:
    """Connect as root trusting only host_key (None: trust nothing)."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    if host_key is not None:
        client.get_host_keys().add(address, host_key.get_name(), host_key)
    client.connect(address, username="root", pkey=client_key, look_for_keys=False,
                   allow_agent=False, timeout=timeout, banner_timeout=timeout)
    return client


def run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=30)
    status = stdout.channel.recv_exit_status()
    out = stdout.read().decode()
    assert status == 0, f"{command!r} failed ({status}): {stderr.read().decode()}"
    return out


def poll(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    processes.wait_until(predicate, timeout, interval=0.2, what=what)


def node_template(count: int, flavor: str = "m1.small") -> dict[str, Any]:
    """A HOT template: a group of servers, each with a port, a floating IP, a
    volume and a wait condition reporting its SSH host key."""
    member = {
        "heat_template_version": "2021-04-16",
        "parameters": {"index": {"type": "string"}, "key": {"type": "string"},
                       "sg": {"type": "string"}, "group": {"type": "string"},
                       "flavor": {"type": "string"}},
        "resources": {
            "port": {"type": "OS::Neutron::Port", "properties": {
                "network": "private", "name": "port",
                "security_groups": [{"get_param": "sg"}]}},
            "fip": {"type": "OS::Neutron::FloatingIP", "properties": {
                "floating_network": "public", "port_id": {"get_resource": "port"}}},
            "handle": {"type": "OS::Heat::WaitConditionHandle"},
            "wait": {"type": "OS::Heat::WaitCondition", "properties": {
                "handle": {"get_resource": "handle"}, "timeout": 120}},
            "volume": {"type": "OS::Cinder::Volume", "properties": {"size": 1, "name": "v"}},
            "attachment": {"type": "OS::Cinder::VolumeAttachment", "properties": {
                "instance_uuid": {"get_resource": "server"},
                "volume_id": {"get_resource": "volume"}, "mountpoint": "/dev/vdb"}},
            "server": {"type": "OS::Nova::Server", "properties": {
                "name": {"list_join": ["-", ["node", {"get_param": "index"}]]},
                "flavor": {"get_param": "flavor"}, "image": "local",
                "networks": [{"port": {"get_resource": "port"}}],
                "scheduler_hints": {"group": {"get_param": "group"}},
                "metadata": {"role": "worker"},
                "user_data_format": "RAW",
                "user_data": {"str_replace": {
                    "template": USER_DATA,
                    "params": {"KEY": {"get_param": "key"},
                               "WC_NOTIFY": {"get_attr": ["handle", "curl_cli"]}}}}}},
        },
        "outputs": {"node": {"value": {
            "name": {"get_attr": ["server", "name"]},
            "address": {"get_attr": ["server", "first_address"]},
            "floating": {"get_attr": ["fip", "floating_ip_address"]},
            "host_key": {"get_attr": ["wait", "data"]},
            "fixed_ips": {"get_attr": ["port", "fixed_ips"]},
            "server_id": {"get_resource": "server"}}}},
    }
    top = {
        "heat_template_version": "2021-04-16",
        "parameters": {"key": {"type": "string"}, "count": {"type": "number",
                                                              "default": count}},
        "resources": {
            "sg": {"type": "OS::Neutron::SecurityGroup", "properties": {
                "name": "cluster", "description": "cluster",
                "rules": [{"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                           "port_range_min": 22, "port_range_max": 22,
                           "remote_ip_prefix": "0.0.0.0/0", "remote_mode": "remote_ip_prefix"}]}},
            "group": {"type": "OS::Nova::ServerGroup", "properties": {
                "name": "spread", "policies": ["anti-affinity"]}},
            "nodes": {"type": "OS::Heat::ResourceGroup", "properties": {
                "count": {"get_param": "count"},
                "resource_def": {"type": "node.yaml", "properties": {
                    "index": "%index%", "key": {"get_param": "key"}, "flavor": flavor,
                    "sg": {"get_resource": "sg"}, "group": {"get_resource": "group"}}}}},
        },
        "outputs": {"nodes": {"value": {"get_attr": ["nodes", "node"]}}},
    }
    return {"template": top, "files": {"node.yaml": json.dumps(member)}}


USER_DATA = """#cloud-config
disable_root: false
ssh_authorized_keys: [KEY]
write_files:
- path: /etc/heatdeploy/node.conf
  content: "configured\\n"
  permissions: "0600"
runcmd:
- [sh, -c, 'mkdir -p /var/lib/heatdeploy && echo booted > /var/lib/heatdeploy/booted']
- >-
  printf '{"status":"SUCCESS","data":"%s"}'
  "$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)"
  | WC_NOTIFY --data-binary @-
"""


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


def one_token_user(cloud: LocalCloud, lifetime: float, phase: str) -> tuple[ks_session.Session, Callable[[], bool],
                                                                            Callable[[Any], None]]:
    """The demo user on a single token (no password to fetch another), whether that token has expired, and
    an event handler that, at the first phase starting with ``phase``, waits until it has: everything
    after must then work without the user's token. Keystone's token lifetime must be ``lifetime``."""
    token = cloud.session("demo", "demo").get_token()
    user = ks_session.Session(auth=v3.Token(cloud.auth_url, token=token, project_name="demo",
                                            project_domain_name="Default"))
    admin = cloud.session("admin", "admin")

    def expired() -> bool:
        response = admin.get("/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False,
                             endpoint_filter={"service_type": "identity", "interface": "public"})
        return response.status_code == 404

    def hold_until_expired(event: Any) -> None:
        if event.kind == "phase" and event.message.startswith(phase):
            poll(expired, lifetime + 30, "the user's token to expire")

    return user, expired, hold_until_expired
