"""What each Sahara plugin's processes and configs become in heatdeploy, and what has no equivalent.

Sahara named frameworks by plugin (``spark``, ``vanilla``), processes by
their daemons (``master``, ``slave``, ``namenode``, ...) and configs by
*target* and name (``HDFS`` / ``dfs.replication``, ``Spark`` / ``Worker
cores``). heatdeploy's Spark runs no HDFS and its Hadoop no Oozie or Hive,
so some of them are dropped: every drop is reported with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from heatdeploy.plugin.framework import Framework
from heatdeploy.spec.fields import Scalar


@dataclass(frozen=True)
class Note:
    """Something the conversion could not carry over as it was, at a place in a Sahara file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class PluginMap:
    """How one Sahara plugin maps onto a heatdeploy framework."""

    sahara: str
    framework: str
    processes: Mapping[str, str | None]
    """Sahara process to heatdeploy process; ``None``: no equivalent (the reason is in ``dropped``)."""
    dropped: Mapping[str, str]
    """Why a process without equivalent is dropped."""
    configs: Mapping[tuple[str, str], str]
    """(Sahara target, config name) to heatdeploy config; a name the framework itself has maps as it is."""
    keep: Mapping[tuple[str, str], str]
    """Sahara's 'use the default' values of a config: they map to nothing, since heatdeploy's default says the same."""
    job_types: Mapping[str, str]
    """Sahara EDP job type to heatdeploy job type."""


_NO_HDFS = "heatdeploy's Spark clusters run no HDFS: jobs read and write Swift through staged inputs and outputs"
_NO_OOZIE = "heatdeploy submits jobs itself ('heatdeploy job run'), without a workflow server"

SPARK = PluginMap(
    sahara="spark", framework="spark",
    processes={"master": "master", "slave": "worker", "namenode": None, "datanode": None,
               "spark history server": None, "zeppelin": None},
    dropped={"namenode": _NO_HDFS, "datanode": _NO_HDFS,
             "spark history server": "heatdeploy keeps job logs and records in Swift instead",
             "zeppelin": "heatdeploy installs no notebook server"},
    configs={("Spark", "Worker cores"): "worker_cores", ("Spark", "Worker memory"): "worker_memory",
             ("Spark", "Spark home"): "spark_home"},
    keep={("Spark", "Worker cores"): "all", ("Spark", "Worker memory"): "all"},
    job_types={"Spark": "spark", "Shell": "shell"},
)

VANILLA = PluginMap(
    sahara="vanilla", framework="hadoop",
    processes={"namenode": "namenode", "secondarynamenode": "secondarynamenode", "datanode": "datanode",
               "resourcemanager": "resourcemanager", "nodemanager": "nodemanager", "historyserver": "historyserver",
               "oozie": None, "hiveserver": None, "hive metastore": None, "spark history server": None,
               "zookeeper": None},
    dropped={"oozie": _NO_OOZIE, "hiveserver": "no heatdeploy job type runs Hive",
             "hive metastore": "no heatdeploy job type runs Hive",
             "spark history server": "heatdeploy's Hadoop clusters run no Spark",
             "zookeeper": "heatdeploy's Hadoop clusters need no ZooKeeper (no HA NameNode)"},
    configs={("HDFS", "NameNode Heap Size"): "namenode_heap_size",
             ("HDFS", "DataNode Heap Size"): "datanode_heap_size",
             ("general", "NodeManagers decommissioning timeout"): "yarn_decommission_timeout"},
    keep={},
    job_types={"Java": "mapreduce", "MapReduce.Streaming": "streaming"},
)

PLUGINS = {m.sahara: m for m in (SPARK, VANILLA)}

JOB_TYPES_WITHOUT_EQUIVALENT = {
    "Pig": "no heatdeploy job type runs Pig",
    "Hive": "no heatdeploy job type runs Hive",
    "MapReduce": "Sahara's MapReduce jobs are Oozie workflows naming mapper and reducer classes; heatdeploy "
                 "runs a jar's main class instead (a Java job)",
    "Storm": "heatdeploy has no Storm framework",
    "Storm.Pyleus": "heatdeploy has no Storm framework",
}


def plugin_map(sahara_plugin: str) -> PluginMap | None:
    """The mapping of a Sahara plugin, or ``None`` for a plugin heatdeploy has no framework for."""
    return PLUGINS.get(sahara_plugin)


def map_processes(mapping: PluginMap, processes: list[str]) -> tuple[list[str], list[str]]:
    """heatdeploy's processes for Sahara's, in order without repeats; and one line per process dropped."""
    kept: list[str] = []
    lines: list[str] = []
    for process in processes:
        if process not in mapping.processes:
            lines.append(f"process {process!r} is not a Sahara {mapping.sahara} process heatdeploy knows: dropped "
                         f"(known: {', '.join(sorted(mapping.processes))})")
            continue
        target = mapping.processes[process]
        if target is None:
            lines.append(f"process {process!r} has no heatdeploy equivalent: dropped ({mapping.dropped[process]})")
        elif target not in kept:
            kept.append(target)
            if target != process:
                lines.append(f"process {process!r} is {mapping.framework}'s {target!r}")
    return kept, lines


@dataclass(frozen=True)
class MappedConfig:
    """A Sahara config carried over: heatdeploy's name, value and the scope heatdeploy sets it at."""

    name: str
    value: Scalar
    scope: str


def map_config(mapping: PluginMap, framework: Framework, target: str, name: str,
               value: object) -> MappedConfig | str | None:
    """heatdeploy's config for a Sahara one; else a line saying why it is not carried over.

    ``None``: the value is Sahara's way of saying 'the default', which heatdeploy's default already is.
    """
    if mapping.keep.get((target, name)) == value:
        return None
    heat_name = mapping.configs.get((target, name), name)
    option = framework.config(heat_name)
    if option is None:
        return f"config {target}/{name} has no heatdeploy {framework.name} equivalent: not carried over"
    converted = _convert(value, option.type)
    if converted is None:
        return (f"config {target}/{name}: {value!r} is not {option.type.__name__} as heatdeploy's {heat_name} "
                "needs: not carried over")
    return MappedConfig(heat_name, converted, option.scope)


def _convert(value: object, kind: type) -> Scalar | None:
    """``value`` as ``kind``: Sahara's configs are often strings, or numbers where heatdeploy wants text."""
    if isinstance(value, bool) or kind is bool:
        if isinstance(value, bool):
            return value if kind is bool else None
        text = str(value).strip().lower()
        return {"true": True, "false": False}.get(text)
    if kind is str:
        return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else None
    try:
        number = kind(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if isinstance(number, int | float) else None
