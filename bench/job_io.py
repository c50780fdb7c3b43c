"""A word count over a large Swift input on 3 Spark workers: executors reading Swift directly, against staging.

    .venv/bin/python bench/job_io.py [--size-mib 1024] [--objects 4]

Uploads a text input of ``--size-mib`` MiB in ``--objects`` objects to the
local cloud's Swift, launches a Spark cluster (one master, three workers),
then runs the same word count twice:

- direct: ``heatdeploy_job.read_text`` splits the input by object and 64 MiB
  byte range, and each executor fetches its splits (HTTP Range on temp
  URLs); ``write_text`` writes one object per partition;
- staged: ``{input}`` in the arguments copies the whole input to every
  instance before the job starts (the path before direct reads).

For each it prints the job's wall time (from ``job run`` to its end, staging
included) and the bytes the Swift proxy sent for the input, per client
address, read from the proxy's access log. Target for direct: total bytes
fetched / input size <= 1.05.
"""

from __future__ import annotations

import argparse
import collections
import io
import random
import tempfile
import time
import urllib.parse
from pathlib import Path

import yaml
from support import CLOUD, local_cloud
from swiftclient import client as swift_client

from heatdeploy import load_and_validate, load_plugins
from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cluster import ClusterManager
from heatdeploy.jobs.manager import JobManager
from heatdeploy.jobs.spec import JobSpec

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "tests" / "functional" / "jobs"
CONTAINER, PREFIX = "bench-io", "corpus/"
MiB = 1024 * 1024


def text_block(seed: int = 1) -> bytes:
    """About a MiB of lines of words; repeated to make the input (word counting cost is per byte)."""
    rng = random.Random(seed)
    words = [f"w{n}" for n in range(5000)]
    out = io.StringIO()
    while out.tell() < MiB:
        out.write(" ".join(rng.choice(words) for _ in range(rng.randint(1, 16))) + "\n")
    return out.getvalue().encode()


class Repeated(io.RawIOBase):
    """``size`` bytes of ``block`` repeated, read as a file (nothing that large is held in memory)."""

    def __init__(self, block: bytes, size: int) -> None:
        self.block, self.size, self.position = block, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # swiftclient rewinds the body to send it again after a failure.
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, min(self.size, base + offset))
        return self.position

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n < 0 else min(n, self.size - self.position)
        start = self.position % len(self.block)
        chunk = (self.block[start:] + self.block * (n // len(self.block) + 1))[:n]
        self.position += len(chunk)
        return chunk


def upload_input(conn: swift_client.Connection, size_mib: int, objects: int) -> int:
    block = text_block()
    per_object = (size_mib * MiB // objects) // len(block) * len(block)  # whole blocks: whole lines
    conn.put_container(CONTAINER)
    for index in range(objects):
        conn.put_object(CONTAINER, f"{PREFIX}part-{index}.txt", Repeated(block, per_object),
                        content_length=per_object)
    return per_object * objects


def proxy_reads(log: Path, since: int) -> collections.Counter[str]:
    """Bytes the proxy sent for GETs of the input, per client address, after byte ``since`` of its log."""
    sent: collections.Counter[str] = collections.Counter()
    marker = f"/{CONTAINER}/{urllib.parse.quote(PREFIX)}"
    with log.open("rb") as source:
        source.seek(since)
        for line in source.read().decode(errors="replace").splitlines():
            fields = line.split()
            if len(fields) > 12 and fields[0] == "proxy-server:" and fields[4] == "GET" and marker in fields[5]:
                sent[fields[1]] += int(fields[12]) if fields[12].isdigit() else 0
    return sent


def run(jobs: JobManager, cluster: str, request: JobSpec, log: Path, size: int, label: str) -> None:
    since = log.stat().st_size
    start = time.perf_counter()
    job = jobs.wait(jobs.run(cluster, request).id, timeout=3600, interval=1.0)
    wall = time.perf_counter() - start
    reads = proxy_reads(log, since)
    total = sum(reads.values())
    print(f"{label}: {job.state} in {wall:.1f} s; input {size / MiB:.0f} MiB; fetched {total / MiB:.1f} MiB "
          f"= {total / size:.3f} x the input")
    for address, sent in sorted(reads.items()):
        print(f"    {address}: {sent / MiB:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--objects", type=int, default=4)
    args = parser.parse_args()
    with local_cloud() as root, tempfile.TemporaryDirectory() as tmp:
        cloud = load_cloud(CLOUD)
        size = upload_input(swift_client.Connection(session=cloud.session), args.size_mib, args.objects)
        spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
        spec["name"], spec["node_groups"][1]["count"] = "bench-io", 3
        spec_path = Path(tmp) / "bench-io.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        plugins = load_plugins()
        clusters = ClusterManager(cloud.session, plugins)
        clusters.launch(load_and_validate(str(spec_path), plugins))
        jobs, log = JobManager(clusters), root / "logs" / "swift-proxy.log"
        source = f"swift://{CONTAINER}/{PREFIX}"
        try:
            run(jobs, "bench-io", JobSpec(type="spark", binary=str(JOBS / "wordcount_direct.py"),
                                          inputs={"": source}, outputs={"": "swift://bench-io-out/direct"}),
                log, size, "direct (executors read their splits)")
            run(jobs, "bench-io", JobSpec(type="spark", binary=str(JOBS / "wordcount.py"), args=["{input}",
                                          "{output}"], inputs={"": source},
                                          outputs={"": "swift://bench-io-out/staged"}),
                log, size, "staged (copied to every instance)")
        finally:
            clusters.delete("bench-io", force=True)


if __name__ == "__main__":
    main()
