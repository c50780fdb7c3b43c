"""Uploading a 1 GiB job binary: heatdeploy's ``upload`` against the ``swift upload`` command line.

    .venv/bin/python bench/upload.py [--size-mib 1024] [--segment-mib 64] [--rounds 3]

Both upload the same random file to the local cloud's Swift as an SLO with
the same segment size and the same number of segment threads (swift's
default, 10), each into containers of its own so that neither finds the
object already there; the order alternates between rounds. heatdeploy's time
includes hashing the file, which names the object. Then an unchanged
re-upload of the same file is timed (its digest remembered: one HEAD).
Targets: heatdeploy at least 0.9x swift upload's throughput; an unchanged
re-upload under 0.1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from keystoneauth1 import session as ks_session
from support import CLOUD, local_cloud

from heatdeploy.cloud import binaries
from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cloud.tempurls import storage_url

MiB = 1024 * 1024
SWIFT = str(Path(sys.executable).with_name("swift"))


def random_file(path: Path, size: int) -> None:
    """Random content: nothing on the way can shortcut zeros."""
    with open(path, "wb") as stream:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MiB))
            stream.write(block)
            left -= len(block)


def swift_env(session: ks_session.Session) -> dict[str, str]:
    """The ``swift`` command line's credentials: a token and storage URL, in the environment, not argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
    env["OS_AUTH_TOKEN"] = str(session.get_token())
    env["OS_STORAGE_URL"] = storage_url(session)
    return env


def swift(env: dict[str, str], *args: str) -> None:
    subprocess.run([SWIFT, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--segment-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size, segment = args.size_mib * MiB, args.segment_mib * MiB

    with tempfile.TemporaryDirectory(prefix="heatdeploy-bench-upload-") as tmp, local_cloud(), \
            tempfile.TemporaryDirectory(prefix="heatdeploy-bench-cache-") as cache_dir:
        path = Path(tmp) / "job.jar"
        random_file(path, size)
        session = load_cloud(CLOUD).session
        env = swift_env(session)
        cache = binaries.DigestCache(Path(cache_dir) / "sha256.json")
        ours: list[float] = []
        theirs: list[float] = []

        def heatdeploy_round(n: int) -> None:
            ref: list[binaries.BinaryRef] = []
            ours.append(timed(lambda: ref.append(binaries.upload(
                session, path, f"bench-heatdeploy-{n}", segment_size=segment, digest_cache=cache))))
            assert ref[0].uploaded

        def swift_round(n: int) -> None:
            theirs.append(timed(lambda: swift(env, "upload", "--use-slo", "--segment-size", str(segment),
                                              "--object-name", "job.jar", f"bench-swift-{n}", str(path))))

        for n in range(args.rounds):
            first, second = (heatdeploy_round, swift_round) if n % 2 == 0 else (swift_round, heatdeploy_round)
            first(n)
            second(n)
            print(f"round {n + 1}: heatdeploy {size / MiB / ours[-1]:7.1f} MiB/s, "
                  f"swift upload {size / MiB / theirs[-1]:7.1f} MiB/s", flush=True)

        # The digest was remembered in an earlier round (the file was by then old enough).
        again = [timed(lambda: binaries.upload(session, path, "bench-heatdeploy-0", segment_size=segment,
                                               digest_cache=cache)) for _ in range(5)]
        for n in range(args.rounds):
            swift(env, "delete", f"bench-heatdeploy-{n}")
            swift(env, "delete", f"bench-swift-{n}")
        _report(size, segment, ours, theirs, again)
    return 0


def _report(size: int, segment: int, ours: list[float], theirs: list[float], again: list[float]) -> None:
    ours_rate = size / MiB / statistics.median(ours)
    theirs_rate = size / MiB / statistics.median(theirs)
    ratio = ours_rate / theirs_rate
    print(f"\n{size // MiB} MiB file, {segment // MiB} MiB segments, 10 segment threads, "
          f"median of {len(ours)} round(s):")
    print(f"  heatdeploy upload (hash + HEAD + upload): {ours_rate:7.1f} MiB/s  ({statistics.median(ours):.2f} s)")
    print(f"  swift upload --use-slo:                   {theirs_rate:7.1f} MiB/s  ({statistics.median(theirs):.2f} s)")
    print(f"  ratio: {ratio:.2f}x (target >= 0.9x): {'ok' if ratio >= 0.9 else 'MISSED'}")
    print(f"  unchanged re-upload: median {statistics.median(again) * 1000:.1f} ms, "
          f"max {max(again) * 1000:.1f} ms (target < 100 ms): {'ok' if max(again) < 0.1 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
