"""Configuring, starting, scaling and checking a Spark standalone cluster over SSH."""

from __future__ import annotations

import json
import shlex
from typing import Any

from heatdeploy import Instance, Remote, RemoteError, StepContext

MASTER_PORT, MASTER_UI, WORKER_UI = 7077, 8080, 8081
CONF_DIR = "/opt/heatdeploy/spark/conf"
STATE_DIR = "/var/lib/heatdeploy/spark"
DAEMON = "/opt/heatdeploy/spark/daemon"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
START_TIMEOUT = 120.0

# Starts, stops and reports one Spark daemon. Spark's own spark-daemon.sh
# sleeps a fixed 2.5 s per start; readiness is checked through the master's
# status instead.
DAEMON_SCRIPT = f"""#!/bin/sh
# usage: daemon start|stop|status NAME [CLASS ARGS...]
set -e
action=$1 name=$2
shift 2
. {CONF_DIR}/spark-env.sh
pid_file="$SPARK_PID_DIR/$name.pid"
running() {{ [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }}
case "$action" in
  status) running ;;
  start)
    running && exit 0
    mkdir -p "$SPARK_PID_DIR" "$SPARK_LOG_DIR"
    nohup "$SPARK_HOME/bin/spark-class" "$@" >> "$SPARK_LOG_DIR/$name.out" 2>&1 < /dev/null &
    echo $! > "$pid_file" ;;
  stop)
    running || {{ rm -f "$pid_file"; exit 0; }}
    pid=$(cat "$pid_file")
    kill "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$pid_file" ;;
esac
"""


class DaemonDied(RemoteError):
    """A Spark daemon stopped right after it was started: waiting longer cannot help."""

    fatal = True


def master(ctx: StepContext) -> Instance:
    return ctx.running("master", include_leaving=True)[0]


def master_url(ctx: StepContext) -> str:
    return f"spark://{master(ctx).fixed_ip}:{MASTER_PORT}"


def spark_env(ctx: StepContext, instance: Instance) -> str:
    """spark-env.sh for ``instance``; every value is shell-quoted."""
    local_dirs = _local_dirs(ctx, instance)
    values = {
        "SPARK_HOME": ctx.config("spark_home"),
        "SPARK_CONF_DIR": CONF_DIR,
        "SPARK_LOCAL_IP": instance.fixed_ip,
        "SPARK_LOCAL_HOSTNAME": instance.fixed_ip,
        "SPARK_MASTER_HOST": master(ctx).fixed_ip,
        "SPARK_MASTER_PORT": str(MASTER_PORT),
        "SPARK_MASTER_WEBUI_PORT": str(MASTER_UI),
        "SPARK_WORKER_WEBUI_PORT": str(WORKER_UI),
        "SPARK_DAEMON_MEMORY": ctx.config("daemon_memory"),
        "SPARK_LOG_DIR": f"{STATE_DIR}/logs",
        "SPARK_PID_DIR": f"{STATE_DIR}/run",
        "SPARK_WORKER_DIR": f"{STATE_DIR}/work",
        "SPARK_LOCAL_DIRS": ",".join(local_dirs),
        "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={STATE_DIR}/tmp -XX:-UsePerfData",
    }
    cores, memory = ctx.config("worker_cores", instance), ctx.config("worker_memory", instance)
    if cores:
        values["SPARK_WORKER_CORES"] = str(cores)
    if memory:
        values["SPARK_WORKER_MEMORY"] = memory
    lines = [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]
    return "# Written by heatdeploy\n" + "\n".join(lines) + "\n"


def _local_dirs(ctx: StepContext, instance: Instance) -> list[str]:
    volumes = ctx.group(instance).volumes
    if volumes:
        return [f"{volumes.mount_prefix}{n}/spark" for n in range(1, volumes.count + 1)]
    return [f"{STATE_DIR}/local"]


def spark_defaults(ctx: StepContext, instance: Instance) -> str:
    settings = {
        "spark.master": master_url(ctx),
        "spark.executor.memory": ctx.config("executor_memory"),
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
    remote.write_file(DAEMON, DAEMON_SCRIPT, 0o755)
    dirs = [f"{STATE_DIR}/{d}" for d in ("logs", "run", "work", "tmp")] + _local_dirs(ctx, instance)
    remote.run(["mkdir", "-p", *dirs])


def refresh_workers_list(ctx: StepContext, remote: Remote) -> None:
    remote.write_file(f"{CONF_DIR}/workers", workers_file(ctx))


def start_master(ctx: StepContext, remote: Remote) -> None:
    ip = remote.instance.fixed_ip
    remote.run([DAEMON, "start", "master", MASTER_CLASS, "--host", ip, "--port", str(MASTER_PORT),
                "--webui-port", str(MASTER_UI)])
    ctx.wait_until("the Spark master reports ALIVE", lambda: _alive_master(remote), START_TIMEOUT)


def _alive_master(remote: Remote) -> bool:
    """Whether the master is up; a master process that died fails at once, with its log."""
    if remote.run([DAEMON, "status", "master"], check=False).status != 0:
        log = remote.run(["tail", "-n", "20", f"{STATE_DIR}/logs/master.out"], check=False)
        raise DaemonDied(remote.instance.name, "the Spark master exited", log.stdout)
    return master_status(remote).get("status") == "ALIVE"


def start_worker(ctx: StepContext, remote: Remote) -> None:
    remote.run([DAEMON, "start", "worker", WORKER_CLASS, "--host", remote.instance.fixed_ip,
                "--webui-port", str(WORKER_UI), master_url(ctx)])


def stop_worker(ctx: StepContext, remote: Remote) -> None:
    remote.run([DAEMON, "stop", "worker"])


def master_status(remote: Remote) -> dict[str, Any]:
    """The master's JSON status page, fetched through the instance's SSH connection."""
    status, body = remote.http("GET", MASTER_UI, "/json/")
    if status != 200:
        return {}
    try:
        return dict(json.loads(body))
    except ValueError:  # a master still starting may answer before its status page works
        return {}


def alive_workers(status: dict[str, Any]) -> set[str]:
    workers = status.get("workers") or []
    return {w["host"] for w in workers if isinstance(w, dict) and w.get("state") == "ALIVE"}


def verify_workers(ctx: StepContext, remote: Remote) -> None:
    """Wait until exactly the cluster's workers (leaving ones excluded) are alive."""
    expected = {i.fixed_ip for i in ctx.running("worker")}
    ctx.wait_until(f"{len(expected)} Spark worker(s) alive",
                   lambda: alive_workers(master_status(remote)) == expected, START_TIMEOUT)
