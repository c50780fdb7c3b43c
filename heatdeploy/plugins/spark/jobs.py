"""Spark's job engine: spark-submit (Python files or jars) and shell scripts, run on the master.

A job runs in the background under a small runner that records its exit
status next to its log, so status survives heatdeploy going away. Status
comes from that runner and from the master's JSON (the application, found
by its name: the job id); cancelling kills the application through the
master and the driver's process group.
"""

from __future__ import annotations

import re
import shlex
import urllib.parse

from heatdeploy import Instance, JobContext, JobRecord, JobState, Remote
from heatdeploy.plugins.spark import steps

RUNNER = f"""#!/bin/sh
# Runs a job, keeping its output and exit status beside it for heatdeploy.
. {steps.CONF_DIR}/spark-env.sh
cd "$(dirname "$0")"
"$@" > driver.log 2>&1
echo $? > exit_status.tmp && mv exit_status.tmp exit_status
"""

# Prints one of: "exit N", "running", "gone".
STATUS_SCRIPT = """cd "$1" || { echo gone; exit 0; }
if [ -f exit_status ]; then echo "exit $(cat exit_status)";
elif [ -f pid ] && kill -0 "$(cat pid)" 2>/dev/null; then echo running;
else echo gone; fi
"""


class SparkJobs:
    """Runs ``spark`` and ``shell`` jobs on a Spark standalone cluster."""

    types: tuple[str, ...] = ("spark", "shell")

    def driver(self, ctx: JobContext) -> Instance:
        return ctx.running("master")[0]

    def start(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> None:
        remote = ctx.remote(self.driver(ctx))
        runner = f"{job.directory}/run.sh"
        remote.write_file(runner, RUNNER, 0o755)
        command = self._command(ctx, job, program, args)
        # setsid: the job gets a process group of its own, which cancel kills whole.
        launch = (f"setsid nohup {shlex.quote(runner)} {shlex.join(command)} > /dev/null 2>&1 < /dev/null & "
                  f"echo $! > {shlex.quote(job.directory)}/pid")
        remote.run(["sh", "-c", launch])

    def _command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> list[str]:
        if job.type == "shell":
            return ["sh", program, *args]
        master = self.driver(ctx)
        command = [f"{ctx.config('spark_home')}/bin/spark-submit", "--master",
                   f"spark://{master.fixed_ip}:{steps.MASTER_PORT}", "--name", job.id]
        for key, value in sorted(job.conf.items()):
            command += ["--conf", f"{key}={value}"]
        if job.main_class:
            command += ["--class", job.main_class]
        return [*command, program, *args]

    def status(self, ctx: JobContext, job: JobRecord) -> tuple[JobState, str]:
        remote = ctx.remote(self.driver(ctx))
        runner = remote.run(["sh", "-c", STATUS_SCRIPT, "sh", job.directory]).stdout.strip()
        app = self._application(ctx, job) if job.type == "spark" else None
        app_note = f"; application {app['id']} {app['state']}" if app else ""
        if job.engine.get("cancelled"):
            return "KILLED", "cancelled" + app_note
        if runner == "running":
            return "RUNNING", "driver running" + app_note
        if runner.startswith("exit "):
            code = int(runner.split()[1])
            if app and app.get("state") == "KILLED":
                return "KILLED", f"application killed{app_note}"
            return ("SUCCEEDED" if code == 0 else "FAILED"), f"driver exited with status {code}{app_note}"
        return "FAILED", "the driver is gone without an exit status (instance restarted?)"

    def _application(self, ctx: JobContext, job: JobRecord) -> dict[str, str] | None:
        """The job's application on the master, found by the id its driver logged.

        Not by name: a program's own ``appName`` overrides the one given to spark-submit.
        """
        remote = ctx.remote(self.driver(ctx))
        app_id = job.engine.get("app_id")
        if not app_id:
            found = remote.run(["sh", "-c", 'grep -o "app ID app-[0-9-]*" "$1/driver.log" | head -n 1', "sh",
                                job.directory], check=False).stdout.split()
            if not found:
                return None
            app_id = job.engine["app_id"] = found[-1]
        status = steps.master_status(remote)
        for kind in ("activeapps", "completedapps"):
            for app in status.get(kind) or []:
                if isinstance(app, dict) and app.get("id") == app_id:
                    return {"id": app_id, "state": str(app.get("state"))}
        return {"id": app_id, "state": "UNKNOWN"}

    def logs(self, ctx: JobContext, job: JobRecord, offset: int = 0) -> bytes:
        remote = ctx.remote(self.driver(ctx))
        result = remote.run(["tail", "-c", f"+{offset + 1}", f"{job.directory}/driver.log"], check=False)
        return result.stdout.encode()

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        remote = ctx.remote(self.driver(ctx))
        app = self._application(ctx, job) if job.type == "spark" else None
        if app and app["state"] in ("RUNNING", "WAITING", "SUBMITTED"):
            self._kill_application(remote, app["id"])
        job.engine["cancelled"] = True
        pid = remote.run(["cat", f"{job.directory}/pid"], check=False).stdout.strip()
        if pid.isdigit():  # the whole process group: the runner, spark-submit and the driver JVM
            remote.run(["kill", "-s", "TERM", "--", f"-{pid}"], check=False)

    @staticmethod
    def _kill_application(remote: Remote, app_id: str) -> None:
        """Kill through the master, which then reports the application KILLED.

        The master's kill endpoint wants the CSRF token that its own page carries.
        """
        _, page = remote.http("GET", steps.MASTER_UI, "/")
        token = re.search(rb'name="csrfToken" value="([0-9A-Za-z]+)"', page)
        query = {"id": app_id, "terminate": "true"}
        if token:
            query["csrfToken"] = token.group(1).decode()
        remote.http("POST", steps.MASTER_UI, "/app/kill/?" + urllib.parse.urlencode(query))
