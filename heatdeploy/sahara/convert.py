"""Sahara node groups and clusters to heatdeploy specs (as data), with a note for everything not carried over.

The templates' and scenarios' own shapes are read elsewhere (``templates``,
``scenario``); both hand this module the same things: a cluster (plugin,
version, configs, anti-affinity, network, image) and node groups with
Sahara's field names, each able to say where in which file it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heatdeploy.plugin.framework import Framework
from heatdeploy.plugin.manager import Plugins
from heatdeploy.sahara.mapping import MappedConfig, Note, PluginMap, map_config, map_processes, plugin_map
from heatdeploy.sahara.sources import placeholder, problem

Where = Callable[..., tuple[str, int]]
"""Where a field (by path below the thing) is: (file, line)."""


@dataclass(frozen=True)
class Overrides:
    """Cloud-specific names given on the command line; ``None`` keeps what the Sahara files say."""

    image: str | None = None
    flavor: str | None = None
    network: str | None = None
    floating_ip_pool: str | None = None


@dataclass
class GroupIn:
    """A Sahara node group: its name and count, its node group template's fields, and where they are."""

    name: str
    count: int
    fields: dict[str, Any]
    where: Where


@dataclass
class ClusterIn:
    """A Sahara cluster: plugin, version, cluster configs, anti-affinity, network, image, and its groups."""

    name: str
    plugin: str
    version: str
    where: Where
    groups: list[GroupIn]
    configs: dict[str, Any] = field(default_factory=dict)
    anti_affinity: list[str] = field(default_factory=list)
    network: str | None = None
    image: str | None = None
    floating_ip_pool: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Further cluster fields (``key_name``, ``timeout``) already in heatdeploy's terms."""
    unmapped: dict[str, Any] = field(default_factory=dict)
    """Cluster fields heatdeploy has no equivalent for, reported."""
    remarks: list[tuple[tuple[str, int], str]] = field(default_factory=list)
    """Further lines for the user, each where it applies."""


@dataclass
class Converted:
    """A heatdeploy spec (as data) converted from Sahara, and what did not carry over."""

    name: str
    spec: dict[str, Any]
    notes: list[Note]
    file: str
    group_names: dict[str, str] = field(default_factory=dict)
    """Sahara node group name to the spec's (dropped groups are absent)."""


# Fields that describe the template itself, not the cluster: nothing to carry over, nothing to report.
_METADATA = {"id", "name", "description", "tenant_id", "project_id", "created_at", "updated_at", "is_default",
             "is_protected", "is_public", "plugin_name", "hadoop_version", "plugin_version", "node_group_template_id",
             "count", "node_processes", "node_configs", "edp_batching"}
_NOT_MAPPED = {
    "use_autoconfig": "heatdeploy sizes nothing automatically: the spec's configs say it",
    "volume_local_to_instance": "heatdeploy asks for no volume locality",
    "boot_from_volume": "heatdeploy boots instances from their image",
    "boot_volume_type": "heatdeploy boots instances from their image",
    "boot_volume_availability_zone": "heatdeploy boots instances from their image",
    "boot_volume_local_to_instance": "heatdeploy boots instances from their image",
    "shares": "heatdeploy mounts no Manila shares",
    "domain_name": "heatdeploy registers no DNS names (instances have /etc/hosts)",
    "is_transient": "run a transient cluster with 'heatdeploy launch SPEC --job JOBFILE --transient'",
}
_GROUP_FIELDS = {"flavor_id", "image_id", "floating_ip_pool", "auto_security_group", "security_groups",
                 "availability_zone", "is_proxy_gateway", "volumes_per_node", "volumes_size", "volume_type",
                 "volumes_availability_zone", "volume_mount_prefix"}


