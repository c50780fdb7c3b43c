"""A job's driver as a background process in the job's folder: what most job engines start and watch."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from heatdeploy.plugin.daemons import ALIVE_FUNCTION
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.jobs import JobContext, JobRecord, State
from heatdeploy.plugin.remote import Remote

# The driver runs in a session of its own (setsid), so that kill() ends it with everything it started.
# Its output goes to driver.log and its exit status to exit_status, both beside it, so that its state
# survives heatdeploy going away. Values travel as arguments, never as shell text. The job's own
# environment (job.env: its data manifest and temp URLs, see heatdeploy.jobs.data) comes after the framework's.
START_SCRIPT = """set -e
dir=$1 env=$2
shift 2
mkdir -p "$dir" && cd "$dir"
setsid sh -c 'if [ -n "$1" ]; then . "$1"; fi; shift
if [ -f job.env ]; then . ./job.env; fi
"$@" > driver.log 2>&1 && code=0 || code=$?
echo "$code" > exit_status.tmp && mv exit_status.tmp exit_status' driver "$env" "$@" > /dev/null 2>&1 < /dev/null &
echo $! > pid
"""

# Prints one of: "exit N", "running", "gone". The exit status is read again once the driver is found
# gone, since it may have finished between the two looks; a zombie nobody reaped has finished too.
STATUS_SCRIPT = """cd "$1" || { echo gone; exit 0; }
""" + ALIVE_FUNCTION + """\
if [ -f exit_status ]; then echo "exit $(cat exit_status)";
elif [ -f pid ] && hd_alive "$(cat pid)"; then echo running;
elif [ -f exit_status ]; then echo "exit $(cat exit_status)";
else echo gone; fi
"""


LOG_SCRIPT = 'tail -c "+$1" "$2" 2>/dev/null | base64'


@dataclass(frozen=True)
class JobProcess:
    """A job's driver started in the background in ``job.directory``, with its log and exit status kept there.

    ``environment`` is the absolute path of a shell file sourced just before
    the command starts (say, the framework's environment script).
    """

    environment: str = ""

    def start(self, remote: Remote, job: JobRecord, command: Sequence[str]) -> None:
        """Start ``command`` (an argv list) detached; returns at once."""
        remote.run(["sh", "-c", START_SCRIPT, "start", job.directory, self.environment, *command])

    def state(self, remote: Remote, job: JobRecord) -> tuple[State, str]:
        """RUNNING, SUCCEEDED or FAILED, with a one-line reason such as ``driver exited with status 1``."""
        answer = remote.run(["sh", "-c", STATUS_SCRIPT, "status", job.directory]).stdout.strip()
        if answer == "running":
            return "RUNNING", "driver running"
        if answer.startswith("exit "):
            code = int(answer.split()[1])
            return ("SUCCEEDED" if code == 0 else "FAILED"), f"driver exited with status {code}"
        return "FAILED", "the driver is gone without an exit status (instance restarted?)"

    def logs(self, remote: Remote, job: JobRecord, offset: int = 0) -> bytes:
        """The driver's output from byte ``offset`` on, byte for byte (empty before it wrote any)."""
        # base64: a command's output comes back as text, and any byte that is not UTF-8 would change
        # the log's length, which offsets count in.
        result = remote.run(["sh", "-c", LOG_SCRIPT, "logs", str(offset + 1), f"{job.directory}/driver.log"],
                            check=False)
        return base64.b64decode(result.stdout)

    def kill(self, remote: Remote, job: JobRecord) -> None:
        """SIGTERM to the driver's whole session: the driver and everything it started."""
        pid = remote.run(["cat", f"{job.directory}/pid"], check=False).stdout.strip()
        if pid.isdigit():
            remote.run(["kill", "-s", "TERM", "--", f"-{pid}"], check=False)


class DriverJobEngine:
    """A job engine whose every job is one driver process on one instance: subclass it, don't rewrite it.

    Set :attr:`types` and :attr:`driver_process` and write :meth:`command`;
    starting, status, logs and cancelling come from :class:`JobProcess`
    (:attr:`process`). A subclass that can ask its framework more (say, an
    application's state on a master) overrides :meth:`status` or
    :meth:`cancel` and calls ``super()``.
    """

    types: tuple[str, ...] = ()
    """The job types this engine runs (``--type`` of ``job run``)."""
    direct_data: bool = False
    """Whether the framework's jobs read and write Swift themselves (``heatdeploy_job``, shipped to its
    workers) when their arguments do not use ``{input}``/``{output}``; when false every input is staged
    on every instance and every output collected from the driver, placeholders or not."""
    driver_process: str = ""
    """The process whose first running instance hosts every job's driver."""
    process: JobProcess = JobProcess()

    def command(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> Sequence[str]:
        """The driver's argv: ``program`` (the job's binary on the driver instance) run with ``args``."""
        raise NotImplementedError(f"{type(self).__name__}.command")

    def driver(self, ctx: JobContext) -> Instance:
        """The first running instance of :attr:`driver_process`."""
        running = ctx.running(self.driver_process)
        if not running:
            raise LookupError(f"{type(self).__name__}: no instance of cluster {ctx.spec.name} runs "
                              f"{self.driver_process!r}, the process its jobs' drivers run on")
        return running[0]

    def start(self, ctx: JobContext, job: JobRecord, program: str, args: list[str]) -> None:
        self.process.start(ctx.remote(self.driver(ctx)), job, self.command(ctx, job, program, args))

    def status(self, ctx: JobContext, job: JobRecord) -> tuple[State, str]:
        # A cancelled driver exits with SIGTERM's status, which alone would read as FAILED.
        if job.engine.get("cancelled"):
            return "KILLED", "cancelled"
        return self.process.state(ctx.remote(self.driver(ctx)), job)

    def logs(self, ctx: JobContext, job: JobRecord, offset: int = 0) -> bytes:
        return self.process.logs(ctx.remote(self.driver(ctx)), job, offset)

    def cancel(self, ctx: JobContext, job: JobRecord) -> None:
        job.engine["cancelled"] = True
        self.process.kill(ctx.remote(self.driver(ctx)), job)
