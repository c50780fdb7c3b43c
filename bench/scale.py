"""A bare cluster launched at 1 instance, scaled to 100 and 200, then deleted, with the time split by phase.

    .venv/bin/python bench/scale.py [--sizes 1,100,200]

For each phase: wall time; Heat's time (its API calls and the wait for the
stack); the configuration steps' time; heatdeploy's own time (the rest:
rendering, records, keys, locks, listing instances); how many requests went
to Heat; and the machine's memory in use once it is over. At each size, the
step set of bench/fanout.py (three 1 KiB files and one command per
instance) runs twice, with fresh SSH connections and connected, with the
controller's CPU per instance.

Targets on a 2-core machine: +100 instances <= 60 s, delete of 200 <= 60 s,
heatdeploy's own time <= 10% of each phase, the step set on 200 <= 2 s with
connection set-up, controller CPU <= 1 ms per instance at 200.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fanout import step_set
from support import CLOUD, local_cloud

import heatdeploy.cluster
from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.plugin.steps import Step, StepContext
from heatdeploy.steps.orchestrator import run_steps
from heatdeploy.testing import BARE, bare_cluster

NAME = "scale"


class Meter:
    """Seconds spent in Heat and in steps, and requests to Heat, since the last ``reset``."""

    def __init__(self) -> None:
        self.heat = self.steps = 0.0
        self.heat_requests = 0

    def reset(self) -> None:
        self.heat = self.steps = 0.0
        self.heat_requests = 0

    def timing(self, field: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(self, field, getattr(self, field) + time.perf_counter() - start)
        return timed

    def counting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.heat_requests += 1
            return function(*args, **kwargs)
        return counted


def instrument(manager: ClusterManager, meter: Meter) -> None:
    stacks = manager.cloud.stacks
    for name in ("find", "all", "create", "update", "delete", "last_event_id", "wait", "failures", "instances"):
        setattr(stacks, name, meter.timing("heat", getattr(stacks, name)))
    client = stacks._client.http_client  # noqa: SLF001 - heatclient's keystoneauth adapter: every Heat request
    client.request = meter.counting(client.request)
    heatdeploy.cluster.run_steps = meter.timing("steps", heatdeploy.cluster.run_steps)  # type: ignore[assignment]


def memory_used_gib() -> float:
    fields = {}
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    return (fields["MemTotal"] - fields["MemAvailable"]) / 2**20


@contextmanager
def phase(meter: Meter, label: str, rows: list[str]) -> Iterator[None]:
    meter.reset()
    start = time.perf_counter()
    yield
    wall = time.perf_counter() - start
    own = wall - meter.heat - meter.steps
    rows.append(f"{label:<18} {wall:7.1f} s  Heat {meter.heat:6.1f} s  steps {meter.steps:5.1f} s  "
                f"heatdeploy {own:5.2f} s ({100 * own / wall:4.1f}%)  Heat requests {meter.heat_requests:4}  "
                f"memory {memory_used_gib():4.1f} GiB")
    print(rows[-1], flush=True)


def step_set_at(manager: ClusterManager, spec: Any, size: int) -> str:
    with manager.connect(NAME) as connections:
        instances = list(connections.instances.values())
        assert len(instances) == size, (size, len(instances))
        ctx = StepContext(spec=spec, framework=BARE, instances=instances, targets=instances, connect=connections.get)
        steps = [Step("write-and-run", step_set)]
        start, cpu = time.perf_counter(), time.process_time()
        run_steps(ctx, steps)
        fresh, fresh_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        run_steps(ctx, steps)
        connected, connected_cpu = time.perf_counter() - start, time.process_time() - cpu
    return (f"step set on {size:>3}: with connection set-up {fresh:.2f} s ({1000 * fresh_cpu / size:.1f} ms "
            f"controller CPU per instance), connected {connected:.2f} s ({1000 * connected_cpu / size:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,200")
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    plugins, loaded = bare_cluster(NAME, sizes[0])
    rows: list[str] = []
    with local_cloud():
        meter = Meter()
        manager = ClusterManager(load_cloud(CLOUD).session, plugins)
        instrument(manager, meter)
        try:
            with phase(meter, f"launch {sizes[0]}", rows):
                manager.launch(loaded, Options())
            rows.append(step_set_at(manager, loaded.spec, sizes[0]))
            for before, size in itertools.pairwise(sizes):
                with phase(meter, f"scale {before} -> {size}", rows):
                    manager.scale(NAME, {"node": size})
                rows.append(step_set_at(manager, loaded.spec, size))
                print(rows[-1], flush=True)
        finally:
            with phase(meter, f"delete {sizes[-1]}", rows):
                manager.delete(NAME)
    print("\n".join(["", *rows]))


if __name__ == "__main__":
    main()