def framework_for(cluster: ClusterIn, plugins: Plugins) -> tuple[PluginMap, Framework]:
    """The mapping and installed framework for the cluster's Sahara plugin; exit 2 when there is none."""
    mapping = plugin_map(cluster.plugin)
    file, line = cluster.where("plugin_name")
    if mapping is None:
        raise problem(file, line, f"plugin_name: Sahara plugin {cluster.plugin!r} has no heatdeploy equivalent "
                                  "(spark and vanilla do)")
    framework = plugins.framework(mapping.framework)
    if framework is None:
        raise problem(file, line, f"plugin_name: Sahara's {cluster.plugin} needs heatdeploy's {mapping.framework} "
                                  "plugin, which is not installed ('heatdeploy plugins' lists what is)")
    return mapping, framework


def convert(cluster: ClusterIn, plugins: Plugins, overrides: Overrides = Overrides()) -> Converted:
    """The heatdeploy spec for a Sahara cluster; :class:`SpecError` (exit 2) when one cannot be made."""
    mapping, framework = framework_for(cluster, plugins)
    notes: list[Note] = []
    # CLUSTER-GROUP-INDEX must stay a host name (63 characters): 30 + 1 + 27 + 1 + 4 digits.
    name = _hostname(cluster.name, 30, "cluster", cluster.where("name"), notes)
    version = framework.versions[-1]
    notes.append(_note(cluster.where("hadoop_version"), f"Sahara {cluster.plugin} {cluster.version} becomes "
                       f"heatdeploy {framework.name} {version}, the newest it runs (edit version: to choose)"))
    spec: dict[str, Any] = {"name": name, "plugin": framework.name, "version": version}
    network = overrides.network or cluster.network
    if network is None or placeholder(network):
        raise _missing(cluster.where("neutron_management_network"), "network", "--network NAME", network)
    spec["network"] = network
    image = overrides.image or cluster.image
    if image and not placeholder(image):
        spec["image"] = image
    spec.update(cluster.extra)
    configs: dict[str, Any] = {}
    _add_configs(cluster.configs, cluster.where, "cluster_configs", mapping, framework, configs, None, notes)
    groups = [_group(g, mapping, framework, overrides, cluster, configs, notes) for g in cluster.groups]
    spec["node_groups"] = [g for g in groups if g is not None]
    _unique_group_names(spec["node_groups"])
    names = {g.name: out["name"] for g, out in zip(cluster.groups, groups, strict=True) if out is not None}
    if not spec["node_groups"]:
        raise problem(*cluster.where("node_groups"), "no node group is left once Sahara processes without "
                                                     "heatdeploy equivalent are dropped")
    anti = _anti_affinity(cluster, mapping, notes)
    if anti:
        spec["anti_affinity"] = anti
    if configs:
        spec["configs"] = configs
    notes.extend(_note(at, message) for at, message in cluster.remarks)
    for key, value in cluster.unmapped.items():
        if value not in (None, False, "", [], {}):
            why = _NOT_MAPPED.get(key, "heatdeploy has no equivalent")
            notes.append(_note(cluster.where(key), f"{key} is not carried over: {why}"))
    return Converted(name, spec, notes, cluster.where()[0], names)


def _group(group: GroupIn, mapping: PluginMap, framework: Framework, overrides: Overrides, cluster: ClusterIn,
           cluster_configs: dict[str, Any], notes: list[Note]) -> dict[str, Any] | None:
    """A node group of the spec, or ``None`` (with a note) when none of its processes carries over."""
    fields, where = group.fields, group.where
    processes, lines = map_processes(mapping, list(fields.get("node_processes") or []))
    notes.extend(_note(where("node_processes"), f"node group {group.name}: {line}") for line in lines)
    if not processes:
        notes.append(_note(where("node_processes"), f"node group {group.name} is dropped: none of its processes "
                                                    f"has a heatdeploy {framework.name} equivalent"))
        return None
    out: dict[str, Any] = {"name": _hostname(group.name, 27, "node group", where("name"), notes),
                           "count": group.count, "processes": processes, **_machine(group, overrides, cluster)}
    _access(out, fields, where, group.name, overrides, cluster, notes)
    for key, target in (("availability_zone", "availability_zone"), ("is_proxy_gateway", "proxy_gateway")):
        value = fields.get(key)
        if value not in (None, "") and not placeholder(value):
            out[target] = _bool(value) if target == "proxy_gateway" else value
    volumes = _volumes(fields, where, group.name, notes)
    if volumes:
        out["volumes"] = volumes
    configs: dict[str, Any] = {}
    _add_configs(fields.get("node_configs") or {}, where, "node_configs", mapping, framework, configs,
                 cluster_configs, notes, group.name)
    if configs:
        out["configs"] = configs
    _report_fields(group, notes)
    return out


