"""Validate and render a 20-node-group Spark spec; print milliseconds per run.

Target: under 50 ms per validate + render, after import.

    .venv/bin/python bench/render.py
"""

from __future__ import annotations

import statistics
import time

from heatdeploy import load_plugins
from heatdeploy.plugin.validation import checks
from heatdeploy.render.renderer import render
from heatdeploy.spec.model import parse_spec

GROUPS = 20
RUNS = 50


def spec_text() -> str:
    groups = ["  - name: master\n    count: 1\n    processes: [master]\n"]
    for i in range(1, GROUPS):
        groups.append(f"  - name: workers{i}\n    count: {i}\n    processes: [worker]\n"
                      f"    volumes: {{count: 2, size: 10}}\n    configs: {{worker_cores: 2}}\n")
    return ("name: bench\nplugin: spark\nversion: \"4.0\"\nimage: img\nflavor: m1.small\n"
            "network: private\nfloating_ip_pool: public\nanti_affinity: [worker]\nnode_groups:\n"
            + "".join(groups))


def main() -> None:
    started = time.perf_counter()
    plugins = load_plugins()
    loaded_ms = (time.perf_counter() - started) * 1000
    text = spec_text()
    framework = plugins.frameworks["spark"]
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        loaded = parse_spec(text, "bench.yaml", checks(plugins))
        rendered = render(loaded.spec, framework, plugins)
        times.append((time.perf_counter() - start) * 1000)
    size = len(rendered.template) + sum(len(t) for t in rendered.files.values())
    print(f"plugins loaded in {loaded_ms:.1f} ms")
    print(f"validate + render, {GROUPS} node groups, {RUNS} runs: "
          f"median {statistics.median(times):.2f} ms, max {max(times):.2f} ms "
          f"(target < 50 ms); output {size / 1024:.0f} KiB in {1 + len(rendered.files)} files")


if __name__ == "__main__":
    main()
