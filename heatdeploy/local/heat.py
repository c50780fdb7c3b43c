"""Heat: configuration, database schema, resource mapping and its server process."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from heatdeploy.local import postgres, processes
from heatdeploy.local.state import State, write_private

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = Path(__file__).resolve().parent / "heat_plugins"

# The only difference between a real cloud and the local one: these mappings.
RESOURCE_REGISTRY = {
    "OS::Nova::Server": "Local::Nova::Server",
    "OS::Nova::ServerGroup": "Local::Nova::ServerGroup",
    "OS::Neutron::Port": "Local::Neutron::Port",
    "OS::Neutron::FloatingIP": "Local::Neutron::FloatingIP",
    "OS::Neutron::SecurityGroup": "Local::Neutron::SecurityGroup",
    "OS::Cinder::Volume": "Local::Cinder::Volume",
    "OS::Cinder::VolumeAttachment": "Local::Cinder::VolumeAttachment",
}


def _conf_path(state: State) -> Path:
    return state.root / "heat" / "heat.conf"


def _paste_config() -> Path:
    return Path(sys.prefix) / "etc" / "heat" / "api-paste.ini"


def write_config(state: State, passwords: dict[str, str]) -> None:
    """heat.conf (0600: it holds service passwords) and the environment file."""
    hdir = state.dir("heat")
    env_dir = state.dir("heat/environment.d")
    registry = "\n".join(f'  "{k}": "{v}"' for k, v in RESOURCE_REGISTRY.items())
    (env_dir / "local.yaml").write_text(f"resource_registry:\n{registry}\n")
    key_file = hdir / "auth_encryption_key"
    if not key_file.exists():
        write_private(key_file, secrets.token_hex(16))  # Heat wants exactly 32 chars
    keystone = state.url("keystone")
    service_auth = f"""\
auth_type = password
auth_url = {keystone}/v3
username = heat
password = {passwords['heat']}
user_domain_id = default
"""
    write_private(_conf_path(state), f"""\
[DEFAULT]
host = local
transport_url = fake://
log_file = {state.log('heat-app')}
use_stderr = false
plugin_dirs = {PLUGIN_DIR}
environment_dir = {env_dir}
template_dir = {state.dir('heat/templates')}
auth_encryption_key = {key_file.read_text().strip()}
num_engine_workers = 1
# The legacy engine is ten times faster than convergence on this machine.
convergence_engine = false
deferred_auth_method = trusts
# Heat's own trust must ask only for roles a parent trust holds (redelegation).
trusts_delegated_roles = member
stack_user_domain_name = heat
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = {passwords['heat_domain_admin']}
region_name_for_services = RegionOne
max_stacks_per_tenant = 1000
client_retry_limit = 2
# After a resource fails, cancel its siblings (e.g. a wait condition that can
# no longer be signalled) soon: local resources never need Heat's 240 s.
error_wait_time = 5

[database]
connection = {postgres.heat_url(state, passwords['postgres_heat'])}
max_pool_size = 20
max_overflow = 40

[paste_deploy]
api_paste_config = {_paste_config()}

[keystone_authtoken]
www_authenticate_uri = {keystone}/v3
{service_auth}project_name = service
project_domain_id = default

[trustee]
{service_auth}
[clients_keystone]
auth_uri = {keystone}

[oslo_messaging_notifications]
driver = noop

[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
""")


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))


def db_sync(state: State) -> None:
    processes.run([processes.venv_bin("heat-manage"), "--config-file", str(_conf_path(state)),
                   "db_sync"], state.log("heat-manage"), env=_env())


def start(state: State) -> int:
    env = _env()
    # The resource plugins find the state dir (instances, addresses) through this.
    env["HEATDEPLOY_LOCAL_DIR"] = str(state.root)
    argv = [sys.executable, "-m", "heatdeploy.local.heat_server", str(_conf_path(state)), state.host,
            str(state.ports["heat"])]
    return processes.start(argv, state.log("heat"), env=env, cwd=state.dir("heat"))


def wait_ready(state: State, pid: int) -> None:
    processes.wait_http("Heat", state.host, state.ports["heat"], "/", pid, state.log("heat"))
