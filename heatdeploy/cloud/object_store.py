"""Connections to the project's Swift, the one way heatdeploy builds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from heatdeploy.cloud import REQUEST_TIMEOUT

if TYPE_CHECKING:
    from keystoneauth1 import session as ks_session
    from swiftclient import client as swift_client


def connection(session: ks_session.Session, region: str | None = None, retries: int = 2) -> swift_client.Connection:
    """A swiftclient connection through ``session``.

    With a session, swiftclient takes the endpoint from the catalog and, on a
    401, invalidates the token and retries, so long work outlives a token.
    Every request has a deadline (``REQUEST_TIMEOUT``): a Swift proxy that
    hangs fails the call instead of blocking it forever.
    """
    from swiftclient import client as swift_client

    return swift_client.Connection(session=session, os_options={"region_name": region}, retries=retries,
                                   timeout=REQUEST_TIMEOUT)
