"""Spark's job engine: spark-submit (Python files or jars) and shell scripts, their drivers run on the master.

Beyond the driver's own state (:class:`~heatdeploy.DriverJobEngine`), a
``spark`` job's status names its application on the master, found by the id
the driver logged; cancelling kills the application through the master too.
"""

from __future__ import annotations

import re
import urllib.parse

from heatdeploy import DriverJobEngine, JobContext, JobProcess, JobRecord, JobState, Remote
from heatdeploy.plugins.spark import steps


class SparkJobs(DriverJobEngine):
    """Runs ``spark`` and ``shell`` jobs on a Spark standalone cluster."""

    types = ("spark", "shell")
    direct_data = True  # the runtime module goes to the executors with spark.submit.pyFiles
    driver_process = "master"
    process = JobProcess(environment=f"{steps.CONF_DIR}/spark-env.sh")  # as Spark's own launchers do

    def command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> list[str]:
        if job.type == "shell":
            return ["sh", program, *args]
        command = [f"{ctx.config('spark_home')}/bin/spark-submit", "--master",
                   f"spark://{self.driver(ctx).fixed_ip}:{steps.MASTER_PORT}", "--name", job.id]
        conf = dict(job.conf)
        if program.endswith(".py"):  # executors import heatdeploy_job to read and write Swift themselves
            # One list: --py-files would replace a spark.submit.pyFiles of the job's own.
            conf["spark.submit.pyFiles"] = ",".join(filter(None, (conf.get("spark.submit.pyFiles"),
                                                                  job.runtime_module)))
        for key, value in sorted(conf.items()):
            command += ["--conf", f"{key}={value}"]
        return [*command, *(["--class", job.main_class] if job.main_class else []), program, *args]

    def status(self, ctx: JobContext, job: JobRecord) -> tuple[JobState, str]:
        state, reason = super().status(ctx, job)
        app = self._application(ctx, job)
        if app is None:
            return state, reason
        note = f"; application {app['id']} {app['state']}"
        if state not in ("RUNNING", "KILLED") and app["state"] == "KILLED":
            return "KILLED", "application killed" + note
        return state, reason + note

    def _application(self, ctx: JobContext, job: JobRecord) -> dict[str, str] | None:
        """The job's application on the master, found by the id its driver logged.

        Not by name: a program's own ``appName`` overrides the one given to spark-submit.
        """
        if job.type != "spark":
            return None
        remote, app_id = ctx.remote(self.driver(ctx)), job.engine.get("app_id")
        if not app_id:
            found = remote.run(["sh", "-c", 'grep -o "app ID app-[0-9-]*" "$1/driver.log" | head -n 1', "sh",
                                job.directory], check=False).stdout.split()
            if not found:
                return None
            app_id = job.engine["app_id"] = found[-1]
        status = steps.master_status(remote)
        apps = [a for kind in ("activeapps", "completedapps") for a in status.get(kind) or [] if isinstance(a, dict)]
        state = next((str(a.get("state")) for a in apps if a.get("id") == app_id), "UNKNOWN")
        return {"id": app_id, "state": state}

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        app = self._application(ctx, job)
        if app and app["state"] in ("RUNNING", "WAITING", "SUBMITTED"):
            self._kill_application(ctx.remote(self.driver(ctx)), app["id"])
        super().cancel(ctx, job)  # the runner, spark-submit and the driver JVM

    @staticmethod
    def _kill_application(remote: Remote, app_id: str) -> None:
        """Kill through the master, which then reports the application KILLED.

        The master's kill endpoint wants the CSRF token that its own page carries.
        """
        _, page = remote.http("GET", steps.MASTER_UI, "/")
        token = re.search(rb'name="csrfToken" value="([0-9A-Za-z]+)"', page)
        query = {"id": app_id, "terminate": "true", **({"csrfToken": token.group(1).decode()} if token else {})}
        remote.http("POST", steps.MASTER_UI, "/app/kill/?" + urllib.parse.urlencode(query))
