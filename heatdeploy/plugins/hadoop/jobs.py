"""Hadoop's job engine: MapReduce jars and Streaming jobs, submitted by a client on the ResourceManager's instance.

The client (``yarn jar``) is the job's driver, a :class:`~heatdeploy.JobProcess`
run as the user heatdeploy connects as; it waits for the YARN application,
so its exit status is the job's. heatdeploy stages inputs at the same local
path on every instance, which tasks (run by YARN as ``yarn``) read as
``file://`` paths; tasks write outputs to HDFS (``heatdeploy/JOB/...`` under
the user's HDFS home), which the driver copies into the job's local output
folders once the job has succeeded, so heatdeploy uploads them to Swift as
for any framework. Status adds the YARN application; cancelling stops the
client, then kills every application it submitted.
"""

from __future__ import annotations

import re

from heatdeploy import DriverJobEngine, JobContext, JobRecord, JobState, Remote
from heatdeploy.plugin.jobs import JOBS_DIR

# sh -c RUN_SCRIPT run HDFS N HDFS_DIR1 LOCAL_DIR1 ... CLIENT_ARGV...: run the client, then copy each output
# folder it wrote from HDFS. Values are assigned through eval of "\$k" references: never parsed as shell text.
RUN_SCRIPT = r"""set -e
hdfs=$1 n=$2
shift 2
i=0
while [ "$i" -lt "$n" ]; do eval "h$i=\$1 l$i=\$2"; shift 2; i=$((i + 1)); done
"$@"
i=0
while [ "$i" -lt "$n" ]; do
  eval "h=\$h$i l=\$l$i"
  if "$hdfs" dfs -test -d "$h"; then "$hdfs" dfs -get -f "$h/*" "$l/"; fi
  i=$((i + 1))
done
"""
# The streaming jar's name carries the Hadoop version: the driver's shell finds it.
STREAMING = """jar=$(ls "$1"/share/hadoop/tools/lib/hadoop-streaming-*.jar 2> /dev/null | head -n 1)
[ -f "$jar" ] || { echo "no hadoop-streaming-*.jar under $1/share/hadoop/tools/lib" >&2; exit 1; }
yarn=$2
shift 2
exec "$yarn" jar "$jar" "$@"
"""
# Tasks run as yarn; curl makes the staging folders 0750 for the user heatdeploy connects as.
READABLE = """chmod a+rX "$1" "$2"
for folder in "$2"/input*; do if [ -e "$folder" ]; then chmod -R a+rX "$folder"; fi; done
"""
APP_ID_PATTERN = "application_[0-9]*_[0-9]*"  # grep's basic syntax
APP_ID = re.compile(r"application_\d+_\d+")


class HadoopJobs(DriverJobEngine):
    """Runs ``mapreduce`` jobs (a jar; ``main_class`` its first argument) and ``streaming`` jobs (the binary
    is shipped with ``-files``; the ``mapper`` and ``reducer`` confs are the tasks' commands)."""

    types = ("mapreduce", "streaming")
    driver_process = "resourcemanager"

    def start(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> None:
        for instance in ctx.instances:
            ctx.remote(instance).run(["sh", "-c", READABLE, "readable", JOBS_DIR, job.directory])
        super().start(ctx, job, program, args)

    def command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> list[str]:
        home = str(ctx.config("hadoop_home"))
        args = [self._located(job, arg) for arg in args]
        # Generic options (-D) go first, as ToolRunner (which the main class must use for them) reads them.
        options = [f"-D{key}={value}" for key, value in sorted(job.conf.items()) if key not in ("mapper", "reducer")]
        if job.type == "mapreduce":
            client = [f"{home}/bin/yarn", "jar", program, *([job.main_class] if job.main_class else []), *options,
                      *args]
        else:
            name = program.rsplit("/", 1)[-1]
            client = ["sh", "-c", STREAMING, "streaming", home, f"{home}/bin/yarn", *options, "-files", program,
                      "-mapper", job.conf.get("mapper", f"./{name}"), "-reducer", job.conf.get("reducer", "NONE"),
                      *args]
        outputs = [path for name in job.outputs for path in self._output_folders(job, name)]
        return ["sh", "-c", RUN_SCRIPT, "run", f"{home}/bin/hdfs", str(len(outputs) // 2), *outputs, *client]

    @staticmethod
    def _output_folders(job: JobRecord, name: str) -> tuple[str, str]:
        """An output's folder in HDFS (relative: under the submitting user's HDFS home) and on the driver."""
        folder = f"output.{name}" if name else "output"
        return f"heatdeploy/{job.id}/{folder}", f"{job.directory}/{folder}"

    @staticmethod
    def _located(job: JobRecord, arg: str) -> str:
        """Staged inputs as file:// URIs every task can read, outputs as their HDFS folders, wherever in ``arg``."""
        def located(found: re.Match[str]) -> str:
            if found.group(1).startswith("input"):
                return f"file://{found.group(0)}"
            return f"heatdeploy/{job.id}/{found.group(1)}"
        return re.sub(rf"{re.escape(job.directory)}/((?:input|output)(?:\.[^/\s,:;]+)?)", located, arg)

    def status(self, ctx: JobContext, job: JobRecord) -> tuple[JobState, str]:
        state, reason = super().status(ctx, job)
        apps = self._applications(ctx, job)
        return (state, f"{reason}; application {', '.join(apps)}") if apps else (state, reason)

    def _applications(self, ctx: JobContext, job: JobRecord) -> list[str]:
        """The YARN applications the client submitted, from its log (``Submitted application ...``).

        grep runs on the instance: status is polled every few seconds, and the client's log grows.
        """
        found = ctx.remote(self.driver(ctx)).run(["grep", "-o", APP_ID_PATTERN, f"{job.directory}/driver.log"],
                                                 check=False).stdout
        return list(dict.fromkeys(APP_ID.findall(found)))

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        super().cancel(ctx, job)  # the client first: it can submit no more
        remote: Remote = ctx.remote(self.driver(ctx))
        for app in self._applications(ctx, job):  # a finished one is refused, harmlessly
            remote.run([f"{ctx.config('hadoop_home')}/bin/yarn", "application", "-kill", app], check=False)
