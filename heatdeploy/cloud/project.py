"""One project's cloud, as the lifecycle and the job manager use it: stacks, records, Swift, trusts.

:class:`Project` is what :class:`~heatdeploy.ClusterManager` and
:class:`~heatdeploy.JobManager` are handed; :class:`OpenStackProject` is the
real one, over a keystoneauth1 session. The protocols below say exactly
what heatdeploy asks of a cloud, so an in-memory one
(:class:`heatdeploy.testing.FakeCloud`) can stand in for it in tests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from keystoneauth1 import session as ks_session

from heatdeploy.cloud import auth, binaries, object_store, tempurls
from heatdeploy.cloud.locks import LockStore
from heatdeploy.cloud.records import ClusterRecord, Records
from heatdeploy.cloud.stacks import StackInfo, Stacks, Stall
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.jobs import JobRecord
from heatdeploy.render.renderer import Rendered

TEMP_URL_SECONDS = 900
"""How long the temp URLs handed to instances stay valid."""


class StackService(Protocol):
    """The orchestration service: heatdeploy's stacks of one project."""

    def find(self, name: str) -> StackInfo | None: ...
    def all(self) -> list[StackInfo]: ...
    def create(self, name: str, rendered: Rendered, parameters: dict[str, str], tags: list[str],
               timeout_minutes: int) -> str: ...
    def update(self, stack_id: str, rendered: Rendered, parameters: dict[str, str], tags: list[str],
               timeout_minutes: int) -> None: ...
    def delete(self, stack_id: str) -> None: ...
    def last_event_id(self, name: str) -> str | None: ...
    def wait(self, name: str, action: str, marker: str | None, timeout: float,
             on_event: Callable[[str], None] = ..., *, stall_after: float = ...,
             on_stall: Callable[[Stall], None] = ...) -> str: ...
    def failures(self, name: str) -> list[tuple[str, str]]: ...
    def instances(self, name: str) -> list[Instance]: ...
    def preview_create(self, name: str, rendered: Rendered, parameters: dict[str, str]) -> list[str]: ...
    def matches(self, stack_id: str, rendered: Rendered) -> bool: ...
    def preview_update(self, stack_id: str, rendered: Rendered,
                       parameters: dict[str, str]) -> dict[str, list[str]]: ...


class RecordStore(Protocol):
    """Where cluster records, their private keys and job records are kept."""

    def save(self, record: ClusterRecord) -> None: ...
    def load(self, name: str) -> ClusterRecord | None: ...
    def all(self) -> list[ClusterRecord]: ...
    def delete(self, name: str) -> None: ...
    def save_private_key(self, name: str, private_key: str) -> None: ...
    def private_key(self, name: str) -> str | None: ...
    def save_job(self, job: JobRecord) -> None: ...
    def load_job(self, job_id: str) -> JobRecord | None: ...
    def list_jobs(self, cluster: str | None = None) -> list[JobRecord]: ...
    def delete_job(self, job_id: str) -> None: ...
    def save_job_log(self, job_id: str, offset: int, data: bytes) -> None: ...
    def job_log_chunks(self, job_id: str) -> list[tuple[int, int]]: ...
    def job_log(self, job_id: str, offset: int = 0) -> bytes: ...


class ObjectStore(Protocol):
    """Swift as jobs use it: temp URLs for instances, listings, containers, binaries."""

    def temp_url(self, container: str, name: str, method: str, seconds: int = ...) -> str: ...
    def prefix_temp_url(self, container: str, prefix: str, method: str, seconds: int) -> tempurls.PrefixTempURL: ...
    def names(self, container: str, prefix: str) -> list[str]: ...
    def listing(self, container: str, prefix: str) -> list[tuple[str, int]]: ...
    def make_container(self, container: str) -> None: ...
    def upload(self, path: Path) -> str: ...


class Project(Protocol):
    """A project's cloud through one identity: the user's, or heatdeploy's trustee's through a trust."""

    region: str | None

    @property
    def stacks(self) -> StackService: ...
    @property
    def records(self) -> RecordStore: ...
    def project_id(self) -> str: ...
    def trusted(self, trustee_cloud: str, trust_id: str) -> Project: ...
    def create_trust(self, trustee_cloud: str, days: float) -> auth.Trust: ...
    def delete_trust(self, trust_id: str) -> bool: ...
    def object_store(self) -> ObjectStore: ...
    def locks(self) -> LockStore: ...


class OpenStackProject:
    """The real cloud: Heat, Swift and Keystone through a keystoneauth1 session."""

    def __init__(self, session: ks_session.Session, region: str | None = None) -> None:
        self.session = session
        self.region = region

    @functools.cached_property
    def stacks(self) -> Stacks:
        return Stacks(self.session, self.region)

    @functools.cached_property
    def records(self) -> Records:
        return Records(self.session, self.region)

    def project_id(self) -> str:
        return str(self.session.get_project_id())

    def trusted(self, trustee_cloud: str, trust_id: str) -> OpenStackProject:
        return OpenStackProject(auth.trustee_session(trustee_cloud, trust_id), self.region)

    def create_trust(self, trustee_cloud: str, days: float) -> auth.Trust:
        trustee = auth.trustee_session(trustee_cloud).get_user_id()
        if trustee is None:
            raise auth.AuthError(f"trustee cloud {trustee_cloud!r} does not name a user")
        return auth.create_trust(self.session, trustee, days=days)

    def delete_trust(self, trust_id: str) -> bool:
        return auth.delete_trust(self.session, trust_id)

    def object_store(self) -> SwiftStore:
        return SwiftStore(self.session, self.region)

    def locks(self) -> Records:
        # A connection of its own each time: the lock is renewed from another thread,
        # and a swiftclient connection is not to be shared between threads.
        return Records(self.session, self.region)


class SwiftStore:
    """The project's Swift during one operation: temp URLs all signed with one key, read once."""

    def __init__(self, session: ks_session.Session, region: str | None) -> None:
        self.session = session
        self.region = region
        self._connection = object_store.connection(session, region)

    @functools.cached_property
    def _key(self) -> str:
        return tempurls.ensure_key(self.session, self.region)

    def temp_url(self, container: str, name: str, method: str, seconds: int = TEMP_URL_SECONDS) -> str:
        return tempurls.temp_url(self.session, container, name, method, seconds, region=self.region, key=self._key)

    def prefix_temp_url(self, container: str, prefix: str, method: str, seconds: int) -> tempurls.PrefixTempURL:
        return tempurls.temp_url_prefix(self.session, container, prefix, method, seconds, region=self.region,
                                        key=self._key)

    def names(self, container: str, prefix: str) -> list[str]:
        return [name for name, _ in self.listing(container, prefix)]

    def listing(self, container: str, prefix: str) -> list[tuple[str, int]]:
        """Objects under ``prefix`` with their sizes, in name order; "folder" markers left out."""
        _, objects = self._connection.get_container(container, prefix=prefix, full_listing=True)
        return [(o["name"], int(o["bytes"])) for o in objects if not o["name"].endswith("/")]

    def make_container(self, container: str) -> None:
        self._connection.put_container(container)

    def upload(self, path: Path) -> str:
        return binaries.upload(self.session, path, region=self.region).url
