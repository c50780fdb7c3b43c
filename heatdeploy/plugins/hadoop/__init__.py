"""Apache Hadoop (HDFS and YARN), as Sahara's vanilla plugin deployed it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

from heatdeploy import (
    ClusterSpec,
    ConfigOption,
    Framework,
    Health,
    HealthCheck,
    ImageRequirements,
    Instance,
    JobEngine,
    Problem,
    RemoteError,
    StepContext,
    at_least,
    at_most,
    exactly_one,
    hookimpl,
)
from heatdeploy.plugins.hadoop import steps
from heatdeploy.plugins.hadoop.jobs import HadoopJobs
from heatdeploy.plugins.hadoop.steps import (
    AM_MEMORY,
    CONTAINER_SIZES,
    MAP_MEMORY,
    MIN_ALLOCATION,
    NODEMANAGER_MEMORY,
    REDUCE_MEMORY,
    REPLICATION,
    VCORES,
)


class Hadoop(Framework):
    launch_steps = staticmethod(steps.launch_steps)
    scale_up_steps = staticmethod(steps.scale_up_steps)
    decommission_steps = staticmethod(steps.decommission_steps)

    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "namenode")
        yield from exactly_one(spec, "resourcemanager")
        yield from at_most(spec, "secondarynamenode", 1)
        yield from at_most(spec, "historyserver", 1)
        replication = self.config_value(spec, REPLICATION)
        yield from at_least(spec, "datanode", int(replication), f"{REPLICATION} is {replication}")
        yield from at_least(spec, "nodemanager", 1)
        yield from sizing_problems(self, spec)

    def image_requirements(self, spec: ClusterSpec) -> ImageRequirements:
        """The launchers the steps run under ``hadoop_home`` (hdfs, mapred, yarn), bash, and Java."""
        home = self.config_value(spec, "hadoop_home")
        launchers = sorted({launcher for launcher, _ in steps.DAEMONS.values()})
        # Hadoop 3's launchers are bash scripts; the configure step finds the Java they run on (java.py).
        # runuser (util-linux) runs each daemon as its user; the others create those users. Java is
        # looked for by the configure step (java.py), in more places than this check's PATH.
        return ImageRequirements(commands=("bash", "runuser", "getent", "groupadd", "useradd"),
                                 paths=tuple(f"{home}/bin/{name}" for name in launchers))

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("hdfs-datanodes", datanodes_live),
                HealthCheck("yarn-resourcemanager", resourcemanager_up),
                HealthCheck("yarn-nodemanagers", nodemanagers_running)]

    def endpoints(self, instances: Sequence[Instance]) -> dict[str, str]:
        found = {p: next((i for i in instances if i.runs(p)), None)
                 for p in ("namenode", "resourcemanager", "historyserver")}
        out: dict[str, str] = {}
        if (namenode := found["namenode"]) is not None:
            out["fs.defaultFS"] = f"hdfs://{namenode.fixed_ip}:{steps.NAMENODE_RPC}"
            out["namenode_ui"] = _url(namenode, steps.NAMENODE_UI)
        if (resourcemanager := found["resourcemanager"]) is not None:
            out["resourcemanager_ui"] = _url(resourcemanager, steps.RESOURCEMANAGER_UI)
        if (history := found["historyserver"]) is not None:
            out["historyserver_ui"] = _url(history, steps.HISTORY_UI)
        return out


def sizing_problems(framework: Framework, spec: ClusterSpec) -> Iterator[Problem]:
    """YARN sizes that would make jobs hang or daemons refuse to start, each naming what to change.

    YARN rounds every container up to a multiple of the minimum allocation.
    A job's ApplicationMaster takes one container and then waits for its
    tasks' containers: unless, with the AM placed, some NodeManager still
    has room for a task, every job waits forever.
    """
    minimum = int(framework.config_value(spec, MIN_ALLOCATION))
    if minimum < 1:
        yield Problem(f"configs.{MIN_ALLOCATION}", f"must be at least 1 (MiB), not {minimum}")
        return
    capacities: list[int] = []
    for i, group in enumerate(spec.node_groups):
        if "nodemanager" not in group.processes:
            continue
        here = f"node_groups[{i}].configs"
        memory = int(group.configs.get(NODEMANAGER_MEMORY, framework.config_value(spec, NODEMANAGER_MEMORY)))
        cores = int(group.configs.get(VCORES, framework.config_value(spec, VCORES)))
        if memory < minimum:
            yield Problem(f"{here}.{NODEMANAGER_MEMORY}", f"{memory} MiB is less than {MIN_ALLOCATION} ({minimum}): "
                          "the NodeManager could run no container; raise it or lower the minimum")
        if cores < 1:
            yield Problem(f"{here}.{VCORES}", f"must be at least 1, not {cores}")
        capacities += [memory] * group.count
    rounded = {name: -(-int(framework.config_value(spec, name)) // minimum) * minimum for name in CONTAINER_SIZES}
    am, task = rounded[AM_MEMORY], max(rounded[MAP_MEMORY], rounded[REDUCE_MEMORY])
    capacities.sort(reverse=True)
    fits = bool(capacities) and (capacities[0] >= am + task or
                                 (len(capacities) > 1 and capacities[0] >= am and capacities[1] >= task))
    if capacities and not fits:
        yield Problem(f"configs.{AM_MEMORY}", (
            f"the ApplicationMaster ({am} MiB after rounding up to {MIN_ALLOCATION} {minimum}) and a task "
            f"({task} MiB) find no room together: the NodeManagers offer {', '.join(map(str, capacities[:3]))}"
            f"{' ...' if len(capacities) > 3 else ''} MiB ({NODEMANAGER_MEMORY}), so every job would wait forever; "
            f"raise {NODEMANAGER_MEMORY} or lower {AM_MEMORY}, {MAP_MEMORY} and {REDUCE_MEMORY}"))


def _url(instance: Instance, port: int) -> str:
    return f"http://{instance.floating_ip or instance.fixed_ip}:{port}"


def datanodes_live(ctx: StepContext) -> Health:
    """Green when exactly the cluster's DataNodes are live and in service; yellow when some are missing."""
    states = steps.datanode_states(ctx.remote(ctx.running("namenode")[0]))
    if states is None:
        return Health("red", "the NameNode does not answer")
    expected = {i.fixed_ip for i in ctx.running("datanode")}
    live = steps.in_service(states)
    if not live & expected:
        return Health("red", "no DataNode is live")
    missing, unknown = expected - live, live - expected
    if missing or unknown:
        detail = [f"missing {', '.join(sorted(missing))}"] if missing else []
        detail += [f"unexpected {', '.join(sorted(unknown))}"] if unknown else []
        return Health("yellow", f"{len(live & expected)} of {len(expected)} DataNodes live; {'; '.join(detail)}")
    return Health("green", f"{len(expected)} of {len(expected)} DataNodes live")


