"""Apache Spark in standalone mode: one master, any number of workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from heatdeploy import ConfigOption, Framework, Problem, at_least, exactly_one, hookimpl
from heatdeploy.spec import ClusterSpec


class Spark(Framework):
    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "master")
        yield from at_least(spec, "worker", 1)


SPARK = Spark(
    name="spark",
    title="Spark",
    versions=("3.5", "4.0"),
    processes={
        "master": "the standalone master, which schedules applications on workers",
        "worker": "a standalone worker, which runs executors",
    },
    configs=(
        ConfigOption("spark_home", str, "/opt/spark", "Where Spark is installed on the image."),
        ConfigOption("executor_memory", str, "1g", "Memory per executor (spark.executor.memory)."),
        ConfigOption("daemon_memory", str, "512m", "Heap of the master and worker daemons."),
        ConfigOption("worker_cores", int, 0,
                     "Cores a worker offers to executors; 0 means all of the instance's.",
                     scope="node_group"),
        ConfigOption("worker_memory", str, "",
                     "Memory a worker offers to executors, e.g. 2g; empty means Spark's default.",
                     scope="node_group"),
    ),
    ports={"master": (7077, 8080), "worker": (8081,)},
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(SPARK)
