"""The same small step set on N local instances: N = 1, 10, 50.

    .venv/bin/python bench/fanout.py [--sizes 1,10,50]

The step set writes three 1 KiB files and runs one command on every
instance, through heatdeploy's orchestrator. It is timed twice per N: with
SSH connection set-up (fresh connections, as the first step of an operation
pays) and on already-connected instances (as every later step does).
Target: wall time at N = 50 at most 2x that at N = 1.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

from support import CLOUD, local_cloud

from heatdeploy import Framework, hookimpl, plugins_from
from heatdeploy.auth import load_cloud
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.records import Records
from heatdeploy.spec import parse_spec
from heatdeploy.steps import Step, StepContext, run_steps
from heatdeploy.validation import checks

NODES = Framework(name="nodes", title="Nodes", versions=("1",), processes={"node": "does nothing"})
SPEC = """\
name: fanout
plugin: nodes
version: "1"
image: local
flavor: m1.small
network: private
node_groups:
  - name: node
    count: 1
    processes: [node]
    auto_security_group: false
"""
PAYLOAD = "x" * 1023 + "\n"


def step_set(ctx: StepContext, remote) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        remote.write_file(f"/var/lib/heatdeploy/bench/file{n}", PAYLOAD)
    remote.run(["sha256sum", "/var/lib/heatdeploy/bench/file0", "/var/lib/heatdeploy/bench/file1",
                "/var/lib/heatdeploy/bench/file2"])


def timed(manager: ClusterManager, record, instances) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    spec = manager.spec_of(record)
    connections = manager._connections(record, instances, Options())
    try:
        ctx = StepContext(spec, NODES, instances, instances, connections.get)
        steps = [Step("write-and-run", step_set)]
        start = time.perf_counter()
        run_steps(ctx, steps)
        fresh = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        run_steps(ctx, steps)
        connected = time.perf_counter() - start
        print(f"  controller CPU on connected instances: {1000 * (time.process_time() - cpu) / len(instances):.1f}"
              " ms per instance")
    finally:
        connections.close()
    return fresh, connected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50")
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(NODES)))
    plugins = plugins_from({"nodes": plugin})
    results = {}
    with local_cloud():
        cloud = load_cloud(CLOUD)
        manager = ClusterManager(cloud.session, plugins)
        manager.launch(parse_spec(SPEC, "fanout.yaml", checks(plugins)), Options())
        for size in sizes:
            if size != 1:
                manager.scale("fanout", {"node": size})
            record = Records(cloud.session).load("fanout")
            instances = manager.status("fanout", check_health=False).instances
            assert len(instances) == size, (size, len(instances))
            results[size] = timed(manager, record, instances)
            print(f"N={size:>3}: with connection set-up {results[size][0]:.3f} s, "
                  f"connected {results[size][1]:.3f} s", flush=True)
        manager.delete("fanout")
    low, high = min(sizes), max(sizes)
    for label, i in (("with set-up", 0), ("connected", 1)):
        print(f"{label}: N={high} / N={low} = {results[high][i] / results[low][i]:.1f}x (target <= 2x)")


if __name__ == "__main__":
    main()
