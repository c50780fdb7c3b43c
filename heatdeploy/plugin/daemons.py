"""Long-running processes on instances: started detached, idempotently, with a pid file and a log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from heatdeploy.plugin.remote import Remote, RemoteError, Result

# An exited process nobody reaped (its parent is gone, and PID 1 may not reap) is a zombie: not running.
ALIVE_FUNCTION = """hd_alive() { kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }
"""

# Run with ``sh -c`` and the daemon's values as arguments, never as shell text, so nothing needs
# installing first and no value is ever parsed by the shell. The environment file is sourced by the
# daemon's own shell, just before it becomes the command, so it cannot change what this script does.
DAEMON_SCRIPT = """set -e
hd_action=$1 hd_dir=$2 hd_name=$3 hd_timeout=$4 hd_env=$5
shift 5
hd_pid="$hd_dir/$hd_name.pid" hd_log="$hd_dir/$hd_name.log"
hd_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
""" + ALIVE_FUNCTION + """\
# The pid file holds "PID BOOT_ID": after a reboot its pid may be another process's. (Files written
# before boot ids were kept hold the pid alone.)
hd_recorded() {
  [ -f "$hd_pid" ] && read -r hd_process hd_booted < "$hd_pid" &&
    { [ -z "$hd_booted" ] || [ "$hd_booted" = "$hd_boot" ]; }
}
hd_running() { hd_recorded && hd_alive "$hd_process"; }
case "$hd_action" in
  status) hd_running ;;
  start)
    hd_running && exit 0
    mkdir -p "$hd_dir"
    nohup sh -c 'if [ -n "$1" ]; then . "$1"; fi; shift; exec "$@"' daemon "$hd_env" "$@" \
      >> "$hd_log" 2>&1 < /dev/null &
    echo "$! $hd_boot" > "$hd_pid" ;;
  stop)
    hd_running || { rm -f "$hd_pid"; exit 0; }
    kill "$hd_process" 2>/dev/null || true  # it may have exited since
    hd_tenths=$((hd_timeout * 10))
    while [ "$hd_tenths" -gt 0 ] && hd_alive "$hd_process"; do
      sleep 0.1; hd_tenths=$((hd_tenths - 1))
    done
    if hd_alive "$hd_process"; then kill -9 "$hd_process" 2>/dev/null || true; fi
    rm -f "$hd_pid" ;;
esac
"""


class DaemonDied(RemoteError):
    """A daemon that was started is no longer running: waiting longer cannot help."""

    fatal = True


@dataclass(frozen=True)
class Daemon:
    """A long-running process on an instance: ``command`` (an argv list), run detached.

    Its pid is kept in ``directory/name.pid`` and its output appended to
    ``directory/name.log``. Every method is safe to repeat: starting a
    running daemon or stopping a stopped one does nothing, so a step that
    uses them can be run again. ``environment`` is the absolute path of a
    shell file sourced just before the command starts (such as Spark's
    ``spark-env.sh``): what it exports, the command sees.
    """

    name: str
    command: Sequence[str]
    directory: str = "/var/lib/heatdeploy/daemons"
    environment: str = ""
    stop_timeout: int = 30
    """Seconds between SIGTERM and SIGKILL when stopping."""

    @property
    def log_file(self) -> str:
        return f"{self.directory}/{self.name}.log"

    def start(self, remote: Remote) -> None:
        """Start the daemon unless it is running."""
        self._run(remote, "start", *self.command)

    def stop(self, remote: Remote) -> None:
        """Stop the daemon if it is running: SIGTERM, then SIGKILL after :attr:`stop_timeout`."""
        self._run(remote, "stop")

    def running(self, remote: Remote) -> bool:
        """Whether the daemon's recorded process is alive."""
        return self._run(remote, "status", check=False).status == 0

    def check(self, remote: Remote) -> None:
        """Raise :class:`DaemonDied`, with the end of its log, unless the daemon is running.

        Call it from a readiness probe: a daemon that exited right after
        starting fails the step at once instead of at the deadline.
        """
        if not self.running(remote):
            log = remote.run(["tail", "-n", "20", self.log_file], check=False)
            raise DaemonDied(remote.instance.name, f"{self.name} exited (its log is {self.log_file})", log.stdout)

    def _run(self, remote: Remote, action: str, *command: str, check: bool = True) -> Result:
        return remote.run(["sh", "-c", DAEMON_SCRIPT, "heatdeploy-daemon", action, self.directory, self.name,
                           str(self.stop_timeout), self.environment, *command], check=check)
