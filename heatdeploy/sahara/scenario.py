"""sahara-tests scenario files: their clusters as heatdeploy specs, and their flow as steps to run.

Several files make one scenario, merged as sahara-tests merged them:
``network`` and ``credentials`` key by key (a key set twice must agree),
``clusters`` one after another, ``edp_jobs_flow`` flow by flow (a flow
defined twice is an error). Each cluster's ``scenario`` list (default
``run_jobs``, ``scale``, ``run_jobs``) becomes steps; each EDP job becomes
a heatdeploy job when its type has an equivalent on the cluster's
framework, and a skipped step saying why when not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heatdeploy.jobs.spec import JobSpec
from heatdeploy.plugin.manager import Plugins
from heatdeploy.sahara.convert import ClusterIn, Converted, GroupIn, Overrides, Where, convert, framework_for
from heatdeploy.sahara.mapping import JOB_TYPES_WITHOUT_EQUIVALENT, Note, PluginMap
from heatdeploy.sahara.sources import Source, problem
from heatdeploy.sahara.templates import where_in

DEFAULT_FLOW = ("run_jobs", "scale", "run_jobs")
DEFAULT_JOB_TIMEOUT = 1800
_DATA_TYPES = ("swift", "hdfs")
_BINARY_TYPES = ("swift", "database")
_SCENARIO_UNMAPPED = ("existing_cluster", "retain_resources", "image_username", "hdfs_username",
                      "timeout_check_transient", "timeout_delete_resource")


@dataclass
class PlannedJob:
    """One EDP job of a flow: the heatdeploy job to run, or why it is skipped."""

    name: str
    sahara_type: str
    at: tuple[str, int] = ("", 1)
    """Where the job is defined."""
    job: JobSpec | None = None
    skip: str = ""
    input_file: Path | None = None
    """A local file to upload and stage as the job's ``{input}``."""
    output: bool = False
    """Whether the job writes ``{output}`` (collected into Swift)."""
    notes: list[str] = field(default_factory=list)


@dataclass
class ScalingOp:
    """``add`` (grow a group by ``size``) or ``resize`` (set it to ``size``)."""

    operation: str
    group: str
    size: int


@dataclass
class PlannedStep:
    """A step of a cluster's flow: ``run_jobs`` (its jobs), ``scale`` (its operations) or one skipped."""

    kind: str
    jobs: list[PlannedJob] = field(default_factory=list)
    scaling: list[ScalingOp] = field(default_factory=list)
    skip: str = ""


@dataclass
class ScenarioCluster:
    """A scenario's cluster: its converted spec and the steps to run on it."""

    converted: Converted
    steps: list[PlannedStep]
    job_timeout: int = DEFAULT_JOB_TIMEOUT


@dataclass
class _Merged:
    network: dict[str, Any] = field(default_factory=dict)
    clusters: list[tuple[Source, int]] = field(default_factory=list)
    flows: dict[str, tuple[Source, list[Any]]] = field(default_factory=dict)


def scenario_clusters(sources: list[Source], plugins: Plugins, overrides: Overrides | None = None,
                      ) -> list[ScenarioCluster]:
    """The clusters of the scenario the files make up, each converted and planned."""
    merged = _merge([s for s in sources if s.kind == "scenario"])
    return [_plan(source, index, merged, plugins, overrides or Overrides()) for source, index in merged.clusters]


def _merge(sources: list[Source]) -> _Merged:
    merged = _Merged()
    seen_network: dict[str, tuple[str, int]] = {}
    for source in sources:
        network = source.data.get("network") or {}
        if not isinstance(network, dict):
            raise problem(source.file, source.line("network"), "network: expected a mapping")
        for key, value in network.items():
            if key in merged.network and merged.network[key] != value:
                file, line = seen_network[key]
                raise problem(source.file, source.line("network", key), f"network.{key}: {value!r} differs from "
                              f"{merged.network[key]!r} at {file}:{line}")
            merged.network[key] = value
            seen_network[key] = (source.file, source.line("network", key))
        clusters = source.data.get("clusters") or []
        if not isinstance(clusters, list):
            raise problem(source.file, source.line("clusters"), "clusters: expected a list")
        merged.clusters += [(source, i) for i in range(len(clusters))]
        flows = source.data.get("edp_jobs_flow") or {}
        if not isinstance(flows, dict):
            raise problem(source.file, source.line("edp_jobs_flow"), "edp_jobs_flow: expected a mapping of flow "
                                                                     "names to lists of jobs")
        for name, jobs in flows.items():
            if name in merged.flows:
                raise problem(source.file, source.line("edp_jobs_flow", name), f"edp_jobs_flow: flow {name!r} is "
                              f"defined twice (also in {merged.flows[name][0].file})")
            merged.flows[name] = (source, jobs if isinstance(jobs, list) else [jobs])
    return merged


