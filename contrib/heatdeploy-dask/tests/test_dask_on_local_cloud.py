"""The plugin for real: a Dask cluster on heatdeploy's local cloud launches, runs a job and scales both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import heatdeploy_dask

from heatdeploy import plugins_from

SQUARES = """import sys
from distributed import Client
with Client() as client:  # DASK_SCHEDULER_ADDRESS says where
    print(sum(client.gather(client.map(lambda x: x * x, range(int(sys.argv[1]))))))
"""


def test_launch_run_a_job_and_scale(heatdeploy_cluster: Any, tmp_path: Path) -> None:
    # debian-local is the host's system: its python3 has distributed from Debian (scripts/install-system-deps).
    spec = {"name": "ft-dask", "plugin": "dask", "version": "2022", "image": "debian-local", "flavor": "m1.small",
            "network": "private", "floating_ip_pool": "public",
            "node_groups": [{"name": "scheduler", "count": 1, "processes": ["scheduler"]},
                            {"name": "worker", "count": 2, "processes": ["worker"]}]}
    cluster = heatdeploy_cluster(spec, plugins=plugins_from({"dask": heatdeploy_dask}))
    assert cluster.summary.health.status == "green", cluster.summary.health

    (tmp_path / "squares.py").write_text(SQUARES)
    job = cluster.run_job("python", tmp_path / "squares.py", "10", wait=300)
    assert job.state == "SUCCEEDED", cluster.jobs.logs(job.id)
    assert cluster.jobs.logs(job.id).decode().splitlines()[-1] == "285"

    assert cluster.scale(worker=3).health.checks["dask-workers"].message == "3 of 3 workers registered"
    summary = cluster.scale(remove=["ft-dask-worker-0"], worker=2)
    assert summary.health.checks["dask-workers"].message == "2 of 2 workers registered"
    assert "ft-dask-worker-0" not in {i.name for i in summary.instances}
    assert cluster.delete() == [] and cluster.gone()
