"""Configuring, starting, scaling and checking a Spark standalone cluster over SSH."""

from __future__ import annotations

from typing import Any

from heatdeploy import Daemon, Instance, Remote, StepContext, env_file, http_json, wait_for_members

MASTER_PORT, MASTER_UI, WORKER_UI = 7077, 8080, 8081
# Spark picks these at random unless told; a security group can only open a port it knows. Each
# service tries its port and the next PORT_RETRIES ones, so concurrent drivers each find one.
WORKER_PORT, DRIVER_PORT, BLOCK_MANAGER_PORT, PORT_RETRIES = 7078, 7100, 7200, 15
DRIVER_PORTS = range(DRIVER_PORT, DRIVER_PORT + PORT_RETRIES + 1)
BLOCK_MANAGER_PORTS = range(BLOCK_MANAGER_PORT, BLOCK_MANAGER_PORT + PORT_RETRIES + 1)
CONF_DIR = "/opt/heatdeploy/spark/conf"
STATE_DIR = "/var/lib/heatdeploy/spark"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def master(ctx: StepContext) -> Instance:
    return ctx.running("master", include_leaving=True)[0]


def master_url(ctx: StepContext) -> str:
    return f"spark://{master(ctx).fixed_ip}:{MASTER_PORT}"


def spark_env(ctx: StepContext, instance: Instance) -> str:
    return env_file({
        "SPARK_HOME": ctx.config("spark_home"), "SPARK_CONF_DIR": CONF_DIR,
        "SPARK_LOCAL_IP": instance.fixed_ip, "SPARK_LOCAL_HOSTNAME": instance.fixed_ip,
        "SPARK_MASTER_HOST": master(ctx).fixed_ip, "SPARK_MASTER_PORT": MASTER_PORT,
        "SPARK_MASTER_WEBUI_PORT": MASTER_UI, "SPARK_WORKER_PORT": WORKER_PORT, "SPARK_WORKER_WEBUI_PORT": WORKER_UI,
        "SPARK_DAEMON_MEMORY": ctx.config("daemon_memory"), "SPARK_WORKER_DIR": f"{STATE_DIR}/work",
        "SPARK_LOCAL_DIRS": ",".join(_local_dirs(ctx, instance)),
        "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={STATE_DIR}/tmp -XX:-UsePerfData",
        "SPARK_WORKER_CORES": ctx.config("worker_cores", instance) or None,  # 0: all of the instance's
        "SPARK_WORKER_MEMORY": ctx.config("worker_memory", instance),
    })


def _local_dirs(ctx: StepContext, instance: Instance) -> list[str]:
    volumes = ctx.group(instance).volumes
    if volumes:
        return [f"{volumes.mount_prefix}{n}/spark" for n in range(1, volumes.count + 1)]
    return [f"{STATE_DIR}/local"]


def spark_defaults(ctx: StepContext, instance: Instance) -> str:
    settings = {
        "spark.master": master_url(ctx),
        "spark.executor.memory": ctx.config("executor_memory"),
        "spark.driver.port": DRIVER_PORT,
        "spark.blockManager.port": BLOCK_MANAGER_PORT,
        "spark.port.maxRetries": PORT_RETRIES,
        "spark.local.dir": ",".join(_local_dirs(ctx, instance)),
        "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={STATE_DIR}/tmp -XX:-UsePerfData",
        "spark.executor.extraJavaOptions": "-XX:-UsePerfData",
    }
    return "# Written by heatdeploy\n" + "".join(f"{k} {v}\n" for k, v in settings.items())


def workers_file(ctx: StepContext) -> str:
    return "".join(f"{i.fixed_ip}\n" for i in ctx.running("worker"))


def configure(ctx: StepContext, remote: Remote) -> None:
    instance = remote.instance
    remote.write_file(f"{CONF_DIR}/spark-env.sh", spark_env(ctx, instance), 0o755)
    remote.write_file(f"{CONF_DIR}/spark-defaults.conf", spark_defaults(ctx, instance))
    remote.write_file(f"{CONF_DIR}/workers", workers_file(ctx))
    dirs = [f"{STATE_DIR}/{d}" for d in ("run", "work", "tmp")] + _local_dirs(ctx, instance)
    remote.run(["mkdir", "-p", *dirs])


def refresh_workers_list(ctx: StepContext, remote: Remote) -> None:
    remote.write_file(f"{CONF_DIR}/workers", workers_file(ctx))


def daemon(ctx: StepContext, process: str, *args: str) -> Daemon:
    """The master's or a worker's JVM, started by spark-class with spark-env.sh's settings."""
    main = MASTER_CLASS if process == "master" else WORKER_CLASS
    return Daemon(process, [f"{ctx.config('spark_home')}/bin/spark-class", main, *args],
                  directory=f"{STATE_DIR}/run", environment=f"{CONF_DIR}/spark-env.sh")


def start_master(ctx: StepContext, remote: Remote) -> None:
    master = daemon(ctx, "master", "--host", remote.instance.fixed_ip, "--port", str(MASTER_PORT),
                    "--webui-port", str(MASTER_UI))
    master.start(remote)

    def alive() -> bool:  # the status page answers before the master is ALIVE, which is what ready means
        master.check(remote)
        return master_status(remote).get("status") == "ALIVE"
    ctx.wait_until("the Spark master reports ALIVE", alive, ctx.config("start_timeout"))


def start_worker(ctx: StepContext, remote: Remote) -> None:
    daemon(ctx, "worker", "--host", remote.instance.fixed_ip, "--port", str(WORKER_PORT),
           "--webui-port", str(WORKER_UI), master_url(ctx)).start(remote)


def stop_worker(ctx: StepContext, remote: Remote) -> None:
    daemon(ctx, "worker").stop(remote)


def master_status(remote: Remote) -> dict[str, Any]:
    """The master's JSON status page, fetched through the instance's SSH connection."""
    return http_json(remote, MASTER_UI, "/json/")


def alive_workers(status: dict[str, Any]) -> set[str]:
    workers = status.get("workers") or []
    return {w["host"] for w in workers if isinstance(w, dict) and w.get("state") == "ALIVE"}


def verify_workers(ctx: StepContext, remote: Remote) -> None:
    """Wait until exactly the cluster's workers (leaving ones excluded) are alive on the master."""
    wait_for_members(ctx, f"every Spark worker registered with the master at {master_url(ctx)}",
                     lambda: alive_workers(master_status(remote)), ctx.running("worker"), ctx.config("start_timeout"),
                     hint=f"the master's port {MASTER_PORT} and the workers' port {WORKER_PORT} must be open between "
                          f"the instances; a worker's log is {STATE_DIR}/run/worker.log")
