"""Rendering a cluster spec into a Heat (HOT) template, nested files and environment.

Pure and deterministic: no network, and the same spec gives byte-identical
output.  Every value reaches the template through the ``tojson`` filter, and
the environment refuses to emit anything else, so no user string can ever
become YAML structure, a Heat intrinsic function or Jinja syntax.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.framework import Framework
from heatdeploy.plugin.manager import Plugins
from heatdeploy.plugin.template_parts import SecurityRule, TemplatePart
from heatdeploy.render.userdata import ENDPOINT_TOKEN, PUBLIC_KEY_TOKEN, SIGNAL_TOKEN, UserDataError, cloud_config
from heatdeploy.spec.model import ANYWHERE, ClusterSpec, NodeGroup

TEMPLATE_NAME = "cluster.yaml"
ENVIRONMENT_NAME = "environment.yaml"
INTERNAL_SG = "cluster_internal_security_group"
ANTI_AFFINITY = "anti_affinity_group"
SSH_PORT = 22


class RenderError(HeatdeployError):
    """The spec and its plugins cannot be rendered into a consistent template."""


class _Json(str):
    """Text produced by the ``tojson`` filter: the only thing templates may emit."""


def _tojson(value: Any) -> _Json:
    # ensure_ascii: YAML folds raw U+0085/U+2028 inside quoted scalars; escapes are inert.
    return _Json(json.dumps(value, sort_keys=True, ensure_ascii=True))


def _only_json(value: Any) -> Any:
    if not isinstance(value, _Json):
        raise RenderError(f"template emitted {value!r} without the tojson filter")
    return value


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("heatdeploy", "templates"),
        undefined=jinja2.StrictUndefined,
        finalize=_only_json,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = _tojson
    return env


_ENV = _environment()


@dataclass(frozen=True)
class Rendered:
    """A rendered cluster: main template, nested files by name, and environment."""

    template: str
    files: dict[str, str]
    environment: str

    def write(self, directory: str | Path) -> list[Path]:
        """Write every file into ``directory``; return the paths written."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        contents = {TEMPLATE_NAME: self.template, ENVIRONMENT_NAME: self.environment, **self.files}
        paths = []
        for name, text in sorted(contents.items()):
            path = out / name
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths


@dataclass
class _Group:
    """What the templates need to know about one node group."""

    group: NodeGroup
    instance_type: str
    instance_file: str
    security_groups: list[Any]
    server_group: bool
    sg_rules: list[dict[str, Any]] = field(default_factory=list)
    user_data: str = ""


def render(
    spec: ClusterSpec,
    framework: Framework,
    plugins: Plugins,
    removals: Mapping[str, Sequence[str]] | None = None,
    declared_ports: bool = True,
) -> Rendered:
    """Render ``spec`` into HOT.

    ``removals`` maps a node group to the member indices (as strings) that a
    scale-down must remove; Heat removes exactly those instead of the newest.
    ``declared_ports=False`` keeps all traffic open between the instances, for
    clusters launched before frameworks declared their ports.
    """
    removals = removals or {}
    groups = [_group(spec, g, framework, plugins) for g in spec.node_groups]
    extra = _template_parts(spec, framework, plugins, groups)
    context = {
        "spec": spec,
        "groups": groups,
        "extra": extra,
        "removals": {g.name: list(removals.get(g.name, ())) for g in spec.node_groups},
        "internal_sg": INTERNAL_SG if any(g.group.auto_security_group for g in groups) else None,
        "internal_rules": _internal_rules(spec, framework, declared_ports),
        "anti_affinity": ANTI_AFFINITY if any(g.server_group for g in groups) else None,
        "public_key_token": PUBLIC_KEY_TOKEN,
        "signal_token": SIGNAL_TOKEN,
        "endpoint_token": ENDPOINT_TOKEN,
    }
    files = {
        g.instance_file: _ENV.get_template("instance.yaml.j2").render(context, g=g) for g in groups
    }
    return Rendered(
        template=_ENV.get_template("cluster.yaml.j2").render(context),
        files=files,
        environment=_ENV.get_template("environment.yaml.j2").render(context),
    )


