"""Sahara cluster templates and node group templates (API JSON, ``show -f json``, default-template sets).

A cluster template names its node groups' templates by id, by name, or,
in Sahara's default-template sets, by a ``"{template-name}"`` placeholder;
each must be among the files given. A node group may also carry its
template's fields inline, as the API allows.
"""

from __future__ import annotations

from typing import Any

from heatdeploy.sahara.convert import ClusterIn, GroupIn, Where
from heatdeploy.sahara.sources import Source, placeholder, problem

_CLUSTER_UNMAPPED = ("use_autoconfig", "domain_name", "shares", "is_transient")


def clusters_from_templates(sources: list[Source]) -> list[ClusterIn]:
    """One :class:`ClusterIn` per cluster template among ``sources``, its node group templates resolved."""
    node_group_templates = [s for s in sources if s.kind == "node_group_template"]
    cluster_templates = [s for s in sources if s.kind == "cluster_template"]
    if node_group_templates and not cluster_templates:
        first = node_group_templates[0]
        raise problem(first.file, 1, "node group templates alone make no cluster: give the cluster template "
                                     "that uses them too ('openstack dataprocessing cluster template show "
                                     "NAME -f json')")
    by_key: dict[str, Source] = {}
    for source in node_group_templates:
        for key in (source.data.get("id"), source.data.get("name")):
            if isinstance(key, str) and key:
                by_key[key] = source
    return [_cluster(source, by_key) for source in cluster_templates]


def where_in(source: Source, *prefix: str | int) -> Where:
    """Where a field below ``prefix`` is in ``source``."""
    def where(*path: str | int) -> tuple[str, int]:
        return source.file, source.line(*prefix, *path)
    return where


def _cluster(source: Source, templates: dict[str, Source]) -> ClusterIn:
    data = source.data
    where = where_in(source)
    groups = data.get("node_groups")
    if not isinstance(groups, list) or not groups:
        raise problem(*where("node_groups"), "node_groups: expected a list of node groups")
    cluster = ClusterIn(
        name=str(data.get("name") or "sahara"), plugin=str(data.get("plugin_name", "")),
        version=str(data.get("hadoop_version", "")), where=where,
        groups=[_group(source, i, g, templates) for i, g in enumerate(groups)],
        configs=data.get("cluster_configs") or {}, anti_affinity=list(data.get("anti_affinity") or []),
        network=data.get("neutron_management_network") or data.get("net_id"), image=data.get("default_image_id"),
        unmapped={key: data.get(key) for key in _CLUSTER_UNMAPPED})
    if source.keys.get("node_groups", "node_groups") != "node_groups":  # the shape of show -f json
        cluster.remarks.append((where(), "'show -f json' prints no cluster or node group configs: add any the "
                                         "cluster had to the spec's configs"))
    for group in cluster.groups:
        plugin = group.fields.get("plugin_name")
        if plugin and plugin != cluster.plugin:
            raise problem(*group.where("plugin_name"), f"node group {group.name} is a {plugin} template, "
                                                       f"but the cluster template is {cluster.plugin}")
    return cluster


def _group(source: Source, index: int, raw: Any, templates: dict[str, Source]) -> GroupIn:
    where = where_in(source, "node_groups", index)
    if not isinstance(raw, dict):
        raise problem(*where(), "node_groups: each node group must be a mapping")
    name, count = raw.get("name"), raw.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise problem(*where("count"), f"count: {count!r} is not a whole number of instances")
    reference = raw.get("node_group_template_id")
    if reference is None:
        reference = name if name in templates else None
    if reference is None and "node_processes" in raw:  # the template's fields are inline, as the API allows
        return GroupIn(str(name or f"group-{index}"), count, dict(raw), where)
    if reference is None:
        reference = name
    key = placeholder(reference) or str(reference)
    template = templates.get(key)
    if template is None:
        raise problem(*where("node_group_template_id"), f"node group {name}: its template {reference!r} is not "
                                                       "among the files given (add its JSON: 'openstack "
                                                       "dataprocessing node group template show NAME -f json')")
    fields = {**template.data, **{k: v for k, v in raw.items() if k not in ("name", "count")}}
    return GroupIn(str(name or template.data.get("name")), count, fields, where_in(template))
