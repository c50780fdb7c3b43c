"""An in-memory cloud: the lifecycle and jobs run end to end without OpenStack or SSH.

:class:`FakeCloud` stands in for a project (Heat, Swift, Keystone trusts);
:class:`FakeInstances` opens :class:`~heatdeploy.testing.RecordingRemote`
connections instead of SSH ones::

    cloud, instances = FakeCloud(), FakeInstances()
    manager = ClusterManager(plugins=plugins, cloud=cloud, connector=instances, key_dir=tmp_path)
    manager.launch(loaded)
    assert cloud.stacks.find("demo").status == "CREATE_COMPLETE"

The fake stack service reads the rendered template as Heat would read its
resource groups: ``count`` and ``removal_policies`` decide the members, new
members take the lowest index neither used nor ever removed, and a shrink
removes the listed indices first, then the highest. Actions start
``*_IN_PROGRESS`` and finish in :meth:`FakeStacks.wait`, so an operation
stopped before waiting leaves the stack as a real one would.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import math
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from heatdeploy.cloud.auth import AuthError, Trust
from heatdeploy.cloud.records import ClusterRecord, job_log_chunk, job_log_prefix
from heatdeploy.cloud.stacks import HotLoader, StackError, StackInfo, Stall
from heatdeploy.cloud.tempurls import PrefixTempURL
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.jobs import JobRecord
from heatdeploy.plugin.remote import Remote
from heatdeploy.render.renderer import Rendered
from heatdeploy.ssh.connections import AccessConfig
from heatdeploy.testing.remotes import Recorder, RecordingRemote, Responses

_RESOURCE_GROUP = "OS::Heat::ResourceGroup"


@dataclass
class _Group:
    processes: tuple[str, ...]
    proxy_gateway: bool
    members: list[int] = field(default_factory=list)
    removed: set[int] = field(default_factory=set)


@dataclass
class FakeStack:
    """One stack: its status, the template it was last given, and its resource groups' members."""

    id: str
    name: str
    status: str
    rendered: Rendered
    parameters: dict[str, str]
    tags: tuple[str, ...]
    groups: dict[str, _Group] = field(default_factory=dict)
    reason: str = ""


