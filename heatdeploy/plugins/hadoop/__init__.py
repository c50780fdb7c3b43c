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
    Problem,
    RemoteError,
    StepContext,
    at_least,
    at_most,
    exactly_one,
    hookimpl,
)
from heatdeploy.plugins.hadoop import steps
from heatdeploy.plugins.hadoop.steps import REPLICATION


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

    def image_requirements(self, spec: ClusterSpec) -> ImageRequirements:
        """The launchers the steps run under ``hadoop_home`` (hdfs, mapred, yarn), bash, and Java."""
        home = self.config_value(spec, "hadoop_home")
        launchers = sorted({launcher for launcher, _ in steps.DAEMONS.values()})
        # Hadoop 3's launchers are bash scripts; hadoop-env.sh finds Java from JAVA_HOME or the PATH.
        return ImageRequirements(commands=("bash",), paths=tuple(f"{home}/bin/{name}" for name in launchers),
                                 java=True)

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("hdfs-datanodes", datanodes_live),
                HealthCheck("yarn-resourcemanager", resourcemanager_up)]

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
        ConfigOption(REPLICATION, int, 3, "HDFS block replication factor."),
        ConfigOption("dfs.blocksize", str, "128m", "HDFS block size."),
        ConfigOption("namenode_heap_size", int, 1024, "NameNode heap in MiB."),
        ConfigOption("datanode_heap_size", int, 1024, "DataNode heap in MiB.", scope="node_group"),
        ConfigOption("yarn.nodemanager.resource.memory-mb", int, 2048,
                     "Memory a NodeManager offers to containers, in MiB.", scope="node_group"),
        ConfigOption("yarn.nodemanager.resource.cpu-vcores", int, 2,
                     "Cores a NodeManager offers to containers.", scope="node_group"),
    ),
    ports={
        "namenode": (9000, 9870),
        "secondarynamenode": (9868,),
        "datanode": (9864, 9866, 9867),
        "resourcemanager": (8030, 8031, 8032, 8033, 8088),
        "nodemanager": (8042,),
        "historyserver": (10020, 19888),
    },
    # ApplicationMasters start NodeManagers' containers and reducers fetch map output from them.
    cluster_ports={"nodemanager": (steps.NODEMANAGER_RPC, steps.SHUFFLE_PORT, steps.AM_PORTS)},
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(HADOOP)
