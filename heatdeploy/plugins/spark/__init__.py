"""Apache Spark in standalone mode: one master, any number of workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from heatdeploy import ConfigOption, Framework, Problem, at_least, exactly_one, hookimpl
from heatdeploy.framework import Operation
from heatdeploy.health import Health, HealthCheck
from heatdeploy.instances import Instance
from heatdeploy.plugins.spark import steps
from heatdeploy.spec import ClusterSpec
from heatdeploy.steps import Step, StepContext


class Spark(Framework):
    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "master")
        yield from at_least(spec, "worker", 1)

    def steps(self, operation: Operation) -> Sequence[Step]:
        return {"launch": steps.launch_steps, "scale_up": steps.scale_up_steps,
                "decommission": steps.decommission_steps}[operation]()

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("spark-workers", workers_alive)]

    def endpoints(self, instances: Sequence[Instance]) -> dict[str, str]:
        master = next((i for i in instances if i.runs("master")), None)
        if master is None:
            return {}
        return {"master": f"spark://{master.fixed_ip}:{steps.MASTER_PORT}",
                "master_ui": f"http://{master.floating_ip or master.fixed_ip}:{steps.MASTER_UI}"}


def workers_alive(ctx: StepContext) -> Health:
    """Green when the master is ALIVE with every worker; yellow when some are missing."""
    master = ctx.running("master")[0]
    status = steps.master_status(ctx.remote(master))
    if status.get("status") != "ALIVE":
        return Health("red", f"master status is {status.get('status', 'unknown')}")
    expected = {i.fixed_ip for i in ctx.running("worker")}
    alive = steps.alive_workers(status)
    if not alive:
        return Health("red", "no worker is alive")
    missing = expected - alive
    if missing:
        return Health("yellow", f"{len(alive & expected)} of {len(expected)} workers alive; "
                                f"missing {', '.join(sorted(missing))}")
    return Health("green", f"master ALIVE, {len(expected)} of {len(expected)} workers alive")


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


@hookimpl
def heatdeploy_job_engine(framework: Framework) -> object | None:
    from heatdeploy.plugins.spark.jobs import SparkJobs

    return SparkJobs() if framework.name == "spark" else None