class FakeStacks:
    """Heat, in memory.

    ``fail_next`` makes the next action fail with that reason;
    ``reported_keys`` (instance name to key) replaces the host key an
    instance reports, as a replayed wait condition signal would.
    """

    def __init__(self) -> None:
        self.stacks: dict[str, FakeStack] = {}
        self.events: list[tuple[str, str]] = []
        self.fail_next: str | None = None
        self.reported_keys: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- what heatdeploy calls ------------------------------------------------------------------------------

    def find(self, name: str) -> StackInfo | None:
        stack = self.stacks.get(name)
        if stack is None:
            return None
        return StackInfo(stack.id, stack.name, stack.status, stack.reason, stack.tags, None)

    def all(self) -> list[StackInfo]:
        return [info for info in (self.find(name) for name in sorted(self.stacks)) if info is not None]

    def create(self, name: str, rendered: Rendered, parameters: dict[str, str], tags: list[str],
               timeout_minutes: int) -> str:
        with self._lock:
            if name in self.stacks:
                raise StackError(f"stack {name} already exists")
            stack = FakeStack(f"stack-{next(self._ids)}", name, "CREATE_IN_PROGRESS", rendered, dict(parameters),
                              ("heatdeploy", *tags))
            self.stacks[name] = stack
            self._event(name, "CREATE_IN_PROGRESS")
            return stack.id

    def update(self, stack_id: str, rendered: Rendered, parameters: dict[str, str], tags: list[str],
               timeout_minutes: int) -> None:
        stack = self._by_id(stack_id)
        if stack.status.endswith("_IN_PROGRESS"):
            raise StackError(f"stack {stack.name} is {stack.status}: Heat refuses another action (409)")
        stack.rendered, stack.parameters, stack.tags = rendered, dict(parameters), ("heatdeploy", *tags)
        stack.status = "UPDATE_IN_PROGRESS"
        self._event(stack.name, "UPDATE_IN_PROGRESS")

    def delete(self, stack_id: str) -> None:
        stack = next((s for s in self.stacks.values() if s.id == stack_id), None)
        if stack is not None:
            stack.status = "DELETE_IN_PROGRESS"
            self._event(stack.name, "DELETE_IN_PROGRESS")

    def last_event_id(self, name: str) -> str | None:
        return str(len(self.events)) if self.events else None

    def wait(self, name: str, action: str, marker: str | None, timeout: float,
             on_event: Callable[[str], None] = lambda line: None, *, stall_after: float = math.inf,
             on_stall: Callable[[Stall], None] = lambda stall: None) -> str:
        """Finish the action in progress: members follow the template, or ``fail_next`` fails it (it never stalls)."""
        stack = self.stacks.get(name)
        if stack is None:
            if action == "DELETE":
                return "DELETE_COMPLETE"
            raise StackError(f"stack {name} does not exist")
        if not stack.status.startswith(action):
            raise StackError(f"stack {name} is {stack.status}, not in {action}")
        if stack.status.endswith("_IN_PROGRESS"):
            self._finish(stack, action)
        for _, line in self.events[int(marker or 0):]:
            on_event(line)
        if stack.status != f"{action}_COMPLETE":
            raise StackError(f"stack {name} {stack.status}: {stack.reason}", self.failures(name))
        if action == "DELETE":
            del self.stacks[name]
        return stack.status

    def failures(self, name: str) -> list[tuple[str, str]]:
        stack = self.stacks.get(name)
        return [(f"{name}/server", stack.reason)] if stack and stack.status.endswith("_FAILED") else []

    def instances(self, name: str) -> list[Instance]:
        stack = self.stacks.get(name)
        if stack is None:
            return []
        return sorted((self._instance(stack, group, index) for group in sorted(stack.groups)
                       for index in stack.groups[group].members), key=lambda i: (i.group, i.index))

    def preview_create(self, name: str, rendered: Rendered, parameters: dict[str, str]) -> list[str]:
        template = yaml.load(rendered.template, Loader=HotLoader)
        return sorted(f"{n} ({r['type']})" for n, r in template["resources"].items())

    def matches(self, stack_id: str, rendered: Rendered) -> bool:
        return self._by_id(stack_id).rendered == rendered

    def preview_update(self, stack_id: str, rendered: Rendered,
                       parameters: dict[str, str]) -> dict[str, list[str]]:
        old = yaml.load(self._by_id(stack_id).rendered.template, Loader=HotLoader)["resources"]
        new = yaml.load(rendered.template, Loader=HotLoader)["resources"]
        name = {n: f"{n} ({r['type']})" for n, r in {**old, **new}.items()}
        return {"added": sorted(name[n] for n in set(new) - set(old)),
                "updated": sorted(name[n] for n in set(new) & set(old) if new[n] != old[n]),
                "replaced": [], "deleted": sorted(name[n] for n in set(old) - set(new)),
                "unchanged": sorted(name[n] for n in set(new) & set(old) if new[n] == old[n])}

    # -- the fake's own -------------------------------------------------------------------------------------

    def _by_id(self, stack_id: str) -> FakeStack:
        stack = next((s for s in self.stacks.values() if s.id == stack_id), None)
        if stack is None:
            raise StackError(f"no stack with id {stack_id}")
        return stack

    def _event(self, name: str, status: str) -> None:
        self.events.append((name, f"{name}: {status}"))

    def _finish(self, stack: FakeStack, action: str) -> None:
        if self.fail_next is not None:
            stack.status, stack.reason, self.fail_next = f"{action}_FAILED", self.fail_next, None
        else:
            if action != "DELETE":
                _converge_groups(stack)
            stack.status, stack.reason = f"{action}_COMPLETE", ""
        self._event(stack.name, stack.status)

    @staticmethod
    def host_key(name: str) -> str:
        """The host key instance ``name`` reports: a real ed25519 key, the same for the same name."""
        private = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())
        public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        return public.decode()

    def _instance(self, stack: FakeStack, group: str, index: int) -> Instance:
        name = f"{stack.name}-{group}-{index}"
        number = sorted(stack.groups).index(group)
        spec = stack.groups[group]
        key = self.reported_keys.get(name, self.host_key(name))
        return Instance(name=name, id=f"id-{name}", group=group, processes=spec.processes,
                        fixed_ip=f"10.0.{number}.{10 + index}", floating_ip=None, host_key=key,
                        proxy_gateway=spec.proxy_gateway)


