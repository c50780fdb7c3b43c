"""The cluster spec: its model, its own rules, and loading it from YAML.

Field names here are a public contract: users' specs, the examples and the
published JSON Schema all depend on them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatdeploy.spec.fields import Converter, Scalar, json_schema, spec_field
from heatdeploy.spec.problems import Problem, SpecError
from heatdeploy.spec.yaml_source import Document, load_yaml, read_text

HOSTNAME = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
HOSTNAME_HINT = "lower-case letters, digits and '-', not starting or ending with '-'"
ABS_PATH = r"(/[A-Za-z0-9._-]+)+"
MAX_HOSTNAME = 63
ANYWHERE = "0.0.0.0/0"
CIDR_HINT = "an IPv4 or IPv6 network in CIDR notation, such as 203.0.113.0/24 or 2001:db8::/32"


def cidr_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a network in CIDR notation, or ``None`` when nothing is."""
    try:
        network = ipaddress.ip_network(value)
    except ValueError as exc:
        # Host bits set (10.0.0.1/8) is usually a typo for a narrower network: refuse rather than widen it.
        return "has host bits set" if "host bits" in str(exc) else "is not a valid network"
    if "/" not in value:
        # A bare address would be read as one host; make the user say so rather than guess.
        return f"has no prefix length; {value}/{network.max_prefixlen} is that one address"
    return None


def _anywhere() -> list[str]:
    return [ANYWHERE]


@dataclass
class Volumes:
    """Block storage attached to every instance of a node group."""

    count: int = spec_field("Volumes per instance.", minimum=1)
    size: int = spec_field("Size of each volume in GB.", minimum=1)
    type: str | None = spec_field("Volume type.", default=None)
    availability_zone: str | None = spec_field("Availability zone of the volumes.", default=None)
    mount_prefix: str = spec_field(
        "Volumes are mounted at this prefix followed by 1..count.",
        default="/volumes/disk",
        pattern=ABS_PATH,
        hint="an absolute path of letters, digits, '.', '_' and '-'",
    )


@dataclass
class NodeGroup:
    """A set of identical instances running the same framework processes."""

    name: str = spec_field("Group name; instances are named <cluster>-<group>-<index>.",
                           pattern=HOSTNAME, max_length=40, hint=HOSTNAME_HINT)
    count: int = spec_field("Number of instances.", minimum=0)
    processes: list[str] = spec_field("Framework processes every instance runs.")
    flavor: str | None = spec_field("Flavor name or id (default: the cluster's).", default=None)
    image: str | None = spec_field("Image name or id (default: the cluster's).", default=None)
    floating_ip_pool: str | None = spec_field(
        "External network for floating IPs (default: the cluster's).", default=None)
    security_groups: list[str] = spec_field("Existing security groups to add.", default_factory=list)
    auto_security_group: bool = spec_field(
        "Create a security group opening SSH to ssh_cidrs and the framework's ports to access_cidrs "
        "(and the cluster's instances to each other).",
        default=True)
    availability_zone: str | None = spec_field("Compute availability zone.", default=None)
    proxy_gateway: bool = spec_field(
        "Instances of this group relay access to the others.", default=False)
    volumes: Volumes | None = spec_field("Volumes attached to every instance.", default=None)
    configs: dict[str, Scalar] = spec_field("Node-group-scope framework configs.",
                                            default_factory=dict)


@dataclass
class ClusterSpec:
    """A heatdeploy cluster: a framework on groups of instances."""

    name: str = spec_field("Cluster name.", pattern=HOSTNAME, max_length=50, hint=HOSTNAME_HINT)
    plugin: str = spec_field("Framework plugin name (see `heatdeploy plugins`).")
    version: str = spec_field("Framework version, one of the plugin's versions.")
    node_groups: list[NodeGroup] = spec_field("The cluster's node groups.")
    network: str = spec_field("Management network name or id.")
    image: str | None = spec_field("Default image name or id for node groups.", default=None)
    flavor: str | None = spec_field("Default flavor name or id for node groups.", default=None)
    floating_ip_pool: str | None = spec_field(
        "Default external network for floating IPs.", default=None)
    key_name: str | None = spec_field(
        "The user's own key pair, authorized in addition to the generated key.", default=None)
    ssh_cidrs: list[str] = spec_field(
        "Networks (CIDR) the automatic security groups let reach SSH (port 22); heatdeploy configures "
        "instances over SSH, so include where it runs, or reach them through a proxy gateway.",
        default_factory=_anywhere, check=cidr_problem, hint=CIDR_HINT)
    access_cidrs: list[str] = spec_field(
        "Networks (CIDR) the automatic security groups let reach the framework's ports and ICMP; "
        "empty (the default): none beyond the cluster, whose instances always reach each other.",
        default_factory=list, check=cidr_problem, hint=CIDR_HINT)
    anti_affinity: list[str] = spec_field(
        "Processes whose instances are spread over distinct hosts.", default_factory=list)
    configs: dict[str, Scalar] = spec_field("Cluster-scope framework configs.", default_factory=dict)
    timeout: int = spec_field(
        "Minutes the cloud may take to create or update the cluster's stack.", default=60, minimum=1)

    def groups_running(self, process: str) -> Iterator[NodeGroup]:
        """Node groups whose instances run ``process``."""
        return (g for g in self.node_groups if process in g.processes)

    @property
    def instance_count(self) -> int:
        """How many instances the cluster has."""
        return sum(g.count for g in self.node_groups)

    def count_of(self, process: str) -> int:
        """How many instances run ``process``."""
        return sum(g.count for g in self.groups_running(process))