def _group(spec: ClusterSpec, group: NodeGroup, framework: Framework, plugins: Plugins) -> _Group:
    security_groups: list[Any] = list(group.security_groups)
    if group.auto_security_group:
        security_groups += [{"get_resource": f"{group.name}_security_group"},
                            {"get_resource": INTERNAL_SG}]
    spread = any(p in spec.anti_affinity for p in group.processes)
    out = _Group(group, f"Heatdeploy::Instance::{group.name}", f"instance-{group.name}.yaml",
                 security_groups, spread)
    if group.auto_security_group:
        out.sg_rules = _group_rules(spec, group, framework, plugins)
    parts = plugins.user_data(spec, group, framework)
    try:
        out.user_data = cloud_config(parts)
    except UserDataError as exc:
        owners = " or ".join(plugins.implementers("heatdeploy_user_data"))
        raise RenderError(f"plugin {owners!r}: {exc}") from None
    return out


def _group_rules(
    spec: ClusterSpec, group: NodeGroup, framework: Framework, plugins: Plugins
) -> list[dict[str, Any]]:
    """A node group's own security group: SSH to ``ssh_cidrs``; ICMP and the framework's ports to
    ``access_cidrs`` only; the framework's public ports to everyone; then what plugins add.

    Traffic between the cluster's instances needs none of these: the internal group allows it.
    """
    ports = framework.ports_for(group.processes)
    rules = [SecurityRule("tcp", SSH_PORT, remote_ip_prefix=cidr) for cidr in _networks(spec.ssh_cidrs)]
    for cidr in _networks(spec.access_cidrs):
        rules += [SecurityRule("icmp", remote_ip_prefix=cidr),
                  *(SecurityRule("tcp", port, remote_ip_prefix=cidr) for port in ports)]
    rules += [SecurityRule("tcp", port, remote_ip_prefix=ANYWHERE)
              for port in framework.public_ports_for(group.processes)]
    rules.extend(plugins.security_group_rules(spec, group, framework))
    # Neutron refuses a group holding the same rule twice (a public port also in access_cidrs, say).
    unique = {json.dumps(r.to_hot(), sort_keys=True): r.to_hot() for r in rules}
    return list(unique.values())


def _networks(cidrs: Sequence[str]) -> list[str]:
    """The spec's networks in canonical form, so that one written two ways makes one rule."""
    try:
        return [str(ipaddress.ip_network(cidr)) for cidr in cidrs]
    except ValueError as exc:  # a spec built in Python, never validated
        raise RenderError(f"not a network in CIDR notation: {exc}") from None


def _internal_rules(spec: ClusterSpec, framework: Framework, declared_ports: bool) -> list[dict[str, Any]]:
    """Between instances that share the cluster's internal group: ICMP, and the TCP ports the
    framework declares for the processes the spec runs; nothing else, so that a port the framework
    forgot fails on every cloud alike, at its readiness check. A framework that declares no port at
    all (one written before ports were declared, or one that needs none) keeps all traffic open."""
    processes = {p for g in spec.node_groups for p in g.processes}
    ranges = framework.cluster_port_ranges(processes) if declared_ports else ()
    rules = []
    for ethertype in ("IPv4", "IPv6"):
        member: dict[str, Any] = {"direction": "ingress", "ethertype": ethertype, "remote_mode": "remote_group_id"}
        if not ranges:  # a framework that declares no port at all gives nothing to narrow to: all of it
            rules.append(member)
            continue
        rules.append({**member, "protocol": "icmp"})
        rules += [{**member, "protocol": "tcp", "port_range_min": low, "port_range_max": high}
                  for low, high in ranges]
    return rules


def _template_parts(
    spec: ClusterSpec, framework: Framework, plugins: Plugins, groups: list[_Group]
) -> TemplatePart:
    taken = {"parameters": {"public_key"}, "outputs": {"instances"},
             "resources": {INTERNAL_SG, ANTI_AFFINITY} | {g.group.name for g in groups}
             | {f"{g.group.name}_security_group" for g in groups}}
    merged = TemplatePart()
    for part in plugins.template_parts(spec, framework):
        for kind in ("parameters", "resources", "outputs"):
            mine: dict[str, Any] = getattr(part, kind)
            clash = sorted(set(mine) & taken[kind])
            if clash:
                owners = ", ".join(plugins.implementers("heatdeploy_template_parts"))
                raise RenderError(f"a template part adds {kind[:-1]} {clash[0]!r}, which is already defined "
                                  f"(template parts come from plugins {owners})")
            taken[kind] |= set(mine)
            getattr(merged, kind).update(mine)
    return merged
