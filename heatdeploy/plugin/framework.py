"""What a framework plugin declares: processes, versions, configs, ports, image requirements, rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from heatdeploy.plugin.image import ImageRequirements
from heatdeploy.spec.problems import Problem

if TYPE_CHECKING:
    from heatdeploy.plugin.health import HealthCheck
    from heatdeploy.plugin.instance import Instance
    from heatdeploy.plugin.steps import Step
    from heatdeploy.spec.model import ClusterSpec

Operation = Literal["launch", "scale_up", "decommission"]
"""``launch`` configures and starts a new cluster (or finishes an interrupted launch);
``scale_up`` adds instances to a running cluster; ``decommission`` removes some,
before their servers are deleted."""

Scope = Literal["cluster", "node_group"]
ConfigType = type[str] | type[int] | type[float] | type[bool]


@dataclass(frozen=True)
class ConfigOption:
    """A framework setting users may set under ``configs`` in a spec.

    ``scope="cluster"`` options may only be set at the top level;
    ``scope="node_group"`` options may be set per node group, and at the top
    level as the default for every group.
    """

    name: str
    type: ConfigType
    default: str | int | float | bool
    description: str
    scope: Scope = "cluster"


@dataclass(frozen=True)
class Framework:
    """A data-processing framework that heatdeploy can deploy.

    Plugins create one with their values (or subclass it to override
    :meth:`validate`) and hand it to heatdeploy from their
    ``heatdeploy_register_frameworks`` hook.
    """

    name: str
    title: str
    versions: tuple[str, ...]
    processes: Mapping[str, str]
    """Process name to a one-line description."""
    configs: tuple[ConfigOption, ...] = ()
    ports: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Process name to the TCP ports it listens on for users and tools. Automatic security groups open
    them to the cluster's own instances and to the spec's ``access_cidrs`` (none by default)."""
    cluster_ports: Mapping[str, tuple[int | range, ...]] = field(default_factory=dict)
    """Process name to the TCP ports it listens on for the cluster's other instances only: RPC between
    daemons, data transfer, the callback ports of drivers. A ``range`` stands for a service that
    takes the first free port of several (one driver per job, say). Between the cluster's instances,
    automatic security groups open :attr:`ports`, :attr:`public_ports` and these, and nothing
    else: pin every port the framework would otherwise pick at random, and declare it here."""
    public_ports: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Process name to TCP ports that automatic security groups open to everyone (``0.0.0.0/0``),
    whatever ``access_cidrs`` says. Meant for a web UI that authenticates its users; never for
    a service that trusts whoever reaches it."""
    requires: ImageRequirements = ImageRequirements()
    """What every instance's image must have, checked right after SSH answers (default: nothing);
    override :meth:`image_requirements` when it depends on the spec's version or configs."""

    def __post_init__(self) -> None:
        for attribute in ("ports", "public_ports", "cluster_ports"):
            for process, items in getattr(self, attribute).items():
                if process not in self.processes:
                    raise ValueError(f"{attribute} names {process!r}, which is not one of the processes")
                ranges = attribute == "cluster_ports"  # the others are listed one port at a time
                for item in items:
                    if not _valid_ports(item) or (isinstance(item, range) and not ranges):
                        allowed = "a TCP port (1 to 65535)" + (" or a non-empty range of them" if ranges else "")
                        raise ValueError(f"{attribute}[{process!r}] holds {item!r}, not {allowed}")

    def config(self, name: str) -> ConfigOption | None:
        """The config option called ``name``, if the framework has one."""
        return next((c for c in self.configs if c.name == name), None)

    def config_value(self, spec: ClusterSpec, name: str) -> str | int | float | bool:
        """The cluster-level value of config ``name``: the spec's, else the default."""
        option = self.config(name)
        if option is None:
            raise KeyError(name)
        return spec.configs.get(name, option.default)

    def image_requirements(self, spec: ClusterSpec) -> ImageRequirements:
        """What the image of every instance of ``spec`` must have: :attr:`requires` unless overridden.

        Override it when the requirements depend on the spec, say a path under
        a ``*_home`` config or a newer Java for a newer version.
        """
        return self.requires

    def validate(self, spec: ClusterSpec) -> Iterable[Problem]:
        """Topology rules of this framework; yield a :class:`Problem` per violation.

        Unknown processes, versions and configs are already checked by
        heatdeploy; override this for rules such as "exactly one master".
        """
        return ()

    def steps(self, operation: Operation) -> Sequence[Step]:
        """The configuration steps of ``operation``, run after heatdeploy's common steps.

        Dispatches to :meth:`launch_steps`, :meth:`scale_up_steps` or
        :meth:`decommission_steps`; override those.
        """
        lifecycle = {"launch": self.launch_steps, "scale_up": self.scale_up_steps,
                     "decommission": self.decommission_steps}
        return lifecycle[operation]()

    def launch_steps(self) -> Sequence[Step]:
        """Steps that configure and start a new cluster on every instance.

        They may follow the common steps ``ssh``, ``image``, ``hosts`` and
        ``volumes``; every step follows ``image`` (the image check) anyway.
        Every step must be safe to run again: an interrupted launch is
        finished by running it again.
        """
        return ()

    def scale_up_steps(self) -> Sequence[Step]:
        """Steps that add new instances (the context's ``targets``) to a running cluster.

        They may follow the common steps ``ssh``, ``image``, ``hosts`` and
        ``volumes``, which run on the new instances (``hosts`` on all); every
        step follows ``image`` anyway.
        """
        return ()

    def decommission_steps(self) -> Sequence[Step]:
        """Steps that take the leaving instances (``targets``, also ``leaving``) out of service.

        They run before the servers are deleted; the common steps do not run.
        """
        return ()

    def health_checks(self) -> Sequence[HealthCheck]:
        """Checks of the running framework, shown by ``heatdeploy status``."""
        return ()

    def endpoints(self, instances: Sequence[Instance]) -> dict[str, str]:
        """Named addresses users need (web UIs, service URLs), for the cluster summary."""
        return {}

    def ports_for(self, processes: Iterable[str]) -> tuple[int, ...]:
        """Sorted TCP ports that instances running ``processes`` listen on."""
        return _ports(self.ports, processes)

    def public_ports_for(self, processes: Iterable[str]) -> tuple[int, ...]:
        """Sorted TCP ports to open to everyone for instances running ``processes``."""
        return _ports(self.public_ports, processes)

    def cluster_port_ranges(self, processes: Iterable[str]) -> tuple[tuple[int, int], ...]:
        """Inclusive TCP port ranges the cluster's instances running ``processes`` may reach on each
        other: :attr:`ports`, :attr:`public_ports` and :attr:`cluster_ports`, adjacent ones merged."""
        wanted = set(processes)
        ports: set[int] = set(self.ports_for(wanted)) | set(self.public_ports_for(wanted))
        for process in wanted:
            for item in self.cluster_ports.get(process, ()):
                ports.update(item if isinstance(item, range) else (item,))
        ranges: list[tuple[int, int]] = []
        for port in sorted(ports):
            if ranges and ranges[-1][1] == port - 1:
                ranges[-1] = (ranges[-1][0], port)
            else:
                ranges.append((port, port))
        return tuple(ranges)