def _machine(group: GroupIn, overrides: Overrides, cluster: ClusterIn) -> dict[str, Any]:
    """The group's flavor, and its image when it has its own; exit 2 when either is missing altogether."""
    fields, where = group.fields, group.where
    flavor = overrides.flavor or fields.get("flavor_id")
    if flavor is None or not isinstance(flavor, str | int) or placeholder(flavor):
        raise _missing(where("flavor_id"), f"node group {group.name}: flavor", "--flavor NAME", flavor)
    image = fields.get("image_id")
    if image and not placeholder(image) and not overrides.image:
        return {"flavor": str(flavor), "image": image}
    if not (overrides.image or cluster.image):
        raise _missing(where("image_id"), f"node group {group.name}: image", "--image NAME", image)
    return {"flavor": str(flavor)}


def _report_fields(group: GroupIn, notes: list[Note]) -> None:
    """A line for each field of the group heatdeploy does not carry over."""
    for key in sorted(set(group.fields) - _METADATA - _GROUP_FIELDS):
        why = _NOT_MAPPED.get(key)
        if why and group.fields[key] not in (None, False, "", [], {}):
            notes.append(_note(group.where(key), f"node group {group.name}: {key} is not carried over: {why}"))
        elif not why and key not in ("flavor", "security_group", "volumes_size"):
            notes.append(_note(group.where(key), f"node group {group.name}: field {key!r} is not carried over"))


def _access(out: dict[str, Any], fields: dict[str, Any], where: Where, group: str, overrides: Overrides,
            cluster: ClusterIn, notes: list[Note]) -> None:
    """Floating IPs and security groups; a default template's unfilled optional placeholders are dropped."""
    pool = fields.get("floating_ip_pool", cluster.floating_ip_pool)
    if overrides.floating_ip_pool is not None and pool is not None:
        pool = overrides.floating_ip_pool
    if pool not in (None, "") and not placeholder(pool):
        out["floating_ip_pool"] = pool
    elif "floating_ip_pool" in fields or cluster.floating_ip_pool is not None:
        out["floating_ip_pool"] = None
        name = placeholder(pool)
        if name:
            notes.append(_note(where("floating_ip_pool"), f"node group {group}: floating_ip_pool is the unfilled "
                                                          f"placeholder {{{name}}}: no floating IPs (--var "
                                                          f"{name}=NETWORK or --floating-ip-pool NETWORK gives some)"))
    for key, target in (("auto_security_group", "auto_security_group"), ("security_groups", "security_groups")):
        value = fields.get(key)
        name = placeholder(value)
        if name:
            notes.append(_note(where(key), f"node group {group}: {key} is the unfilled placeholder {{{name}}}: "
                                           f"heatdeploy's default applies (--var {name}=VALUE sets it)"))
        elif key == "auto_security_group" and value is not None:
            out[target] = _bool(value)
        elif key == "security_groups" and value:
            out[target] = [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)


