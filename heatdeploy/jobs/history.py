"""A job's driver log, kept in Swift under its record while it runs and after, so that it outlives the cluster.

A shipper started beside the driver sends ``driver.log`` in chunks of
:data:`CHUNK_BYTES` to ``jobs/<id>/log/<offset>`` in the records' container,
through a PUT temp URL limited to that prefix that expires with the job:
the chunk being written is sent again every :data:`SHIP_SECONDS` while it
grows, so a lost instance loses at most those last seconds. When heatdeploy
sees the job end, it stops the shipper and sends what is left itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from heatdeploy.cloud.project import ObjectStore, RecordStore
from heatdeploy.cloud.records import CONTAINER, JOB_LOG_CHUNK, job_log_prefix
from heatdeploy.jobs import data
from heatdeploy.plugin.daemons import ALIVE_FUNCTION
from heatdeploy.plugin.files import env_file
from heatdeploy.plugin.jobs import JobRecord
from heatdeploy.plugin.remote import Remote

CHUNK_BYTES = JOB_LOG_CHUNK
SHIP_SECONDS = 2
CONFIG = "log.conf"

# $1: the job's folder, $2: when to give up (seconds since the epoch), $3: the chunk size. The URL's parts
# come from log.conf (private, percent-encoded: safe inside curl's quoted config value), never from argv.
SHIP_SCRIPT = """cd "$1" || exit 0
deadline=$2 chunk=$3
. ./log.conf
""" + ALIVE_FUNCTION + f"""\
shipped=0 sent=-1
send() {{
    tail -c "+$(($1 + 1))" driver.log | head -c "$2" > log.part
    printf 'url = "%s%016d?%s"\\n' "$HEATDEPLOY_LOG_URL" "$1" "$HEATDEPLOY_LOG_QUERY" |
        curl -fsS --globoff --retry 2 -T log.part -K - > /dev/null
}}
ship() {{
    size=$(wc -c < driver.log) || return 0
    while [ $((size - shipped)) -ge "$chunk" ]; do
        send "$shipped" "$chunk" || return 0
        shipped=$((shipped + chunk)) sent=-1
    done
    rest=$((size - shipped))
    if [ "$rest" -gt 0 ] && [ "$rest" -ne "$sent" ]; then
        send "$shipped" "$rest" && sent=$rest
    fi
}}
while :; do
    ended=no
    if [ -f exit_status ] || {{ [ -f pid ] && ! hd_alive "$(cat pid)"; }}; then ended=yes; fi
    ship
    if [ "$ended" = yes ] || [ "$(date +%s)" -ge "$deadline" ]; then rm -f log.part shipper.pid; exit 0; fi
    sleep {SHIP_SECONDS}
done
"""

START_SCRIPT = """cd "$1" || exit 1
setsid sh -c "$2" ship "$1" "$3" "$4" > /dev/null 2>&1 < /dev/null &
echo $! > shipper.pid
"""

# $1: the job's folder, then the files that hold temp URLs. Stops the shipper, then removes those files:
# the job is over, and other jobs on the cluster run as the same user.
STOP_SCRIPT = """cd "$1" 2>/dev/null || exit 0
shift
if [ -f shipper.pid ]; then kill -s TERM -- "-$(cat shipper.pid)" 2>/dev/null; rm -f shipper.pid; fi
rm -f -- log.part "$@"
"""


def start_shipper(store: ObjectStore, remote: Remote, job: JobRecord, seconds: int) -> None:
    """Start shipping ``job``'s driver log to Swift for at most ``seconds``."""
    url = store.prefix_temp_url(CONTAINER, job_log_prefix(job.id), "PUT", seconds)
    remote.write_file(f"{job.directory}/{CONFIG}",
                      env_file({"HEATDEPLOY_LOG_URL": url.base, "HEATDEPLOY_LOG_QUERY": url.query}), mode=0o600)
    deadline = int(time.time()) + seconds
    remote.run(["sh", "-c", START_SCRIPT, "start", job.directory, SHIP_SCRIPT, str(deadline), str(CHUNK_BYTES)])


def finish(records: RecordStore, remote: Remote, job: JobRecord, read: Callable[[int], bytes]) -> None:
    """Stop the shipper and save the rest of the log: from the last chunk it may not have completed on.

    ``read(offset)`` is the driver's log from ``offset`` on, as the job's engine reads it.
    """
    remote.run(["sh", "-c", STOP_SCRIPT, "stop", job.directory, CONFIG, *data.secret_files(job)], check=False)
    chunks = records.job_log_chunks(job.id)
    start = 0
    if chunks:
        offset, size = chunks[-1]
        start = offset if size < CHUNK_BYTES else offset + size
    rest = read(start)
    for at in range(0, len(rest), CHUNK_BYTES):
        records.save_job_log(job.id, start + at, rest[at:at + CHUNK_BYTES])
    job.log_saved = True