def _valid_ports(item: object) -> bool:
    if isinstance(item, range):
        return len(item) > 0 and item.step == 1 and 1 <= item.start and item.stop <= 65536
    return isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 65535


def _ports(by_process: Mapping[str, tuple[int, ...]], processes: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({p for proc in processes for p in by_process.get(proc, ())}))


def _where(spec: ClusterSpec, process: str) -> str:
    """Path of the last group running ``process`` (its count), else the group list."""
    found = [i for i, g in enumerate(spec.node_groups) if process in g.processes]
    return f"node_groups[{found[-1]}].count" if found else "node_groups"


def exactly_one(spec: ClusterSpec, process: str) -> Iterable[Problem]:
    """A rule for frameworks: ``process`` runs on exactly one instance."""
    count = spec.count_of(process)
    if count != 1:
        yield Problem(_where(spec, process),
                      f"exactly one {process!r} instance is needed, found {count}")


def at_least(spec: ClusterSpec, process: str, minimum: int, why: str = "") -> Iterable[Problem]:
    """A rule for frameworks: ``process`` runs on at least ``minimum`` instances."""
    count = spec.count_of(process)
    if count < minimum:
        reason = f" ({why})" if why else ""
        yield Problem(_where(spec, process),
                      f"at least {minimum} {process!r} instance(s) needed{reason}, found {count}")


def at_most(spec: ClusterSpec, process: str, maximum: int) -> Iterable[Problem]:
    """A rule for frameworks: ``process`` runs on at most ``maximum`` instances."""
    count = spec.count_of(process)
    if count > maximum:
        yield Problem(_where(spec, process),
                      f"at most {maximum} {process!r} instance(s) allowed, found {count}")