def _converge_groups(stack: FakeStack) -> None:
    """Resize every resource group to its template's count, as Heat's ResourceGroup does."""
    template = yaml.load(stack.rendered.template, Loader=HotLoader)
    for name, resource in template["resources"].items():
        if resource["type"] != _RESOURCE_GROUP:
            continue
        properties = resource["properties"]
        output = yaml.load(stack.rendered.files[f"instance-{name}.yaml"], Loader=HotLoader)
        value = output["outputs"]["instance"]["value"]
        group = stack.groups.setdefault(name, _Group(tuple(value["processes"]), bool(value["proxy_gateway"])))
        listed = {int(i) for p in properties.get("removal_policies", []) for i in p.get("resource_list", [])}
        group.removed |= listed
        count = int(properties["count"])
        members = sorted(group.members)
        excess = len(members) - count
        if excess > 0:
            doomed = [i for i in members if i in listed][:excess]
            doomed += sorted((i for i in members if i not in doomed), reverse=True)[:excess - len(doomed)]
            group.removed |= set(doomed)
            members = [i for i in members if i not in doomed]
        candidates = (i for i in itertools.count() if i not in members and i not in group.removed)
        members += [next(candidates) for _ in range(count - len(members))]
        group.members = sorted(members)


class FakeRecords:
    """Cluster records, keys and job records, kept as the JSON Swift would hold; locks created atomically."""

    settle_seconds = 0.0

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def save(self, record: ClusterRecord) -> None:
        with self._lock:
            self.objects[f"clusters/{record.name}/record.json"] = record.to_json()

    def load(self, name: str) -> ClusterRecord | None:
        data = self.objects.get(f"clusters/{name}/record.json")
        return ClusterRecord.from_json(data) if data is not None else None

    def all(self) -> list[ClusterRecord]:
        names = sorted(key.split("/")[1] for key in self.objects if key.endswith("/record.json"))
        return [r for r in (self.load(n) for n in names) if r is not None]

    def delete(self, name: str) -> None:
        for suffix in ("id_ed25519", "record.json"):
            self.objects.pop(f"clusters/{name}/{suffix}", None)

    def save_private_key(self, name: str, private_key: str) -> None:
        self.objects[f"clusters/{name}/id_ed25519"] = private_key.encode()

    def private_key(self, name: str) -> str | None:
        data = self.objects.get(f"clusters/{name}/id_ed25519")
        return data.decode() if data is not None else None

    def create_lock(self, name: str, body: bytes) -> bool:
        with self._lock:
            return self.objects.setdefault(f"clusters/{name}/lock.json", body) is body

    def read_lock(self, name: str) -> bytes | None:
        return self.objects.get(f"clusters/{name}/lock.json")

    def lock_age(self, name: str) -> float | None:
        return None  # no clock of its own: locks are judged by the expiry they carry

    def write_lock(self, name: str, body: bytes) -> None:
        self.objects[f"clusters/{name}/lock.json"] = body

    def delete_lock(self, name: str) -> None:
        self.objects.pop(f"clusters/{name}/lock.json", None)

    def save_job(self, job: JobRecord) -> None:
        with self._lock:
            self.objects[f"jobs/{job.id}.json"] = job.to_json()

    def load_job(self, job_id: str) -> JobRecord | None:
        data = self.objects.get(f"jobs/{job_id}.json")
        return JobRecord.from_json(data) if data is not None else None

    def list_jobs(self, cluster: str | None = None) -> list[JobRecord]:
        jobs = [JobRecord.from_json(v) for k, v in sorted(self.objects.items())
                if k.startswith("jobs/") and k.endswith(".json") and k.count("/") == 1]
        return [j for j in jobs if cluster is None or j.cluster == cluster]

    def delete_job(self, job_id: str) -> None:
        for offset, _ in self.job_log_chunks(job_id):
            del self.objects[job_log_chunk(job_id, offset)]
        self.objects.pop(f"jobs/{job_id}.json", None)

    def save_job_log(self, job_id: str, offset: int, data: bytes) -> None:
        self.objects[job_log_chunk(job_id, offset)] = data

    def job_log_chunks(self, job_id: str) -> list[tuple[int, int]]:
        prefix = job_log_prefix(job_id)
        return sorted((int(k[len(prefix):]), len(v)) for k, v in self.objects.items() if k.startswith(prefix))

    def job_log(self, job_id: str, offset: int = 0) -> bytes:
        data = b"".join(self.objects[job_log_chunk(job_id, start)] for start, _ in self.job_log_chunks(job_id))
        return data[offset:]