def _volumes(fields: dict[str, Any], where: Where, group: str, notes: list[Note]) -> dict[str, Any] | None:
    count = fields.get("volumes_per_node") or 0
    if not count:
        return None
    size = fields.get("volumes_size")
    if not isinstance(count, int) or not isinstance(size, int) or size < 1:
        raise problem(*where("volumes_size"), f"node group {group}: volumes_per_node is {count!r} but volumes_size "
                                              f"is {size!r} (a whole number of GB, at least 1)")
    volumes: dict[str, Any] = {"count": count, "size": size}
    for key, target in (("volume_type", "type"), ("volumes_availability_zone", "availability_zone"),
                        ("volume_mount_prefix", "mount_prefix")):
        if fields.get(key):
            volumes[target] = fields[key]
    return volumes


def _add_configs(sahara: Any, where: Where, key: str, mapping: PluginMap, framework: Framework,
                 out: dict[str, Any], cluster_out: dict[str, Any] | None, notes: list[Note],
                 group: str | None = None) -> None:
    """Carry Sahara's ``{target: {name: value}}`` configs over into ``out`` (cluster-scope ones of a group:
    into ``cluster_out``, as heatdeploy sets them per cluster)."""
    if not isinstance(sahara, dict):
        raise problem(*where(key), f"{key}: expected a mapping of targets (HDFS, Spark, ...) to configs")
    prefix = f"node group {group}: " if group else ""
    for target, items in sahara.items():
        if not isinstance(items, dict):
            raise problem(*where(key, target), f"{key}.{target}: expected a mapping of config names to values")
        for name, value in items.items():
            mapped = map_config(mapping, framework, str(target), str(name), value)
            here = where(key, target, name)
            if mapped is None:
                continue
            if isinstance(mapped, str):
                notes.append(_note(here, prefix + mapped))
                continue
            _place(mapped, out, cluster_out, here, prefix, notes)


def _place(mapped: MappedConfig, out: dict[str, Any], cluster_out: dict[str, Any] | None, here: tuple[str, int],
           prefix: str, notes: list[Note]) -> None:
    if cluster_out is not None and mapped.scope == "cluster":
        if cluster_out.get(mapped.name, mapped.value) != mapped.value:
            notes.append(_note(here, f"{prefix}{mapped.name} is set per cluster in heatdeploy and another node group "
                                     f"or the cluster sets it to {cluster_out[mapped.name]!r}: kept that"))
            return
        notes.append(_note(here, f"{prefix}{mapped.name} is set per cluster in heatdeploy: moved to the top level"))
        cluster_out[mapped.name] = mapped.value
        return
    out[mapped.name] = mapped.value


def _anti_affinity(cluster: ClusterIn, mapping: PluginMap, notes: list[Note]) -> list[str]:
    kept, lines = map_processes(mapping, list(cluster.anti_affinity))
    notes.extend(_note(cluster.where("anti_affinity"), f"anti_affinity: {line}") for line in lines)
    return kept


def _unique_group_names(groups: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for group in groups:
        base, n = group["name"], 1
        while group["name"] in seen:
            n += 1
            group["name"] = f"{base[:37]}-{n}"
        seen.add(group["name"])


def _hostname(value: object, limit: int, what: str, at: tuple[str, int], notes: list[Note]) -> str:
    """A name heatdeploy accepts (lower-case letters, digits and '-'), as close to Sahara's as can be."""
    text = str(value or what.replace(" ", "-"))
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")[:limit].strip("-") or "sahara"
    if name != text:
        notes.append(_note(at, f"{what} name {text!r} becomes {name!r} (heatdeploy names are host names)"))
    return name


def _bool(value: object) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")


def _missing(at: tuple[str, int], what: str, option: str, value: object) -> Exception:
    name = placeholder(value)
    how = f"pass --var {name}=VALUE or {option}" if name else f"pass {option}"
    said = f"is the unfilled placeholder {{{name}}}" if name else "is not given"
    return problem(*at, f"{what} {said} ({how})")


def _note(at: tuple[str, int], message: str) -> Note:
    return Note(at[0], at[1], message)