def resourcemanager_up(ctx: StepContext) -> Health:
    """Green when the ResourceManager's REST API reports it started."""
    remote = ctx.remote(ctx.running("resourcemanager")[0])
    try:
        status, body = remote.http("GET", steps.RESOURCEMANAGER_UI, steps.CLUSTER_INFO)
    except RemoteError as exc:
        return Health("red", f"the ResourceManager does not answer: {exc}")
    if status != 200:
        return Health("red", f"the ResourceManager answered HTTP {status}")
    try:
        state = json.loads(body)["clusterInfo"]["state"]
    except (ValueError, KeyError, TypeError):
        return Health("red", "the ResourceManager's cluster info is unreadable")
    if state != "STARTED":
        return Health("red", f"the ResourceManager is {state}")
    return Health("green", "the ResourceManager is started")


def nodemanagers_running(ctx: StepContext) -> Health:
    """Green when every NodeManager is RUNNING; yellow when some are missing, lost or unhealthy; red for none."""
    states = steps.nodemanager_states(ctx, ctx.remote(ctx.running("resourcemanager")[0]))
    if states is None:
        return Health("red", "the ResourceManager does not answer")
    expected = {i.fixed_ip for i in ctx.running("nodemanager")}
    running = steps.running_nodemanagers(states) & expected
    if not running:
        return Health("red", "no NodeManager is running")
    troubles = [f"{state.lower()} {', '.join(sorted(ip for ip in expected if states.get(ip) == state))}"
                for state in sorted({states[ip] for ip in expected if ip in states} - {"RUNNING"})]
    never = sorted(expected - set(states))
    troubles += [f"never registered {', '.join(never)}"] if never else []
    summary = f"{len(running)} of {len(expected)} NodeManagers running"
    return Health("yellow", f"{summary}; {'; '.join(troubles)}") if troubles else Health("green", summary)


