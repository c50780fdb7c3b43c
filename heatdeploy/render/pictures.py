"""Pictures of a cluster: its topology, and the step DAG of an operation, as Mermaid or Graphviz DOT text.

Every label is data: DOT strings are JSON-escaped, Mermaid labels have
their quotes and line breaks replaced, and node ids are generated, so a
name from a spec or a plugin cannot change the picture's structure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from heatdeploy.plugin.framework import Framework
from heatdeploy.plugin.steps import Step
from heatdeploy.spec.model import ClusterSpec


@dataclass
class Picture:
    """Boxes (id to label), grouped into titled frames, and arrows between boxes."""

    title: str
    boxes: dict[str, str] = field(default_factory=dict)
    frames: dict[str, list[str]] = field(default_factory=dict)
    arrows: list[tuple[str, str, str]] = field(default_factory=list)

    def box(self, label: str, frame: str | None = None) -> str:
        ident = f"n{len(self.boxes)}"
        self.boxes[ident] = label
        if frame is not None:
            self.frames.setdefault(frame, []).append(ident)
        return ident


def topology(spec: ClusterSpec, framework: Framework) -> Picture:
    """The node groups (count, processes, flavor, volumes, addresses, proxy gateway), the network, and what the
    automatic security groups open: SSH to ``ssh_cidrs``, the framework's ports to ``access_cidrs``, its
    declared ports between the cluster's instances."""
    picture = Picture(f"cluster {spec.name} ({spec.plugin} {spec.version})")
    network = picture.box(f"network {spec.network}")
    outside = picture.box("outside: " + (", ".join(spec.access_cidrs) or "no access_cidrs"))
    ssh = picture.box("SSH from " + (", ".join(spec.ssh_cidrs) or "nowhere"))
    processes = {p for g in spec.node_groups for p in g.processes}
    internal = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in framework.cluster_port_ranges(processes))
    for group in spec.node_groups:
        details = [f"{group.count} x {group.flavor or spec.flavor}, image {group.image or spec.image}",
                   "processes: " + ", ".join(group.processes)]
        if group.volumes:
            details.append(f"{group.volumes.count} x {group.volumes.size} GB volumes at {group.volumes.mount_prefix}N")
        pool = group.floating_ip_pool if group.floating_ip_pool is not None else spec.floating_ip_pool
        details.append(f"floating IPs from {pool}" if pool else "fixed addresses only")
        if group.proxy_gateway:
            details.append("proxy gateway: heatdeploy reaches the others through it")
        node = picture.box(f"group {group.name}\n" + "\n".join(details), frame=spec.name)
        picture.arrows.append((node, network, ""))
        if group.auto_security_group:
            picture.arrows.append((ssh, node, "TCP 22"))
            ports = framework.ports_for(group.processes)
            if ports and spec.access_cidrs:
                picture.arrows.append((outside, node, "TCP " + ", ".join(map(str, ports))))
    if internal and spec.node_groups:
        picture.boxes[network] += f"\nbetween the cluster's instances: ICMP, TCP {internal}"
    return picture


def step_graph(title: str, steps: Sequence[Step]) -> Picture:
    """Each step with what it runs on, and an arrow from every step to those that follow it."""
    picture = Picture(title)
    ids = {}
    for step in steps:
        on = ", ".join(step.processes + step.groups) or "every instance"
        scope = "" if step.scope == "targets" else " (all, not only the operation's)"
        label = f"{step.name}\non {on}{' (first only)' if step.once else ''}{scope}"
        ids[step.name] = picture.box(label)
    after = {step.name: {b for b in step.after if b in ids} for step in steps}

    def ancestors(name: str, seen: set[str]) -> set[str]:
        for before in after[name] - seen:
            seen.add(before)
            ancestors(before, seen)
        return seen

    for step in steps:
        # Only the arrows that say something: none from a step another predecessor already follows.
        implied = set().union(*(ancestors(b, set()) for b in after[step.name]))
        for before in sorted(after[step.name] - implied, key=list(ids).index):
            picture.arrows.append((ids[before], ids[step.name], ""))
    return picture


def _mermaid_text(label: str) -> str:
    """A quoted Mermaid label: its own markup characters as entity codes, line breaks as <br>."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        label = label.replace(char, code)
    return '"' + label.replace("\r", "").replace("\n", "<br>") + '"'


def _lines(picture: Picture, frame: Callable[[int, str], str], end: str, box: Callable[[str, str], str],
           arrow: Callable[[str, str, str], str]) -> list[str]:
    """The boxes, frame by frame, then the unframed ones, then the arrows, each line as the format writes it."""
    framed = {i for members in picture.frames.values() for i in members}
    lines = []
    for n, (title, members) in enumerate(picture.frames.items()):
        lines += [frame(n, title), *("  " + box(i, picture.boxes[i]) for i in members), end]
    lines += [box(i, label) for i, label in picture.boxes.items() if i not in framed]
    return lines + [arrow(a, b, label) for a, b, label in picture.arrows]


def mermaid(picture: Picture) -> str:
    text = _mermaid_text
    body = _lines(picture, lambda n, title: f"  subgraph f{n}[{text(title)}]", "  end",
                  lambda i, label: f"  {i}[{text(label)}]",
                  lambda a, b, label: f"  {a} -->|{text(label)}| {b}" if label else f"  {a} --> {b}")
    return "\n".join([f"%% {picture.title.replace(chr(10), ' ')}", "flowchart LR", *body]) + "\n"


def dot(picture: Picture) -> str:
    body = _lines(picture, lambda n, title: f"  subgraph cluster_{n} {{ label={_dot(title)};", "  }",
                  lambda i, label: f"  {i} [label={_dot(label)}];",
                  lambda a, b, label: f"  {a} -> {b}" + (f" [label={_dot(label)}]" if label else "") + ";")
    head = ["digraph heatdeploy {", f"  label={_dot(picture.title)};", "  rankdir=LR;", "  node [shape=box];"]
    return "\n".join([*head, *body]) + "\n}\n"


def _dot(label: str) -> str:
    """A DOT string: JSON's escaping of quotes, backslashes and line breaks is DOT's."""
    return json.dumps(label, ensure_ascii=False)