def _plan(source: Source, index: int, merged: _Merged, plugins: Plugins, overrides: Overrides) -> ScenarioCluster:
    raw = source.data["clusters"][index]
    where = where_in(source, "clusters", index)
    if not isinstance(raw, dict):
        raise problem(*where(), "clusters: each cluster must be a mapping")
    cluster = _cluster_in(raw, _scenario_where(where), merged)
    converted = convert(cluster, plugins, overrides)
    mapping, framework = framework_for(cluster, plugins)
    engine = plugins.job_engine(framework)
    types = tuple(engine.types) if engine else ()
    flow = raw.get("scenario") or list(DEFAULT_FLOW)
    jobs = _jobs(raw, where, merged, mapping, types, framework.name, converted.notes)
    steps = []
    for item in flow:
        if item == "run_jobs":
            steps.append(PlannedStep("run_jobs", jobs=jobs))
        elif item == "scale":
            steps.append(_scale_step(raw, where, converted))
        else:
            steps.append(PlannedStep(str(item), skip=f"sahara-tests check {item!r} has no heatdeploy equivalent"))
    timeout = raw.get("timeout_poll_jobs_status", DEFAULT_JOB_TIMEOUT)
    return ScenarioCluster(converted, steps, timeout if isinstance(timeout, int) and timeout > 0 else 1800)


def _cluster_in(raw: dict[str, Any], where: Where, merged: _Merged) -> ClusterIn:
    """A scenario cluster in the terms of a cluster template."""
    template = raw.get("cluster_template") or {}
    extra: dict[str, Any] = {}
    timeout = raw.get("timeout_poll_cluster_status")
    if isinstance(timeout, int) and timeout > 0:
        extra["timeout"] = math.ceil(timeout / 60)
    if raw.get("key_name"):
        extra["key_name"] = raw["key_name"]
    name = (raw.get("cluster") or {}).get("name") or template.get("name") or \
        f"{raw.get('plugin_name')}-{raw.get('plugin_version')}"
    return ClusterIn(
        name=str(name), plugin=str(raw.get("plugin_name", "")), version=str(raw.get("plugin_version", "")),
        where=where, groups=_groups(raw, where, merged), configs=template.get("cluster_configs") or {},
        anti_affinity=list(template.get("anti_affinity") or []),
        network=merged.network.get("private_network", "private"), image=raw.get("image"), extra=extra,
        unmapped={k: raw.get(k) for k in _SCENARIO_UNMAPPED})


def _groups(raw: dict[str, Any], where: Where, merged: _Merged) -> list[GroupIn]:
    """Every node group template of the cluster, counted as its cluster template says (0 when it does not)."""
    counts = (raw.get("cluster_template") or {}).get("node_group_templates") or {}
    if not isinstance(counts, dict):
        raise problem(*where("cluster_template", "node_group_templates"), "cluster_template.node_group_templates: "
                                                                         "expected a mapping of names to counts")
    raw_groups = raw.get("node_group_templates") or []
    names = {g.get("name") for g in raw_groups if isinstance(g, dict)}
    for name in counts:
        if name not in names:
            raise problem(*where("cluster_template", "node_group_templates", name), f"cluster_template: node group "
                          f"{name!r} is not among the cluster's node_group_templates")
    # sahara-tests gave floating IPs to the proxy gateways only, when there are some; else to every group.
    proxied = any(isinstance(g, dict) and _true(g.get("is_proxy_gateway")) for g in raw_groups)
    public = merged.network.get("public_network", "public")
    groups = []
    for i, group in enumerate(raw_groups):
        here = _below(where, "node_group_templates", i)
        if not isinstance(group, dict) or "name" not in group:
            raise problem(*here(), "node_group_templates: each needs a name")
        fields = dict(group)
        flavor = fields.pop("flavor", None)
        fields["flavor_id"] = None if isinstance(flavor, dict) else flavor  # heatdeploy uses existing flavors
        if "security_group" in fields:
            fields["security_groups"] = fields.pop("security_group")
        fields["floating_ip_pool"] = public if (_true(fields.get("is_proxy_gateway")) or not proxied) else None
        count = counts.get(group["name"], 0)
        groups.append(GroupIn(str(group["name"]), count if isinstance(count, int) else 0, fields, here))
    return groups


