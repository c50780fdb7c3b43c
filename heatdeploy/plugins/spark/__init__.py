"""Apache Spark in standalone mode: one master, any number of workers."""

from __future__ import annotations

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
    Step,
    StepContext,
    at_least,
    exactly_one,
    hookimpl,
    members_health,
)
from heatdeploy.plugins.spark import steps
from heatdeploy.plugins.spark.jobs import SparkJobs


class Spark(Framework):
    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "master")
        yield from at_least(spec, "worker", 1)

    def image_requirements(self, spec: ClusterSpec) -> ImageRequirements:
        """Spark's launchers under ``spark_home``, the bash they run under, setsid for jobs, and Java."""
        home = self.config_value(spec, "spark_home")
        # spark-class runs the daemons (steps.daemon), spark-submit runs jobs (jobs.SparkJobs);
        # both are bash scripts that start java. setsid gives each job a process group to cancel.
        return ImageRequirements(commands=("bash", "setsid"),
                                 paths=(f"{home}/bin/spark-class", f"{home}/bin/spark-submit"), java=True)

    def launch_steps(self) -> Sequence[Step]:
        return [
            Step("spark-configure", steps.configure, processes=("master", "worker"), after=("hosts", "volumes"),
                 description="write spark-env.sh, spark-defaults.conf and the workers list"),
            Step("spark-start-master", steps.start_master, processes=("master",), after=("spark-configure",),
                 description="start the master and wait until it is ALIVE"),
            *start_workers("spark-start-master"),
        ]

    def scale_up_steps(self) -> Sequence[Step]:
        return [
            Step("spark-configure", steps.configure, processes=("worker",), after=("hosts", "volumes"),
                 description="configure the new workers"),
            refresh_workers("hosts"), *start_workers("spark-configure", "spark-refresh-workers"),
        ]

    def decommission_steps(self) -> Sequence[Step]:
        return [Step("spark-stop-workers", steps.stop_worker, processes=("worker",),
                     description="stop the leaving workers"),
                refresh_workers("spark-stop-workers"), verify("spark-refresh-workers")]

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("spark-workers", workers_alive)]

    def endpoints(self, instances: Sequence[Instance]) -> dict[str, str]:
        master = next((i for i in instances if i.runs("master")), None)
        if master is None:
            return {}
        return {"master": f"spark://{master.fixed_ip}:{steps.MASTER_PORT}",
                "master_ui": f"http://{master.floating_ip or master.fixed_ip}:{steps.MASTER_UI}"}


def start_workers(after: str, *verify_after: str) -> list[Step]:
    return [Step("spark-start-workers", steps.start_worker, processes=("worker",), after=(after,),
                 description="start the workers"), verify("spark-start-workers", *verify_after)]


def refresh_workers(after: str) -> Step:
    return Step("spark-refresh-workers", steps.refresh_workers_list, processes=("master",), scope="all",
                after=(after,), description="write the master's workers list")


def verify(*after: str) -> Step:
    return Step("spark-verify", steps.verify_workers, processes=("master",), scope="all", after=after,
                description="check every worker, and only them, is alive on the master")


def workers_alive(ctx: StepContext) -> Health:
    """Green when the master is ALIVE with every worker; yellow when some are missing."""
    status = steps.master_status(ctx.remote(ctx.running("master")[0]))
    if status.get("status") != "ALIVE":
        return Health("red", f"master status is {status.get('status', 'unknown')}")
    health = members_health(steps.alive_workers(status), ctx.running("worker"), "workers alive")
    return Health("green", f"master ALIVE, {health.message}") if health.status == "green" else health


SPARK = Spark(
    name="spark", title="Spark", versions=("3.5", "4.0"),
    processes={"master": "the standalone master, which schedules applications on workers",
               "worker": "a standalone worker, which runs executors"},
    configs=(
        ConfigOption("spark_home", str, "/opt/spark", "Where Spark is installed on the image."),
        ConfigOption("executor_memory", str, "1g", "Memory per executor (spark.executor.memory)."),
        ConfigOption("daemon_memory", str, "512m", "Heap of the master and worker daemons."),
        ConfigOption("start_timeout", int, 120,
                     "Seconds to wait for the master to be ALIVE, and again for every worker to register."),
        ConfigOption("worker_cores", int, 0, "Cores a worker offers to executors; 0 means all of the instance's.",
                     scope="node_group"),
        ConfigOption("worker_memory", str, "",
                     "Memory a worker offers to executors, e.g. 2g; empty means Spark's default.",
                     scope="node_group"),
    ),
    ports={"master": (steps.MASTER_PORT, steps.MASTER_UI), "worker": (steps.WORKER_UI,)},
    # Jobs' drivers run on the master; executors, on workers, call them back and fetch blocks.
    cluster_ports={"master": (steps.DRIVER_PORTS, steps.BLOCK_MANAGER_PORTS),
                   "worker": (steps.WORKER_PORT, steps.BLOCK_MANAGER_PORTS)},
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(SPARK)


@hookimpl
def heatdeploy_job_engine(framework: Framework) -> JobEngine | None:
    return SparkJobs() if framework.name == "spark" else None
