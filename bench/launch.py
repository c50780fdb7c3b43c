"""Time to a ready 3-node Spark cluster on the local cloud, split by where it goes.

    .venv/bin/python bench/launch.py [--runs 3]

Heat stack time runs from the stack create call until Heat reports
CREATE_COMPLETE (servers booted and reported in); step time is the
configuration over SSH (common steps and Spark's); heatdeploy's own overhead
is the rest (validation, rendering, key, trust, records, outputs).
Target: overhead <= 10% of the total.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from support import CLOUD, TRUSTEE, local_cloud

from heatdeploy import load_and_validate, load_plugins
from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.events import Event

SPEC = Path(__file__).resolve().parents[1] / "examples" / "spark.yaml"


class Clock:
    """Marks when the launch's phases begin."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        if event.kind != "phase":
            return
        for prefix, mark in (("creating stack", "stack"), ("running", "steps"), ("cluster", "ready")):
            if event.message.startswith(prefix):
                self.marks.setdefault(mark, time.perf_counter())


def launch_once() -> dict[str, float]:
    clock = Clock()
    start = time.perf_counter()
    plugins = load_plugins()
    loaded = load_and_validate(str(SPEC), plugins)
    cloud = load_cloud(CLOUD)
    manager = ClusterManager(cloud.session, plugins, trustee_cloud=TRUSTEE, on_event=clock)
    manager.launch(loaded, Options())
    end = time.perf_counter()
    manager.delete(loaded.spec.name)
    total = end - start
    heat = clock.marks["steps"] - clock.marks["stack"]
    steps = clock.marks["ready"] - clock.marks["steps"]
    return {"total": total, "heat": heat, "steps": steps, "overhead": total - heat - steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with local_cloud():
        runs = [launch_once() for _ in range(args.runs)]
    for i, run in enumerate(runs, 1):
        print(f"run {i}: total {run['total']:.1f} s = Heat stack {run['heat']:.1f} s + steps {run['steps']:.1f} s"
              f" + heatdeploy overhead {run['overhead']:.1f} s ({100 * run['overhead'] / run['total']:.0f}%)")
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"median: total {median['total']:.1f} s, Heat {median['heat']:.1f} s, steps {median['steps']:.1f} s, "
          f"overhead {median['overhead']:.1f} s ({100 * median['overhead'] / median['total']:.0f}%, "
          "target <= 10%)")


if __name__ == "__main__":
    main()