def _true(value: object) -> bool:
    return value is True or str(value).lower() == "true"


_PLACES = {"cluster_configs": ("cluster_template", "cluster_configs"),
           "anti_affinity": ("cluster_template", "anti_affinity"), "name": ("cluster", "name"),
           "hadoop_version": ("plugin_version",)}


def _scenario_where(where: Where) -> Where:
    """Where a cluster field is in a scenario, given its name in a cluster template."""
    def located(*path: str | int) -> tuple[str, int]:
        if path and isinstance(path[0], str) and path[0] in _PLACES:
            return where(*_PLACES[path[0]], *path[1:])
        return where(*path)
    return located


def _below(where: Where, *prefix: str | int) -> Where:
    return lambda *path: where(*prefix, *path)


def _scale_step(raw: dict[str, Any], where: Where, converted: Converted) -> PlannedStep:
    ops = raw.get("scaling") or []
    if not ops:
        return PlannedStep("scale", skip="the scenario has no scaling")
    planned = []
    for i, op in enumerate(ops):
        here = _below(where, "scaling", i)
        if not isinstance(op, dict) or op.get("operation") not in ("add", "resize") or \
                not isinstance(op.get("size"), int) or op["size"] < 0:
            raise problem(*here(), "scaling: each needs operation (add or resize), node_group and size (a whole "
                                   "number)")
        group = converted.group_names.get(str(op.get("node_group")))
        if group is None:
            raise problem(*here("node_group"), f"scaling: node group {op.get('node_group')!r} is not in the "
                                               "converted cluster (known: "
                                               f"{', '.join(sorted(converted.group_names))})")
        planned.append(ScalingOp(op["operation"], group, op["size"]))
    return PlannedStep("scale", scaling=planned)


def _jobs(raw: dict[str, Any], where: Where, merged: _Merged, mapping: PluginMap, types: tuple[str, ...],
          framework: str, notes: list[Note]) -> list[PlannedJob]:
    names = raw.get("edp_jobs_flow") or []
    names = [names] if isinstance(names, str) else names
    planned: list[PlannedJob] = []
    for item in names:
        flow = item.get("name") if isinstance(item, dict) else item
        if isinstance(item, dict) and item.get("features"):
            features = ", ".join(map(str, item["features"]))
            planned.append(PlannedJob(str(flow), "", where("edp_jobs_flow"),
                                      skip=f"needs feature(s) {features}, which heatdeploy does not select"))
            continue
        if flow not in merged.flows:
            raise problem(*where("edp_jobs_flow"), f"edp_jobs_flow: flow {flow!r} is defined in none of the files "
                                                   f"(defined: {', '.join(sorted(merged.flows)) or 'none'})")
        source, jobs = merged.flows[flow]
        base = Path(source.file).resolve().parent
        for i, job in enumerate(jobs):
            at = (source.file, source.line("edp_jobs_flow", flow, i))
            planned.append(plan_job(f"{flow}[{i}]", job, at, base, mapping, types, framework))
    return planned


def plan_job(name: str, job: Any, at: tuple[str, int], base: Path, mapping: PluginMap, types: tuple[str, ...],
             framework: str) -> PlannedJob:
    """The heatdeploy job for a sahara-tests EDP job, or why it is skipped; a missing file is exit 2."""
    if not isinstance(job, dict) or not isinstance(job.get("type"), str):
        raise problem(*at, f"edp_jobs_flow: job {name} needs a type")
    kind = job["type"]
    planned = PlannedJob(name, kind, at)
    heat_type = mapping.job_types.get(kind)
    if heat_type is None:
        planned.skip = JOB_TYPES_WITHOUT_EQUIVALENT.get(
            kind, f"{kind} jobs have no heatdeploy equivalent on {framework} clusters")
    elif heat_type not in types:
        planned.skip = f"{framework} clusters run {', '.join(types) or 'no'} jobs, not {heat_type}"
    else:
        _plan_request(planned, heat_type, job, at, base)
    return planned