def schema() -> dict[str, Any]:
    """The JSON Schema of a cluster spec, generated from :class:`ClusterSpec`."""
    out = json_schema(ClusterSpec, title="heatdeploy cluster spec")
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return out


def spec_rules(spec: ClusterSpec) -> Iterator[Problem]:
    """Rules that involve more than one field of the spec itself."""
    seen: set[str] = set()
    for i, group in enumerate(spec.node_groups):
        here = f"node_groups[{i}]"
        if group.name in seen:
            yield Problem(f"{here}.name", f"duplicate node group name {group.name!r}")
        seen.add(group.name)
        longest = f"{spec.name}-{group.name}-{max(group.count - 1, 0)}"
        if len(longest) > MAX_HOSTNAME:
            yield Problem(f"{here}.name", f"instance name {longest!r} would exceed "
                          f"{MAX_HOSTNAME} characters (shorten the cluster or group name)")
        for attr in ("image", "flavor"):
            if getattr(group, attr) is None and getattr(spec, attr) is None:
                yield Problem(here, f"{attr} is set neither here nor at the top level")
        if not group.processes:
            yield Problem(f"{here}.processes", "must name at least one process")
        yield from _duplicates(group.processes, f"{here}.processes")
    if not spec.node_groups:
        yield Problem("node_groups", "must have at least one node group")
    yield from _duplicates(spec.anti_affinity, "anti_affinity")


def _duplicates(items: list[str], path: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for j, item in enumerate(items):
        if item in seen:
            yield Problem(f"{path}[{j}]", f"{item!r} is listed twice")
        seen.add(item)


def inherit_defaults(spec: ClusterSpec, raw_groups: list[dict[str, Any]]) -> ClusterSpec:
    """Fill each node group's image, flavor and floating IP pool from the cluster's.

    A field the group sets, even to null, is kept: ``floating_ip_pool: null``
    in a group means "no floating IPs here" although the cluster has a default.
    """
    groups = [
        dataclasses.replace(
            g,
            image=g.image or spec.image,
            flavor=g.flavor or spec.flavor,
            floating_ip_pool=g.floating_ip_pool if "floating_ip_pool" in raw else spec.floating_ip_pool,
        )
        for g, raw in zip(spec.node_groups, raw_groups, strict=True)
    ]
    return dataclasses.replace(spec, node_groups=groups)


@dataclass
class LoadedSpec:
    """A spec together with the document it came from, for locating later problems."""

    spec: ClusterSpec
    document: Document
    text: str

    def fail(self, problems: list[Problem]) -> None:
        """Raise :class:`SpecError` locating ``problems`` in the source file, if any."""
        if problems:
            raise SpecError(self.document.locate(p.path, p.message) for p in problems)


@dataclass(frozen=True)
class Checks:
    """Further checks to run while parsing, so all problems are reported at once.

    ``raw`` runs on the parsed YAML mapping even when the spec is otherwise
    broken (say, to report an unknown plugin); ``names`` runs on every spec
    that could be built, even one that breaks its own rules (unknown
    processes and configs); ``spec`` runs once every other check passed, on
    the spec with defaults inherited (topology rules, which would only
    repeat earlier problems).
    """

    raw: Callable[[dict[str, Any]], Iterable[Problem]] | None = None
    spec: Callable[[ClusterSpec], Iterable[Problem]] | None = None
    names: Callable[[ClusterSpec], Iterable[Problem]] | None = None


def parse_spec(text: str, file: str = "<spec>", checks: Checks = Checks()) -> LoadedSpec:
    """Parse and check a spec; raises :class:`SpecError` listing all problems found."""
    doc = load_yaml(text, file)
    converter = Converter()
    spec = converter.build(ClusterSpec, doc.data)
    problems = list(converter.problems)
    if spec is not None:
        problems.extend(spec_rules(spec))
        spec = inherit_defaults(spec, doc.data["node_groups"])
        if checks.names is not None:
            problems.extend(checks.names(spec))
        # Framework rules on a spec that breaks its own would only repeat them.
        if checks.spec is not None and not problems:
            problems.extend(checks.spec(spec))
    if checks.raw is not None and isinstance(doc.data, dict):
        problems.extend(checks.raw(doc.data))
    if spec is None or problems:
        raise SpecError(doc.locate(p.path, p.message) for p in problems)
    return LoadedSpec(spec, doc, text)


def read_spec(path: str | Path, checks: Checks = Checks()) -> LoadedSpec:
    """Read a spec file; unreadable, oversized or non-UTF-8 files raise :class:`SpecError` too."""
    return parse_spec(read_text(path), str(path), checks)
