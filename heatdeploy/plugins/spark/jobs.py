"""Spark's job engine: spark-submit (Python files or jars) and shell scripts, run on the master.

A job's driver runs in the background as a :class:`~heatdeploy.JobProcess`,
which keeps its exit status next to its log, so status survives heatdeploy
going away. Status comes from there and from the master's JSON (the
application, found by the id the driver logged); cancelling kills the
application through the master and the driver's process group.
"""

from __future__ import annotations

import re
import urllib.parse

from heatdeploy import Instance, JobContext, JobProcess, JobRecord, JobState, Remote
from heatdeploy.plugins.spark import steps

# The driver's shell sources spark-env.sh, as Spark's own launchers do.
DRIVER = JobProcess(environment=f"{steps.CONF_DIR}/spark-env.sh")


class SparkJobs:
    """Runs ``spark`` and ``shell`` jobs on a Spark standalone cluster."""

    types: tuple[str, ...] = ("spark", "shell")

    def driver(self, ctx: JobContext) -> Instance:
        return ctx.running("master")[0]

    def start(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> None:
        DRIVER.start(ctx.remote(self.driver(ctx)), job, self._command(ctx, job, program, args))

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
        state, reason = DRIVER.state(ctx.remote(self.driver(ctx)), job)
        app = self._application(ctx, job) if job.type == "spark" else None
        app_note = f"; application {app['id']} {app['state']}" if app else ""
        if job.engine.get("cancelled"):
            return "KILLED", "cancelled" + app_note
        if state != "RUNNING" and app and app.get("state") == "KILLED":
            return "KILLED", f"application killed{app_note}"
        return state, reason + app_note

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
        return DRIVER.logs(ctx.remote(self.driver(ctx)), job, offset)

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        remote = ctx.remote(self.driver(ctx))
        app = self._application(ctx, job) if job.type == "spark" else None
        if app and app["state"] in ("RUNNING", "WAITING", "SUBMITTED"):
            self._kill_application(remote, app["id"])
        job.engine["cancelled"] = True
        DRIVER.kill(remote, job)  # the runner, spark-submit and the driver JVM

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