class FakeObjectStore:
    """Swift objects by container and name; temp URLs point nowhere real (``.invalid``)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.containers: set[str] = set()

    def temp_url(self, container: str, name: str, method: str, seconds: int = 900) -> str:
        path = urllib.parse.quote(f"/v1/AUTH_fake/{container}/{name}")
        return f"https://object-store.invalid{path}?method={method}&temp_url_sig=fake&temp_url_expires={seconds}"

    def prefix_temp_url(self, container: str, prefix: str, method: str, seconds: int) -> PrefixTempURL:
        path = urllib.parse.quote(f"/v1/AUTH_fake/{container}/{prefix}")
        return PrefixTempURL(f"https://object-store.invalid{path}", prefix,
                             f"method={method}&temp_url_sig=fake&temp_url_expires={seconds}")

    def names(self, container: str, prefix: str) -> list[str]:
        return [name for name, _ in self.listing(container, prefix)]

    def listing(self, container: str, prefix: str) -> list[tuple[str, int]]:
        """Objects under ``prefix`` with their sizes, as Swift lists them."""
        return sorted((n, len(data)) for (c, n), data in self.objects.items()
                      if c == container and n.startswith(prefix) and not n.endswith("/"))

    def make_container(self, container: str) -> None:
        self.containers.add(container)

    def upload(self, path: Path) -> str:
        data = Path(path).read_bytes()
        name = f"{hashlib.sha256(data).hexdigest()}/{Path(path).name}"
        self.objects[("heatdeploy-binaries", name)] = data
        return f"swift://heatdeploy-binaries/{name}"


class FakeCloud:
    """A project in memory: stacks, records, Swift and trusts, seen by the user or through a trust.

    Views made by :meth:`trusted` share the project's state; one whose trust
    was deleted refuses to work, as Keystone would.
    """

    def __init__(self, region: str | None = None) -> None:
        self.region = region
        self._stacks = FakeStacks()
        self._records = FakeRecords()
        self.store = FakeObjectStore()
        self.trusts: dict[str, Trust] = {}
        self.identity = "user"
        self._trust_id: str | None = None
        self._trust_ids = itertools.count(1)

    @property
    def stacks(self) -> FakeStacks:
        self._check()
        return self._stacks

    @property
    def records(self) -> FakeRecords:
        self._check()
        return self._records

    def _check(self) -> None:
        if self._trust_id is not None and self._trust_id not in self.trusts:
            raise AuthError(f"trust {self._trust_id} does not exist (deleted or expired)")

    def project_id(self) -> str:
        return "fake-project"

    def trusted(self, trustee_cloud: str, trust_id: str) -> FakeCloud:
        view = FakeCloud.__new__(FakeCloud)
        view.__dict__.update(self.__dict__)
        view.identity, view._trust_id = f"{trustee_cloud} through {trust_id}", trust_id
        view._check()
        return view

    def create_trust(self, trustee_cloud: str, days: float) -> Trust:
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
        trust = Trust(f"trust-{next(self._trust_ids)}", expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), ("member",))
        self.trusts[trust.id] = trust
        return trust

    def delete_trust(self, trust_id: str) -> bool:
        return self.trusts.pop(trust_id, None) is not None

    def object_store(self) -> FakeObjectStore:
        self._check()
        return self.store

    def locks(self) -> FakeRecords:
        return self.records


class FakeInstances:
    """A connector for :class:`~heatdeploy.ClusterManager` that opens recording remotes, not SSH.

    Every connection shares one :class:`~heatdeploy.testing.Recorder`;
    ``responses`` answers commands and HTTP as in
    :func:`~heatdeploy.testing.make_cluster`. ``opened`` and ``closed``
    count connection sets, so tests can check none is left open.
    """

    def __init__(self, responses: Responses | None = None,
                 files: Mapping[tuple[str, str], str | bytes] | None = None) -> None:
        self.recorder = Recorder(files)
        self.responses = responses or Responses()
        self.opened = 0
        self.closed = 0

    def __call__(self, instances: Sequence[Instance], access: AccessConfig) -> _FakeConnections:
        self.opened += 1
        return _FakeConnections(self, instances)


class _FakeConnections:
    def __init__(self, owner: FakeInstances, instances: Sequence[Instance]) -> None:
        self._owner = owner
        self._remotes = {i.name: RecordingRemote(i, owner.recorder, owner.responses) for i in instances}

    def get(self, instance: Instance) -> Remote:
        return self._remotes[instance.name]

    def remote(self, name: str) -> Remote:
        return self._remotes[name]

    def close(self) -> None:
        self._owner.closed += 1

    def __enter__(self) -> _FakeConnections:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

