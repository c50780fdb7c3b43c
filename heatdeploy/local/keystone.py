"""Keystone: configuration, first-time set-up, server, users and catalog.

Identity layout made by `up`:

- projects `admin`, `service`, `demo` (domain Default)
- users `admin` (admin on admin), `demo` (member on demo),
  `heat` and `swift` (admin on service: the services validate tokens and
  Heat creates trusts and stack users), `heatdeploy` (member on service
  only: it is the trustee heatdeploy uses; a trustee needs no role on the
  trustor's project, the trust carries the delegated roles)
- domain `heat` with user `heat_domain_admin` (admin on that domain): Heat's
  stack user domain, where wait condition handles get their users
- catalog: identity, orchestration, object-store on the cloud's gateway address
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
from pathlib import Path

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

from heatdeploy.local import processes
from heatdeploy.local.state import State

REGION = "RegionOne"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _conf_path(state: State) -> Path:
    return state.root / "keystone" / "keystone.conf"


def write_config(state: State) -> None:
    """keystone.conf; the dict cache makes a token ~12 ms instead of ~330 ms
    (valid because Keystone runs as a single worker process)."""
    kdir = state.dir("keystone")
    for keys in ("fernet-keys", "credential-keys"):
        (kdir / keys).mkdir(exist_ok=True)
        (kdir / keys).chmod(0o700)
    _conf_path(state).write_text(f"""\
[DEFAULT]
log_file = {state.log('keystone-app')}
use_stderr = false

[database]
connection = sqlite:///{kdir / 'keystone.db'}

[token]
provider = fernet
expiration = {state.token_expiration}

[fernet_tokens]
key_repository = {kdir / 'fernet-keys'}

[credential]
key_repository = {kdir / 'credential-keys'}

[cache]
enabled = true
backend = oslo_cache.dict

[identity]
# Local only: cheap password hashing keeps authentication fast.
password_hash_rounds = 4

[oslo_policy]
enforce_new_defaults = true
enforce_scope = false
""")


def _manage(state: State, *args: str, env: dict[str, str] | None = None) -> None:
    argv = [processes.venv_bin("keystone-manage"), "--config-file",
            str(_conf_path(state)), *args]
    processes.run(argv, state.log("keystone-manage"), env=env)


def bootstrap(state: State, admin_password: str) -> None:
    """Database, key repositories and the admin/identity records (first up only).

    The three independent set-up commands run in parallel: each spends ~2 s
    importing Keystone."""
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(_manage, state, "db_sync"),
                       pool.submit(_manage, state, "fernet_setup", "--keystone-user", "root",
                                   "--keystone-group", "root"),
                       pool.submit(_manage, state, "credential_setup", "--keystone-user",
                                   "root", "--keystone-group", "root")]:
            future.result()
    url = state.url("keystone", "/v3")
    # The password goes through the environment: command lines are world-readable.
    env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=admin_password)
    _manage(state, "bootstrap", "--bootstrap-username", "admin",
            "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
            "--bootstrap-service-name", "keystone", "--bootstrap-region-id", REGION,
            "--bootstrap-public-url", url, "--bootstrap-internal-url", url,
            "--bootstrap-admin-url", url, env=env)


def start(state: State) -> int:
    env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=str(_conf_path(state)),
               PYTHONPATH=str(PROJECT_ROOT))
    argv = [sys.executable, "-m", "gunicorn", "--no-control-socket",
            "--bind", f"{state.host}:{state.ports['keystone']}", "--workers", "1",
            "--worker-class", "gthread", "--threads", "16", "--timeout", "120",
            "--graceful-timeout", "2",
            "--chdir", str(state.dir("keystone")), "--name", "heatdeploy-keystone",
            "heatdeploy.local.keystone_app:application"]
    return processes.start(argv, state.log("keystone"), env=env)


def wait_ready(state: State, pid: int) -> None:
    processes.wait_http("Keystone", state.host, state.ports["keystone"], "/v3", pid,
                        state.log("keystone"))


def admin_session(state: State, password: str) -> ks_session.Session:
    auth = v3.Password(auth_url=state.url("keystone", "/v3"), username="admin",
                       password=password, project_name="admin",
                       user_domain_id="default", project_domain_id="default")
    return ks_session.Session(auth=auth)


def _find_or_create(manager, name: str, **create_args):  # type: ignore[no-untyped-def]
    filters = {k: v for k, v in create_args.items() if k in ("domain",)}
    found = manager.list(name=name, **filters)
    return found[0] if found else manager.create(name=name, **create_args)


def _user(ks: ks_client.Client, name: str, password: str, domain: str = "default"):  # type: ignore[no-untyped-def]
    found = ks.users.list(name=name, domain=domain)
    if found:
        # Keep the stored password authoritative (secrets.json may be newer).
        return ks.users.update(found[0], password=password)
    return ks.users.create(name=name, password=password, domain=domain)


def setup_identities(state: State, passwords: dict[str, str]) -> None:
    """Projects, users, roles, Heat's domain and the catalog (idempotent)."""
    ks = ks_client.Client(session=admin_session(state, passwords["admin"]))
    roles = {r.name: r for r in ks.roles.list()}
    for name in ("member", "reader", "heat_stack_user", "heat_stack_owner"):
        if name not in roles:
            roles[name] = ks.roles.create(name=name)
    service = _find_or_create(ks.projects, "service", domain="default")
    demo = _find_or_create(ks.projects, "demo", domain="default")
    grants = [
        ("demo", "member", demo), ("heat", "admin", service), ("swift", "admin", service),
        ("heatdeploy", "member", service),
    ]
    for user_name, role_name, project in grants:
        user = _user(ks, user_name, passwords[user_name])
        ks.roles.grant(roles[role_name], user=user, project=project)
    heat_domain = _find_or_create(ks.domains, "heat", description="Heat stack users")
    domain_admin = _user(ks, "heat_domain_admin", passwords["heat_domain_admin"],
                         domain=heat_domain.id)
    ks.roles.grant(roles["admin"], user=domain_admin, domain=heat_domain)
    _endpoint(ks, "keystone", "identity", state.url("keystone", "/v3"))
    _endpoint(ks, "heat", "orchestration",
              state.url("heat", "/v1/%(tenant_id)s"))
    _endpoint(ks, "swift", "object-store",
              state.url("swift-proxy", "/v1/AUTH_%(tenant_id)s"))


def _endpoint(ks: ks_client.Client, name: str, kind: str, url: str) -> None:
    services = ks.services.list(type=kind)
    service = services[0] if services else ks.services.create(name=name, type=kind)
    existing = {e.interface: e for e in ks.endpoints.list(service=service)}
    for interface in ("public", "internal", "admin"):
        if interface in existing:
            if existing[interface].url != url:
                ks.endpoints.update(existing[interface], url=url)
        else:
            ks.endpoints.create(service=service, url=url, interface=interface, region=REGION)
