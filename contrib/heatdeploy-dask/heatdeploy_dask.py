"""heatdeploy framework plugin: Dask distributed, one scheduler and any number of workers, running Python jobs.

A complete framework plugin on heatdeploy's public API: launch, scale-up,
decommission, a health check, endpoints and a job engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from heatdeploy import (
    ClusterSpec,
    ConfigOption,
    Daemon,
    DriverJobEngine,
    Framework,
    Health,
    HealthCheck,
    ImageRequirements,
    Instance,
    JobContext,
    JobRecord,
    Problem,
    Remote,
    Step,
    StepContext,
    at_least,
    exactly_one,
    hookimpl,
    http_json,
    members_health,
    wait_for_http,
    wait_for_members,
)

SCHEDULER_PORT, DASHBOARD_PORT, WORKER_PORT, NANNY_PORT = 8786, 8787, 8788, 8789
STATE_DIR = "/var/lib/heatdeploy/dask"


def scheduler_address(ctx: StepContext | JobContext) -> str:
    return f"tcp://{ctx.running('scheduler')[0].fixed_ip}:{SCHEDULER_PORT}"


def worker_address(instance: Instance) -> str:
    """How the scheduler names a worker."""
    return f"tcp://{instance.fixed_ip}:{WORKER_PORT}"


def daemon(ctx: StepContext, remote: Remote) -> Daemon:
    """The scheduler or a worker (with its nanny) of ``remote``'s instance, bound to its fixed address."""
    ip = remote.instance.fixed_ip
    if remote.instance.runs("scheduler"):
        args = ["scheduler", "--host", ip, "--port", str(SCHEDULER_PORT),
                "--dashboard-address", f"{ip}:{DASHBOARD_PORT}"]
    else:
        args = ["worker", scheduler_address(ctx), "--host", ip, "--worker-port", str(WORKER_PORT),
                "--nanny-port", str(NANNY_PORT), "--name", remote.instance.name,
                "--nthreads", str(ctx.config("threads", remote.instance))]
    # distributed.cli.dask_*: the launchers' modules, the same from Debian's 2022.12 to today's releases.
    return Daemon("dask", [ctx.config("python"), "-m", f"distributed.cli.dask_{args[0]}", *args[1:]],
                  directory=STATE_DIR)


def workers_seen(remote: Remote) -> set[str]:
    """The workers the scheduler (on ``remote``'s instance) has registered."""
    return set(http_json(remote, DASHBOARD_PORT, "/json/identity.json").get("workers") or {})


def start_scheduler(ctx: StepContext, remote: Remote) -> None:
    scheduler = daemon(ctx, remote)
    scheduler.start(remote)
    wait_for_http(ctx, remote, DASHBOARD_PORT, "/health", ctx.config("start_timeout"),
                  what="the Dask scheduler answers", probe=lambda: scheduler.check(remote))


def start_worker(ctx: StepContext, remote: Remote) -> None:
    daemon(ctx, remote).start(remote)


def stop_worker(ctx: StepContext, remote: Remote) -> None:
    daemon(ctx, remote).stop(remote)  # SIGTERM: the nanny closes the worker, its tasks go elsewhere


def verify_workers(ctx: StepContext, remote: Remote) -> None:
    wait_for_members(ctx, f"every Dask worker registered with {scheduler_address(ctx)}",
                     lambda: workers_seen(remote), ctx.running("worker"), ctx.config("start_timeout"),
                     name=worker_address, hint=f"a worker's log is {STATE_DIR}/dask.log")


def workers_health(ctx: StepContext) -> Health:
    seen = workers_seen(ctx.remote(ctx.running("scheduler")[0]))
    return members_health(seen, ctx.running("worker"), "workers registered", name=worker_address)


def steps(start: str, verify_after: str) -> list[Step]:
    return [Step("dask-start-workers", start_worker, processes=("worker",), after=(start,)),
            Step("dask-verify", verify_workers, processes=("scheduler",), scope="all", after=(verify_after,))]


class Dask(Framework):
    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "scheduler")
        yield from at_least(spec, "worker", 1)
        for i, group in enumerate(spec.node_groups):  # one daemon per instance: the scheduler or a worker
            if {"scheduler", "worker"} <= set(group.processes):
                yield Problem(f"node_groups[{i}].processes", "a group runs the scheduler or workers, not both")

    def image_requirements(self, spec: ClusterSpec) -> ImageRequirements:
        return ImageRequirements(commands=(str(self.config_value(spec, "python")), "setsid", "env"))

    def launch_steps(self) -> Sequence[Step]:
        return [Step("dask-start-scheduler", start_scheduler, processes=("scheduler",), after=("hosts",)),
                *steps("dask-start-scheduler", "dask-start-workers")]

    def scale_up_steps(self) -> Sequence[Step]:
        return steps("hosts", "dask-start-workers")

    def decommission_steps(self) -> Sequence[Step]:
        return [Step("dask-stop-workers", stop_worker, processes=("worker",)),
                Step("dask-verify", verify_workers, processes=("scheduler",), scope="all",
                     after=("dask-stop-workers",))]

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("dask-workers", workers_health)]

    def endpoints(self, instances: Sequence[Instance]) -> dict[str, str]:
        scheduler = next((i for i in instances if i.runs("scheduler")), None)
        return {"scheduler": f"tcp://{scheduler.fixed_ip}:{SCHEDULER_PORT}"} if scheduler else {}


class DaskJobs(DriverJobEngine):
    """``python`` jobs: a script run on the scheduler's instance, its ``Client()`` connected to the cluster."""

    types = ("python",)
    driver_process = "scheduler"

    def command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> list[str]:
        return ["env", f"DASK_SCHEDULER_ADDRESS={scheduler_address(ctx)}", ctx.config("python"), program, *args]


DASK = Dask(
    name="dask", title="Dask", versions=("2022", "2023", "2024", "2025", "2026"),
    processes={"scheduler": "the Dask scheduler, which clients submit work to", "worker": "a worker with its nanny"},
    configs=(ConfigOption("python", str, "python3", "The Python that has distributed installed, on the image."),
             ConfigOption("threads", int, 1, "Threads per worker.", scope="node_group"),
             ConfigOption("start_timeout", int, 120, "Seconds to wait for the scheduler, then for the workers.")),
    ports={"scheduler": (SCHEDULER_PORT, DASHBOARD_PORT)},
    cluster_ports={"worker": (WORKER_PORT, NANNY_PORT)},
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(DASK)


@hookimpl
def heatdeploy_job_engine(framework: Framework) -> DaskJobs | None:
    return DaskJobs() if framework.name == "dask" else None
