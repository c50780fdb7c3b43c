"""Test doubles for plugin authors and embedding services: no cloud and no SSH needed.

- Steps: :func:`make_cluster` gives a step context over fake instances whose
  :class:`RecordingRemote`\\ s log what steps do; :func:`run_operation` runs
  a framework's steps through the real orchestrator. Fake instances pass
  the image check; answer :func:`image_check_command` to act out an image
  that lacks something.
- Job engines: :func:`make_job_context` gives a job context over the same
  fake instances, :func:`make_job` a record to hand the engine.
- The lifecycle: :class:`FakeCloud` (Heat, Swift, trusts in memory) and
  :class:`FakeInstances` (a connector of recording remotes) let a
  :class:`~heatdeploy.ClusterManager` or :class:`~heatdeploy.JobManager`
  launch, scale, delete and run jobs in a unit test.
- A real cloud: :func:`bare_cluster` gives a spec of plain instances;
  :class:`LaunchedCluster` is what the ``heatdeploy_cluster`` pytest
  fixture returns.
"""

# The image check's exact command, so that a test can answer it as an image lacking something would.
from heatdeploy.steps.common import image_check_command
from heatdeploy.testing.cloud import FakeCloud, FakeInstances, FakeObjectStore, FakeRecords, FakeStacks
from heatdeploy.testing.clusters import (
                                         BARE,
                                         RecordingContext,
                                         bare_cluster,
                                         fake_instances,
                                         make_cluster,
                                         operation_steps,
                                         parse_test_spec,
                                         run_operation,
)
from heatdeploy.testing.jobs import RecordingJobContext, make_job, make_job_context
from heatdeploy.testing.launched import LaunchedCluster, SpecSource, load_test_spec
from heatdeploy.testing.remotes import CommandReply, Entry, HttpReply, Recorder, RecordingRemote, Responses

__all__ = [
    "BARE", "CommandReply", "Entry", "FakeCloud", "FakeInstances", "FakeObjectStore", "FakeRecords",
    "FakeStacks", "HttpReply", "LaunchedCluster", "Recorder", "RecordingContext", "RecordingJobContext",
    "RecordingRemote", "Responses", "SpecSource", "bare_cluster", "fake_instances", "image_check_command",
    "load_test_spec", "make_cluster", "make_job", "make_job_context", "operation_steps", "parse_test_spec",
    "run_operation",
]
