"""The job binaries kept in Swift: list them, delete one, prune the old ones, sparing those a running job uses.

Binaries are content-addressed (:mod:`heatdeploy.cloud.binaries`), so nothing
ever replaces one and nothing deletes one on its own: a cluster's ``delete``
keeps them, as other clusters' jobs may use the same content. These are the
ways to clean them up.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from heatdeploy.cloud import object_store
from heatdeploy.cloud.binaries import BinaryError, delete_object, parse_swift_url, swift_url
from heatdeploy.plugin.jobs import utc_stamp

if TYPE_CHECKING:
    from keystoneauth1 import session as ks_session

PREFIX = "sha256/"
"""Where heatdeploy's own uploads are in a container: anything else there was put by hand, and is left alone."""


@dataclass(frozen=True)
class StoredBinary:
    """One binary in Swift."""

    url: str
    size: int
    modified: datetime.datetime
    """When it was uploaded, by Swift's clock (UTC)."""

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "size": self.size, "modified": utc_stamp(self.modified)}


def list_binaries(session: ks_session.Session, container: str, region: str | None = None) -> list[StoredBinary]:
    """The binaries heatdeploy uploaded to ``container``, in name order; none when it does not exist."""
    from swiftclient.exceptions import ClientException

    conn = object_store.connection(session, region)
    try:
        _, objects = conn.get_container(container, prefix=PREFIX, full_listing=True)
    except ClientException as exc:
        if exc.http_status == 404:
            return []
        raise
    return [StoredBinary(swift_url(container, o["name"]), int(o["bytes"]), _modified(o["last_modified"]))
            for o in objects if o["name"].count("/") == 2]


def _modified(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC)


def delete_binary(session: ks_session.Session, url: str, in_use: Collection[str],
                  region: str | None = None) -> None:
    """Delete the binary at ``url`` (its segments too), unless ``in_use`` (by a running job) names it."""
    from swiftclient.exceptions import ClientException

    container, name = parse_swift_url(url)
    if url in in_use:
        raise BinaryError(f"{url} is the binary of a running job; delete it once the job has ended")
    if not name.startswith(PREFIX):
        raise BinaryError(f"{url} was not uploaded by heatdeploy (its binaries are under {PREFIX})")
    conn = object_store.connection(session, region)
    try:
        delete_object(conn, container, name)
    except ClientException as exc:
        if exc.http_status == 404:
            raise BinaryError(f"no binary {url}") from None
        raise


def stale(binaries: list[StoredBinary], older_than: datetime.timedelta, in_use: Collection[str],
          now: datetime.datetime | None = None) -> list[StoredBinary]:
    """The binaries uploaded more than ``older_than`` ago that no running job uses."""
    cutoff = (now or datetime.datetime.now(datetime.UTC)) - older_than
    return [b for b in binaries if b.modified < cutoff and b.url not in in_use]
