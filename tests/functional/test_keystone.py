"""Keystone of the local cloud: tokens and trusts as heatdeploy uses them."""

from __future__ import annotations

import pytest
from keystoneauth1 import exceptions as ks_exc
from keystoneclient.v3 import client as ks_client

from tests.functional.cloudtools import LocalCloud, access_info, poll


def test_demo_user_gets_a_project_token(local_cloud: LocalCloud) -> None:
    session = local_cloud.session("demo", "demo")
    access = access_info(session)
    assert access.project_name == "demo"
    assert "member" in access.role_names
    assert "admin" not in access.role_names


def test_trust_delegates_member_only_with_impersonation(local_cloud: LocalCloud) -> None:
    trust = local_cloud.trust(["member"])
    demo_client = ks_client.Client(session=local_cloud.session("demo", "demo"))
    try:
        assert [r["name"] for r in trust.roles] == ["member"]
        assert trust.impersonation is True
        assert trust.expires_at
        session = local_cloud.trust_session(trust.id)
        access = access_info(session)
        # Impersonation: the token acts as the trustor in the trustor's project.
        assert access.user_id == local_cloud.session("demo", "demo").get_user_id()
        assert access.project_name == "demo"
        assert access.trust_id == trust.id
        assert set(access.role_names) == {"member", "reader"}  # reader is implied by member
    finally:
        demo_client.trusts.delete(trust.id)


def test_trust_stops_working_after_expiry(local_cloud: LocalCloud) -> None:
    trust = local_cloud.trust(["member"], expires_in=3)
    demo_client = ks_client.Client(session=local_cloud.session("demo", "demo"))
    try:
        session = local_cloud.trust_session(trust.id)
        assert session.get_token()

        def refused() -> bool:
            try:
                local_cloud.trust_session(trust.id).get_token()
            except (ks_exc.Unauthorized, ks_exc.NotFound):
                return True
            return False

        poll(refused, 30, "expired trust refused")
    finally:
        try:
            demo_client.trusts.delete(trust.id)
        except ks_exc.NotFound:
            pass


def test_trust_cannot_ask_for_roles_the_trustor_lacks(local_cloud: LocalCloud) -> None:
    with pytest.raises(ks_exc.ClientException):
        local_cloud.trust(["admin"])
