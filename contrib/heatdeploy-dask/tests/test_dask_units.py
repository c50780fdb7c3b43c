"""The plugin's steps and job engine through heatdeploy's recording doubles: no cloud needed."""

from __future__ import annotations

import pytest
from heatdeploy_dask import DASK, DaskJobs

from heatdeploy import StepsFailed
from heatdeploy.testing import Responses, make_cluster, make_job, make_job_context, run_operation

SPEC = """
name: demo
plugin: dask
version: "2026"
image: debian-local
flavor: m1.small
network: private
node_groups:
  - {name: scheduler, count: 1, processes: [scheduler]}
  - {name: worker, count: 2, processes: [worker]}
"""
WORKERS = {"tcp://10.0.1.10:8788": {}, "tcp://10.0.1.11:8788": {}}
SCHEDULER_UP = Responses(http={(8787, "/health"): (200, b"ok"), (8787, "/json/identity.json"): {"workers": WORKERS}})


def test_launch_starts_the_scheduler_then_the_workers_and_waits_for_both() -> None:
    ctx = make_cluster(SPEC, DASK, responses=SCHEDULER_UP)
    run_operation(DASK, "launch", ctx)
    start = ctx.recorder.commands("demo-worker-1")[-1]
    assert start[4] == "start" and start[9:] == [
        "python3", "-m", "distributed.cli.dask_worker", "tcp://10.0.0.10:8786", "--host", "10.0.1.11",
        "--worker-port", "8788", "--nanny-port", "8789", "--name", "demo-worker-1", "--nthreads", "1"]
    waits = [e[1] for e in ctx.recorder.entries() if e[0] == "wait"]
    assert waits == ["the Dask scheduler answers", "every Dask worker registered with tcp://10.0.0.10:8786"]


def test_a_worker_that_never_registers_is_named() -> None:
    only_one = Responses(http={(8787, "/health"): (200, b"ok"),
                               (8787, "/json/identity.json"): {"workers": {"tcp://10.0.1.10:8788": {}}}})
    ctx = make_cluster(SPEC, DASK, responses=only_one)
    with pytest.raises(StepsFailed, match="still missing demo-worker-1"):
        run_operation(DASK, "launch", ctx)


def test_python_jobs_run_on_the_scheduler_connected_to_it() -> None:
    ctx = make_job_context(SPEC, DASK, responses=Responses(commands={"sh -c": "running"}))
    job = make_job("python")
    DaskJobs().start(ctx, job, "/var/lib/heatdeploy/jobs/job-1/job.py", ["x"])
    command = ctx.recorder.commands("demo-scheduler-0")[-1]
    assert command[-4:] == ["DASK_SCHEDULER_ADDRESS=tcp://10.0.0.10:8786", "python3",
                            "/var/lib/heatdeploy/jobs/job-1/job.py", "x"]
    assert DaskJobs().status(ctx, job) == ("RUNNING", "driver running")