HADOOP = Hadoop(
    name="hadoop",
    title="Hadoop",
    versions=("3.3", "3.4"),
    processes={
        "namenode": "HDFS metadata server",
        "secondarynamenode": "HDFS checkpointing helper",
        "datanode": "HDFS block storage",
        "resourcemanager": "YARN scheduler",
        "nodemanager": "YARN container runner",
        "historyserver": "MapReduce job history",
    },
    configs=(
        ConfigOption("hadoop_home", str, "/opt/hadoop", "Where Hadoop is installed on the image."),
        ConfigOption("java_home", str, "", "The JDK Hadoop runs on; empty: the image's JAVA_HOME (its "
                     "hadoop-env.sh or login environment), else the first supported Java found on the instance."),
        ConfigOption(REPLICATION, int, 3, "HDFS block replication factor."),
        ConfigOption("dfs.blocksize", str, "128m", "HDFS block size."),
        ConfigOption("namenode_heap_size", int, 1024, "NameNode heap in MiB."),
        ConfigOption("datanode_heap_size", int, 1024, "DataNode heap in MiB.", scope="node_group"),
        ConfigOption(NODEMANAGER_MEMORY, int, 2048,
                     "Memory a NodeManager offers to containers, in MiB.", scope="node_group"),
        ConfigOption(VCORES, int, 2, "Cores a NodeManager offers to containers.", scope="node_group"),
        ConfigOption(MIN_ALLOCATION, int, 1024,
                     "YARN's smallest container, in MiB; every request is rounded up to a multiple of it."),
        ConfigOption(AM_MEMORY, int, 1024, "Memory of a MapReduce job's ApplicationMaster, in MiB (Hadoop's "
                     "default 1536 rounds up to 2048 and fills a default NodeManager, so jobs never start)."),
        ConfigOption(MAP_MEMORY, int, 1024, "Memory of a map task's container, in MiB."),
        ConfigOption(REDUCE_MEMORY, int, 1024, "Memory of a reduce task's container, in MiB."),
        ConfigOption("yarn_decommission_timeout", int, 3600,
                     "Seconds a leaving NodeManager's running containers get to finish before YARN stops it."),
    ),
    # Only the web UIs may reach beyond the cluster (to the spec's access_cidrs): Hadoop's RPC and data
    # ports trust whoever connects (no Kerberos here), so they stay between the cluster's instances.
    ports={
        "namenode": (steps.NAMENODE_UI,),
        "secondarynamenode": (steps.SECONDARY_UI,),
        "datanode": (9864,),
        "resourcemanager": (steps.RESOURCEMANAGER_UI,),
        "nodemanager": (8042,),
        "historyserver": (steps.HISTORY_UI,),
    },
    cluster_ports={
        "namenode": (steps.NAMENODE_RPC,),
        "datanode": (9866, 9867),  # block transfer, IPC
        "resourcemanager": (8030, 8031, 8032, 8033),  # scheduler, resource tracker, clients, admin
        "historyserver": (steps.HISTORY_RPC,),
        # ApplicationMasters start NodeManagers' containers and reducers fetch map output from them.
        "nodemanager": (steps.NODEMANAGER_RPC, steps.SHUFFLE_PORT, steps.AM_PORTS),
    },
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(HADOOP)


@hookimpl
def heatdeploy_job_engine(framework: Framework) -> JobEngine | None:
    return HadoopJobs() if framework.name == "hadoop" else None
