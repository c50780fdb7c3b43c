"""Hadoop's job engine: MapReduce jars and Streaming jobs, submitted by a client on the ResourceManager's instance.

The client (``yarn jar``) is the job's driver, a :class:`~heatdeploy.JobProcess`
run as the user heatdeploy connects as; it waits for the YARN application,
so its exit status is the job's. heatdeploy stages inputs at the same local
path on every instance, which every task reads as a ``file://`` path; tasks
write outputs to HDFS (``heatdeploy/JOB/...`` under the user's HDFS home),
fetched into the job's local output folder once the job has succeeded, from
where heatdeploy uploads them to Swift as for any framework. Status adds the
YARN application's state; cancelling kills the application, then the client.
"""

from __future__ import annotations

import re

from heatdeploy import DriverJobEngine, JobContext, JobRecord, JobState, Remote

# The streaming jar's name carries the Hadoop version: the driver's shell finds it, every value an argument.
STREAMING = """jar=$(ls "$1"/share/hadoop/tools/lib/hadoop-streaming-*.jar | head -n 1)
yarn=$2
shift 2
exec "$yarn" jar "$jar" "$@"
"""
APP_ID = re.compile(r"application_\d+_\d+")


class HadoopJobs(DriverJobEngine):
    """Runs ``mapreduce`` jobs (a jar, ``main_class`` as its first argument) and ``streaming`` jobs (the
    binary is shipped with ``-files``; the ``mapper`` and ``reducer`` confs are its commands)."""

    types = ("mapreduce", "streaming")
    driver_process = "resourcemanager"

    def command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> list[str]:
        home = str(ctx.config("hadoop_home"))
        args = [self._located(job, arg) for arg in args]
        options = [f"-D{key}={value}" for key, value in sorted(job.conf.items()) if key not in ("mapper", "reducer")]
        if job.type == "mapreduce":
            return [f"{home}/bin/yarn", "jar", program, *([job.main_class] if job.main_class else []), *options,
                    *args]
        name = program.rsplit("/", 1)[-1]
        streaming = [*options, "-files", program, "-mapper", job.conf.get("mapper", f"./{name}"),
                     "-reducer", job.conf.get("reducer", "NONE"), *args]
        return ["sh", "-c", STREAMING, "streaming", home, f"{home}/bin/yarn", *streaming]

    @staticmethod
    def _located(job: JobRecord, arg: str) -> str:
        """A staged input as a file:// URI every task can read; an output folder as its HDFS path."""
        local = f"{job.directory}/"
        if not arg.startswith(local):
            return arg
        folder = arg[len(local):]
        if folder.startswith("output"):
            hdfs = f"heatdeploy/{job.id}/{folder}"  # relative: under the submitting user's HDFS home
            job.engine.setdefault("outputs", {})[hdfs] = arg
            return hdfs
        return f"file://{arg}" if folder.startswith("input") else arg

    def status(self, ctx: JobContext, job: JobRecord) -> tuple[JobState, str]:
        state, reason = super().status(ctx, job)
        app = self._application(ctx, job)
        if state == "SUCCEEDED" and not job.engine.get("fetched"):
            self._fetch_outputs(ctx, job)
        return (state, f"{reason}; application {app}") if app else (state, reason)

    def _application(self, ctx: JobContext, job: JobRecord) -> str | None:
        """The YARN application the client submitted, from its log (``Submitted application ...``)."""
        if "app_id" not in job.engine:
            found = APP_ID.search(self.logs(ctx, job).decode(errors="replace"))
            if found is None:
                return None
            job.engine["app_id"] = found.group(0)
        return str(job.engine["app_id"])

    def _fetch_outputs(self, ctx: JobContext, job: JobRecord) -> None:
        remote = ctx.remote(self.driver(ctx))
        hdfs_bin = f"{ctx.config('hadoop_home')}/bin/hdfs"
        for hdfs, local in (job.engine.get("outputs") or {}).items():
            remote.run(["sh", "-c", '"$1" dfs -get "$2/*" "$3/"', "fetch", hdfs_bin, hdfs, local])
        job.engine["fetched"] = True

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        app = self._application(ctx, job)
        if app is not None:
            remote: Remote = ctx.remote(self.driver(ctx))
            remote.run([f"{ctx.config('hadoop_home')}/bin/yarn", "application", "-kill", app], check=False)
        super().cancel(ctx, job)  # the client, which would otherwise wait on the killed application
