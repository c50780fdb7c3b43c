"""The same small step set on N local instances: N = 1, 10, 50.

    .venv/bin/python bench/fanout.py [--sizes 1,10,50]

The step set writes three 1 KiB files and runs one command on every
instance, through heatdeploy's orchestrator. It is timed twice per N: with
SSH connection set-up (fresh connections, as the first step of an operation
pays) and on already-connected instances (as every later step does).
Target: wall time at N = 50 at most 2x that at N = 1.

It also prints where the CPU goes (the controller, heatdeploy and paramiko;
the instance side, sshd, the shell and the command) and a floor: the
command alone, run N times at once here without SSH. On a machine whose
few cores also run every local instance, that floor bounds what any SSH
implementation could reach.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from support import CLOUD, local_cloud

from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.plugin.steps import Step, StepContext
from heatdeploy.steps.orchestrator import run_steps
from heatdeploy.testing import BARE, bare_cluster

PAYLOAD = "x" * 1023 + "\n"


def step_set(ctx: StepContext, remote) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        remote.write_file(f"/var/lib/heatdeploy/bench/file{n}", PAYLOAD)
    remote.run(["sha256sum", "/var/lib/heatdeploy/bench/file0", "/var/lib/heatdeploy/bench/file1",
                "/var/lib/heatdeploy/bench/file2"])


def busy_seconds() -> float:
    """CPU time used by the whole machine so far (every process: controller and instances)."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def timed(manager: ClusterManager, spec, size: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    with manager.connect("fanout") as connections:
        instances = list(connections.instances.values())
        assert len(instances) == size, (size, len(instances))
        ctx = StepContext(spec=spec, framework=BARE, instances=instances, targets=instances, connect=connections.get)
        steps = [Step("write-and-run", step_set)]
        start = time.perf_counter()
        run_steps(ctx, steps)
        fresh = time.perf_counter() - start
        start, cpu, busy = time.perf_counter(), time.process_time(), busy_seconds()
        run_steps(ctx, steps)
        connected = time.perf_counter() - start
        controller = time.process_time() - cpu
        print(f"  CPU per instance, connected: controller {1000 * controller / size:.1f} ms, instance side "
              f"{1000 * max(busy_seconds() - busy - controller, 0) / size:.1f} ms")
    return fresh, connected


def command_alone(size: int) -> float:
    """Wall time of just the step set's command, run ``size`` times at once here, without SSH."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, f"file{n}") for n in range(3)]
        for path in paths:
            with open(path, "w") as out:
                out.write(PAYLOAD)
        command = ["sh", "-c", shlex.join(["sha256sum", *paths])]
        start = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda _: subprocess.run(command, capture_output=True, check=True), range(size)))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50")
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    plugins, loaded = bare_cluster("fanout")
    results = {}
    with local_cloud():
        manager = ClusterManager(load_cloud(CLOUD).session, plugins)
        manager.launch(loaded, Options())
        for size in sizes:
            if size != 1:
                manager.scale("fanout", {"node": size})
            results[size] = timed(manager, loaded.spec, size)
            print(f"N={size:>3}: with connection set-up {results[size][0]:.3f} s, "
                  f"connected {results[size][1]:.3f} s", flush=True)
        manager.delete("fanout")
    low, high = min(sizes), max(sizes)
    for label, i in (("with set-up", 0), ("connected", 1)):
        print(f"{label}: N={high} / N={low} = {results[high][i] / results[low][i]:.1f}x (target <= 2x)")
    alone = min(command_alone(high) for _ in range(3))
    print(f"floor: the command alone, {high} times at once on this machine's {os.cpu_count()} cores without SSH, "
          f"takes {alone:.3f} s = {alone / results[low][1]:.1f}x the whole connected step set at N={low}")

if __name__ == "__main__":
    main()
