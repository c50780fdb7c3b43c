"""Swift of the local cloud: trust-scoped access, temp URLs, project isolation."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid

import pytest
from keystoneclient.v3 import client as ks_client
from swiftclient import client as swift_client
from swiftclient import exceptions as swift_exc
from swiftclient.utils import generate_temp_url

from tests.functional.cloudtools import LocalCloud, poll


@pytest.fixture
def container(local_cloud: LocalCloud):  # type: ignore[no-untyped-def]
    """A fresh container of the demo project, removed with its objects after the test."""
    conn = swift_client.Connection(session=local_cloud.session("demo", "demo"))
    name = f"test-{uuid.uuid4().hex[:8]}"
    conn.put_container(name)
    yield conn, name
    for obj in conn.get_container(name)[1]:
        conn.delete_object(name, obj["name"])
    conn.delete_container(name)


def test_upload_and_download_with_a_trust_scoped_token(local_cloud: LocalCloud, container) -> None:  # type: ignore[no-untyped-def]
    _, name = container
    trust = local_cloud.trust(["member"])
    try:
        conn = swift_client.Connection(session=local_cloud.trust_session(trust.id))
        payload = uuid.uuid4().bytes * 4096
        conn.put_object(name, "job.bin", payload)
        _, body = conn.get_object(name, "job.bin")
        assert body == payload
    finally:
        ks_client.Client(session=local_cloud.session("demo", "demo")).trusts.delete(trust.id)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_temp_url_works_without_credentials_until_expiry(local_cloud: LocalCloud, container) -> None:  # type: ignore[no-untyped-def]
    conn, name = container
    key = uuid.uuid4().hex
    conn.post_account({"X-Account-Meta-Temp-URL-Key": key})
    conn.put_object(name, "data.txt", b"hello")
    storage_url = conn.get_auth()[0]
    path = f"/v1/{storage_url.split('/v1/', 1)[1]}/{name}/data.txt"
    expires = 3
    url = local_cloud.state.url("swift-proxy") + generate_temp_url(path, expires, key, "GET")
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"hello"
    poll(lambda: _status(url) == 401, 30, "temp URL refused after expiry")
    assert time.monotonic() - started >= expires - 1
    anonymous = local_cloud.state.url("swift-proxy") + path
    assert _status(anonymous) == 401


def test_another_projects_token_is_refused(local_cloud: LocalCloud, container) -> None:  # type: ignore[no-untyped-def]
    conn, name = container
    conn.put_object(name, "private.txt", b"secret")
    admin = local_cloud.admin()
    suffix = uuid.uuid4().hex[:8]
    project = admin.projects.create(name=f"other-{suffix}", domain="default")
    password = uuid.uuid4().hex
    user = admin.users.create(name=f"other-{suffix}", password=password, domain="default")
    try:
        member = [r for r in admin.roles.list() if r.name == "member"][0]
        admin.roles.grant(member, user=user, project=project)
        other = local_cloud.session(
            user.name, project.name, password=password)
        storage_url = conn.get_auth()[0]
        other_conn = swift_client.Connection(
            session=other, os_options={"object_storage_url": storage_url})
        with pytest.raises(swift_exc.ClientException) as refused:
            other_conn.get_object(name, "private.txt")
        assert refused.value.http_status == 403
    finally:
        admin.users.delete(user)
        admin.projects.delete(project)
