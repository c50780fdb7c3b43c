"""Apache Hadoop (HDFS and YARN), as Sahara's vanilla plugin deployed it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from heatdeploy import ConfigOption, Framework, Problem, at_least, at_most, exactly_one, hookimpl
from heatdeploy.spec import ClusterSpec

REPLICATION = "dfs.replication"


class Hadoop(Framework):
    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "namenode")
        yield from exactly_one(spec, "resourcemanager")
        yield from at_most(spec, "secondarynamenode", 1)
        yield from at_most(spec, "historyserver", 1)
        replication = self.config_value(spec, REPLICATION)
        yield from at_least(spec, "datanode", int(replication), f"{REPLICATION} is {replication}")
        yield from at_least(spec, "nodemanager", 1)


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
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(HADOOP)
