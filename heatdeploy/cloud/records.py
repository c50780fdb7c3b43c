"""Cluster records, kept in the user's own project in Swift.

A cluster's record (what heatdeploy made: stack, trust, state) and its
generated private key live in the private container ``heatdeploy`` of the
project, so that any machine with the project's credentials can inspect,
scale or delete the cluster, and nothing essential lives only on the
launching machine. The container has no ACLs: only the project's users
(and heatdeploy's trustee, through the cluster's trust) can read it.
"""

from __future__ import annotations

import email.utils
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from keystoneauth1 import session as ks_session
from swiftclient.exceptions import ClientException

from heatdeploy.cloud import object_store
from heatdeploy.plugin.jobs import JobRecord, utc_now

CONTAINER = "heatdeploy"


JOB_LOG_CHUNK = 1024 * 1024
"""Bytes per chunk of a job's saved log: chunk ``k`` holds bytes ``k * JOB_LOG_CHUNK`` on, at most that many."""


def job_log_prefix(job_id: str) -> str:
    """Where the chunks of a job's saved log are, in :data:`CONTAINER`."""
    return f"jobs/{job_id}/log/"


def job_log_chunk(job_id: str, offset: int) -> str:
    """The chunk of a job's log that starts at byte ``offset``: names sort by offset."""
    return f"{job_log_prefix(job_id)}{offset:016d}"


@dataclass
class ClusterRecord:
    """What heatdeploy knows about a cluster beyond its stack."""

    name: str
    plugin: str
    version: str
    spec: str
    """The spec's YAML text, as launched (scaling updates its counts)."""
    state: str = "creating"
    stack_id: str | None = None
    trust_id: str | None = None
    retired_trusts: list[str] = field(default_factory=list)
    """Trusts a renewal replaced and has not deleted yet: ``delete`` deletes them too."""
    trustee_cloud: str | None = None
    public_key: str = ""
    created_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    removed: dict[str, list[str]] = field(default_factory=dict)
    """Per node group, member indices removed so far: kept in every later render."""
    configured: list[str] | None = None
    """Ids of the servers whose configuration steps finished; ``None`` in records from before it was kept."""
    host_keys: dict[str, str] = field(default_factory=dict)
    """Server id to the SSH host key first seen for it: pinned once, never replaced by a later report."""
    declared_ports: bool = True
    """Whether the internal security group opens only the framework's declared ports. A cluster launched
    before ports were declared keeps all traffic open between its instances: its daemons may listen on
    ports no declaration names, and narrowing the group under them would cut them off."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What steps published (:class:`~heatdeploy.plugin.facts.Facts`, as its ``to_record``)."""

    @property
    def trusts(self) -> list[str]:
        """Every trust made for the cluster and not yet deleted: the current one, then any a renewal replaced."""
        return ([self.trust_id] if self.trust_id else []) + self.retired_trusts

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ClusterRecord:
        raw: dict[str, Any] = json.loads(data)
        raw.setdefault("declared_ports", False)  # a record from before ports were declared
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