def _plan_request(planned: PlannedJob, heat_type: str, job: dict[str, Any], at: tuple[str, int],
                  base: Path) -> None:
    """Fill in the job to run (binary, data, configs, arguments), or why it is skipped."""
    libs = ([job["main_lib"]] if job.get("main_lib") else []) + list(job.get("additional_libs") or [])
    if not libs:
        planned.skip = "the job has no main_lib: heatdeploy runs a job's binary (a streaming job ships its mapper)"
        return
    binary = _local_file(libs[0], "main_lib", _BINARY_TYPES, at, base, planned)
    planned.notes += [f"additional lib {lib.get('source')} is not passed (heatdeploy runs one binary)"
                      for lib in libs[1:]]
    planned.input_file = _data(job.get("input_datasource"), "input_datasource", at, base, planned)
    _output(job.get("output_datasource"), planned)
    if planned.skip or binary is None:
        return
    configs = {str(k): str(v) for k, v in (job.get("configs") or {}).items()}
    main_class = configs.pop("edp.java.main_class", None)
    if main_class and binary.suffix == ".py":
        main_class = None  # sahara-tests named a Python file's entry "main"; spark-submit needs none
    args = [str(a).replace("{input_datasource}", "{input}").replace("{output_datasource}", "{output}")
            for a in job.get("args") or []]
    planned.job = JobSpec(type=heat_type, binary=str(binary), args=args, main_class=main_class,
                          conf=_conf(heat_type, configs, planned))


def _output(output: Any, planned: PlannedJob) -> None:
    if not output:
        return
    if output.get("type") not in _DATA_TYPES:
        planned.skip = f"output_datasource of type {output.get('type')!r} has no heatdeploy equivalent"
        return
    planned.output = True
    if output.get("type") == "hdfs":
        planned.notes.append("the HDFS output is collected into Swift instead")


def _conf(heat_type: str, configs: dict[str, str], planned: PlannedJob) -> dict[str, str]:
    conf: dict[str, str] = {}
    for key, value in configs.items():
        if heat_type == "streaming" and key in ("edp.streaming.mapper", "edp.streaming.reducer"):
            conf[key.rsplit(".", 1)[1]] = value
        elif key.startswith(("edp.", "fs.swift.")):
            planned.notes.append(f"config {key} is not passed (Sahara's own or its Swift credentials)")
        elif heat_type == "shell":
            planned.notes.append(f"config {key} is not passed (shell jobs take none)")
        else:
            conf[key] = value
    return conf


def _data(ds: Any, what: str, at: tuple[str, int], base: Path, planned: PlannedJob) -> Path | None:
    if not ds:
        return None
    if ds.get("type") not in _DATA_TYPES:
        planned.skip = f"{what} of type {ds.get('type')!r} has no heatdeploy equivalent"
        return None
    if ds.get("type") == "hdfs":
        planned.notes.append("the HDFS input is staged from Swift on every instance instead")
    return _local_file(ds, what, _DATA_TYPES, at, base, planned)


def _local_file(item: Any, what: str, kinds: tuple[str, ...], at: tuple[str, int], base: Path,
                planned: PlannedJob) -> Path | None:
    if not isinstance(item, dict) or not item.get("source"):
        raise problem(*at, f"edp_jobs_flow: job {planned.name}: {what} needs type and source")
    if item.get("type") not in kinds:
        planned.skip = f"{what} of type {item.get('type')!r} has no heatdeploy equivalent"
        return None
    source = Path(str(item["source"]))
    for candidate in (source, base / source):  # as sahara-tests: the current folder, then the scenario's
        if candidate.is_file():
            return candidate.resolve()
    raise problem(*at, f"edp_jobs_flow: job {planned.name}: {what} {source} is not a file (looked in the current "
                       f"folder and in {base})")
