"""Credentials and Keystone trusts.

The caller's credentials come from clouds.yaml, ``OS_CLOUD`` or ``OS_*``
variables through openstacksdk's config loader (password, token and
application credentials alike). Embedding services pass their own
keystoneauth1 session instead.

In trust mode, heatdeploy's trustee (a service user whose credentials are a
clouds.yaml entry of their own) acts for the user through a Keystone trust:
impersonating, holding only the roles a cluster needs, expiring, and
redelegatable exactly once (Heat creates its own trust from the token it is
given). Deferred work then survives the user's token expiring.
"""

from __future__ import annotations

import argparse
import datetime
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openstack.config
import openstack.exceptions
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading
from keystoneauth1 import session as ks_session

from heatdeploy.cloud import REQUEST_TIMEOUT
from heatdeploy.errors import HeatdeployError

if TYPE_CHECKING:
    from openstack.config.cloud_region import CloudRegion

TRUST_ROLES = ("member",)
"""What a cluster's deferred work needs: Heat stacks and Swift objects in the user's project."""
DEFAULT_TRUST_DAYS = 3
TRUSTEE_ENV = "HEATDEPLOY_TRUSTEE_CLOUD"
TRUSTEE_KEY = "heatdeploy_trustee_cloud"
_IDENTITY = {"service_type": "identity", "interface": "public", "version": (3, 0)}
_SCOPE_KEYS = {"project_id", "project_name", "project_domain_id", "project_domain_name",
               "domain_id", "domain_name", "system_scope", "tenant_id", "tenant_name"}


class AuthError(HeatdeployError):
    """Credentials or trusts are missing or refused; the message says which."""


@dataclass(frozen=True)
class Cloud:
    """A cloud as the user configured it: a session plus heatdeploy's settings."""

    session: ks_session.Session
    name: str | None
    trustee_cloud: str | None
    region: str | None = None


def load_cloud(cloud: str | None = None, trustee_cloud: str | None = None,
               options: argparse.Namespace | None = None) -> Cloud:
    """The user's session from clouds.yaml or the environment.

    ``options`` holds openstacksdk's command-line options (``--os-cacert``,
    ``--insecure``, ``--os-region-name``, ...) that the user gave; they win
    over the cloud entry. The trustee cloud is, in order: ``trustee_cloud``,
    ``HEATDEPLOY_TRUSTEE_CLOUD``, the cloud entry's own ``heatdeploy_trustee_cloud``
    key; none means no trust mode.
    """
    try:
        config = openstack.config.OpenStackConfig()
        rest, auth = _auth_options(config, cloud, options)
        region = (config.get_one(cloud=cloud, argparse=rest, auth=auth) if auth
                  else config.get_one(cloud=cloud, argparse=rest))
        session = region.get_session()
    except (openstack.exceptions.ConfigException, ks_exceptions.ClientException) as exc:
        raise AuthError(f"cannot load cloud {cloud or os.environ.get('OS_CLOUD') or '(environment)'}: {exc}") \
            from None
    return cloud_of(region, session, trustee_cloud)


def _auth_options(config: openstack.config.OpenStackConfig, cloud: str | None,
                  options: argparse.Namespace | None) -> tuple[argparse.Namespace | None, dict[str, Any]]:
    """``options`` split into the auth plugin's own (``--os-password``, ``--os-auth-url``, ...) and the rest.

    openstacksdk lets the entry's ``auth:`` values win over top-level ones, so
    the plugin's options given on the command line go in as ``auth`` to win.
    """
    if options is None or not vars(options):
        return options, {}
    given = {key.removeprefix("os_"): value for key, value in vars(options).items()}
    auth_type = given.get("auth_type") or config.get_one(cloud=cloud, validate=False).config.get("auth_type")
    plugin = {option.dest for option in loading.get_plugin_loader(auth_type or "password").get_options()}
    auth = {key: value for key, value in given.items() if key in plugin}
    rest = argparse.Namespace(**{f"os_{key}": value for key, value in given.items() if key not in plugin})
    return rest, auth


def cloud_of(region: CloudRegion, session: ks_session.Session, trustee_cloud: str | None = None) -> Cloud:
    """heatdeploy's view of a loaded cloud entry and its session (the ``openstack`` command's, say).

    The trustee cloud is, in order: ``trustee_cloud``, ``HEATDEPLOY_TRUSTEE_CLOUD``,
    the entry's ``heatdeploy_trustee_cloud`` key.
    """
    trustee = trustee_cloud or os.environ.get(TRUSTEE_ENV) or region.config.get(TRUSTEE_KEY)
    if session.timeout is None:  # clouds.yaml's api_timeout wins when set
        session.timeout = REQUEST_TIMEOUT
    return Cloud(session, region.name, trustee, region.region_name)


def _trustee_config(trustee_cloud: str) -> tuple[dict[str, Any], Any, Any]:
    """The trustee entry's auth options, and its TLS settings as openstacksdk reads them (``verify``,
    ``insecure``, ``cacert``, ``cert`` and ``key``), so they apply to trust-scoped sessions too."""
    region = openstack.config.OpenStackConfig().get_one(cloud=trustee_cloud)
    if region.config.get("auth_type", "password") not in ("password", "v3password"):
        raise AuthError(f"trustee cloud {trustee_cloud!r} must use password authentication "
                        "(trusts cannot be used with other methods)")
    verify, cert = region.get_requests_verify_args()
    return dict(region.config["auth"]), verify, cert


def trustee_session(trustee_cloud: str, trust_id: str | None = None) -> ks_session.Session:
    """A session for the trustee: scoped to ``trust_id`` when given, else as configured."""
    options, verify, cert = _trustee_config(trustee_cloud)
    if trust_id is not None:
        options = {k: v for k, v in options.items() if k not in _SCOPE_KEYS}
        options["trust_id"] = trust_id
    auth: Any = loading.get_plugin_loader("password").load_from_options(**options)
    return ks_session.Session(auth=auth, verify=verify, cert=cert, timeout=REQUEST_TIMEOUT)


@dataclass(frozen=True)
class Trust:
    id: str
    expires_at: str
    roles: tuple[str, ...]


def create_trust(user: ks_session.Session, trustee_user_id: str, *, roles: tuple[str, ...] = TRUST_ROLES,
                 days: float = DEFAULT_TRUST_DAYS) -> Trust:
    """A trust from the session's user to ``trustee_user_id`` in the session's project."""
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    body = {"trust": {
        "trustor_user_id": user.get_user_id(),
        "trustee_user_id": trustee_user_id,
        "project_id": user.get_project_id(),
        "impersonation": True,
        "roles": [{"name": role} for role in roles],
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "allow_redelegation": True,
        "redelegation_count": 1,
    }}
    try:
        trust = user.post("OS-TRUST/trusts", json=body, endpoint_filter=_IDENTITY).json()["trust"]
    except ks_exceptions.HttpError as exc:
        raise AuthError(f"Keystone refused the trust: {exc.message or exc}") from None
    return Trust(trust["id"], trust["expires_at"], tuple(r["name"] for r in trust["roles"]))


def delete_trust(session: ks_session.Session, trust_id: str) -> bool:
    """Delete a trust; ``False`` when it was already gone."""
    try:
        session.delete(f"OS-TRUST/trusts/{trust_id}", endpoint_filter=_IDENTITY)
    except ks_exceptions.NotFound:
        return False
    return True