class Records:
    """Records and keys of one project's clusters, and their locks."""

    settle_seconds = 0.3
    """Swift's conditional creation is not atomic for requests in flight together (see locks.py)."""

    def __init__(self, session: ks_session.Session, region: str | None = None) -> None:
        self.swift = object_store.connection(session, region)

    def _get(self, name: str) -> bytes | None:
        try:
            _, body = self.swift.get_object(CONTAINER, name)
        except ClientException as exc:
            if exc.http_status == 404:
                return None
            raise
        return bytes(body)

    def _delete(self, name: str) -> None:
        try:
            self.swift.delete_object(CONTAINER, name)
        except ClientException as exc:
            if exc.http_status != 404:
                raise

    def _put(self, name: str, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self._put_once(name, data, content_type, headers)
        except ClientException as exc:
            if exc.http_status != 404:
                raise
            self.swift.put_container(CONTAINER)  # the project's first cluster: the container comes first
            self._put_once(name, data, content_type, headers)

    def _put_once(self, name: str, data: bytes, content_type: str, headers: dict[str, str] | None) -> None:
        # A file object, not bytes: when the token expired during a long operation, swiftclient
        # answers the 401 by re-authenticating and sending again, which needs to rewind the body.
        self.swift.put_object(CONTAINER, name, io.BytesIO(data), content_length=len(data),
                              content_type=content_type, headers=headers)

    def save(self, record: ClusterRecord) -> None:
        record.updated_at = utc_now()
        self._put(f"clusters/{record.name}/record.json", record.to_json(), "application/json")

    def load(self, name: str) -> ClusterRecord | None:
        data = self._get(f"clusters/{name}/record.json")
        return ClusterRecord.from_json(data) if data is not None else None

    def all(self) -> list[ClusterRecord]:
        names = [n.split("/")[1] for n in self._names("clusters/") if n.endswith("/record.json")]
        return [r for r in (self.load(n) for n in sorted(names)) if r is not None]

    def _names(self, prefix: str) -> list[str]:
        """Object names under ``prefix``; none before the container exists."""
        return [o["name"] for o in self._listing(prefix)]

    def _listing(self, prefix: str) -> list[dict[str, Any]]:
        """Swift's listing of the objects under ``prefix``; empty before the container exists."""
        try:
            _, objects = self.swift.get_container(CONTAINER, prefix=prefix, full_listing=True)
        except ClientException as exc:
            if exc.http_status == 404:
                return []
            raise
        return list(objects)

    def save_private_key(self, name: str, private_key: str) -> None:
        self._put(f"clusters/{name}/id_ed25519", private_key.encode(), "application/octet-stream")

    def private_key(self, name: str) -> str | None:
        data = self._get(f"clusters/{name}/id_ed25519")
        return data.decode() if data is not None else None

    def save_job(self, job: JobRecord) -> None:
        self._put(f"jobs/{job.id}.json", job.to_json(), "application/json")

    def load_job(self, job_id: str) -> JobRecord | None:
        data = self._get(f"jobs/{job_id}.json")
        return JobRecord.from_json(data) if data is not None else None

    def list_jobs(self, cluster: str | None = None) -> list[JobRecord]:
        names = [n for n in self._names("jobs/") if n.endswith(".json") and n.count("/") == 1]
        jobs = [self.load_job(n[len("jobs/"):-len(".json")]) for n in names]
        return [j for j in jobs if j is not None and (cluster is None or j.cluster == cluster)]

    def delete_job(self, job_id: str) -> None:
        """Delete a job's record and its saved log."""
        for offset, _ in self.job_log_chunks(job_id):
            self._delete(job_log_chunk(job_id, offset))
        self._delete(f"jobs/{job_id}.json")

    def save_job_log(self, job_id: str, offset: int, data: bytes) -> None:
        self._put(job_log_chunk(job_id, offset), data, "text/plain")

    def job_log_chunks(self, job_id: str) -> list[tuple[int, int]]:
        """(offset, size) of each saved chunk of a job's log, in order."""
        prefix = job_log_prefix(job_id)
        chunks = [(o["name"][len(prefix):], int(o["bytes"])) for o in self._listing(prefix)]
        return sorted((int(name), size) for name, size in chunks if name.isdigit())

    def job_log(self, job_id: str, offset: int = 0) -> bytes:
        """The saved log of a job from byte ``offset`` on."""
        parts = []
        for start, _ in self.job_log_chunks(job_id):
            # By the chunk grid, not the listed size: a listing may lag behind a chunk that grew.
            if start + JOB_LOG_CHUNK > offset:
                data = self._get(job_log_chunk(job_id, start)) or b""
                parts.append(data[max(offset - start, 0):])
        return b"".join(parts)

    def create_lock(self, name: str, body: bytes) -> bool:
        try:
            self._put(f"clusters/{name}/lock.json", body, "application/json", {"If-None-Match": "*"})
        except ClientException as exc:
            if exc.http_status == 412:  # it exists: someone holds the lock
                return False
            raise
        return True

    def read_lock(self, name: str) -> bytes | None:
        return self._get(f"clusters/{name}/lock.json")

    def lock_age(self, name: str) -> float | None:
        try:
            headers = self.swift.head_object(CONTAINER, f"clusters/{name}/lock.json")
        except ClientException as exc:
            if exc.http_status == 404:
                return None
            raise
        try:  # both by Swift's clock, to the second
            written = email.utils.parsedate_to_datetime(headers["last-modified"])
            now = email.utils.parsedate_to_datetime(headers["date"])
        except (KeyError, TypeError, ValueError):
            return None
        return (now - written).total_seconds()

    def write_lock(self, name: str, body: bytes) -> None:
        self._put(f"clusters/{name}/lock.json", body, "application/json")

    def delete_lock(self, name: str) -> None:
        self._delete(f"clusters/{name}/lock.json")

    def delete(self, name: str) -> None:
        """Delete everything stored for cluster ``name``."""
        for suffix in ("id_ed25519", "record.json"):
            self._delete(f"clusters/{name}/{suffix}")
