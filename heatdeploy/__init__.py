"""heatdeploy: data-processing clusters on OpenStack Heat.

Everything a plugin author or an embedding service uses is importable from
here; the subpackages are the stages of the flow (see the README's
Architecture section). The lifecycle and job managers pull in the cloud
and SSH libraries, so they are imported on first use: ``validate`` and
plugin loading stay quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from heatdeploy.errors import ExitStatus, HeatdeployError
from heatdeploy.events import Event, EventSink
from heatdeploy.jobs.spec import JobSpec, read_job_file
from heatdeploy.plugin.context import ClusterContext
from heatdeploy.plugin.daemons import Daemon, DaemonDied
from heatdeploy.plugin.facts import FactError
from heatdeploy.plugin.files import env_file
from heatdeploy.plugin.framework import ConfigOption, Framework, Operation, at_least, at_most, exactly_one
from heatdeploy.plugin.health import Health, HealthCheck
from heatdeploy.plugin.image import ImageRequirements
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.job_process import DriverJobEngine, JobProcess
from heatdeploy.plugin.jobs import JobContext, JobEngine, JobRecord
from heatdeploy.plugin.jobs import State as JobState
from heatdeploy.plugin.manager import PluginError, Plugins, hookimpl, load_plugins, plugins_from
from heatdeploy.plugin.readiness import by_address, http_json, members_health, wait_for_http, wait_for_members
from heatdeploy.plugin.remote import Remote, RemoteError, Result
from heatdeploy.plugin.steps import DeadlineExceeded, Step, StepContext
from heatdeploy.plugin.template_parts import File, SecurityRule, TemplatePart, UserDataPart
from heatdeploy.plugin.validation import framework_problems, load_and_validate
from heatdeploy.render.renderer import Rendered, RenderError
from heatdeploy.spec.model import ClusterSpec, LoadedSpec, NodeGroup, Volumes, parse_spec, read_spec
from heatdeploy.spec.problems import LocatedProblem, Problem, SpecError
from heatdeploy.steps.orchestrator import StepsFailed, run_steps

if TYPE_CHECKING:
    from heatdeploy.cloud.auth import load_cloud
    from heatdeploy.cluster import ClusterError, ClusterManager, Options, Summary
    from heatdeploy.jobs.manager import JobError, JobManager, run_transient

_LAZY = {
    "ClusterError": "heatdeploy.cluster", "ClusterManager": "heatdeploy.cluster",
    "Options": "heatdeploy.cluster", "Summary": "heatdeploy.cluster",
    "JobError": "heatdeploy.jobs.manager", "JobManager": "heatdeploy.jobs.manager",
    "run_transient": "heatdeploy.jobs.manager", "load_cloud": "heatdeploy.cloud.auth",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'heatdeploy' has no attribute {name!r}")


__all__ = [
    "ClusterContext", "ClusterError", "ClusterManager", "ClusterSpec", "ConfigOption", "Daemon", "DaemonDied",
    "DeadlineExceeded", "DriverJobEngine", "Event", "EventSink", "ExitStatus", "FactError", "File", "Framework",
    "Health", "HealthCheck", "HeatdeployError", "ImageRequirements", "Instance", "JobContext", "JobEngine",
    "JobError", "JobManager", "JobProcess", "JobRecord", "JobSpec", "JobState", "LoadedSpec", "LocatedProblem",
    "NodeGroup", "Operation", "Options", "PluginError", "Plugins", "Problem", "Remote", "RemoteError", "RenderError",
    "Rendered", "Result", "SecurityRule", "SpecError", "Step", "StepContext", "StepsFailed", "Summary",
    "TemplatePart", "UserDataPart", "Volumes", "at_least", "at_most", "by_address", "env_file", "exactly_one",
    "framework_problems", "hookimpl", "http_json", "load_and_validate", "load_cloud", "load_plugins",
    "members_health", "parse_spec", "plugins_from", "read_job_file", "read_spec", "run_steps", "run_transient",
    "wait_for_http", "wait_for_members",
]
