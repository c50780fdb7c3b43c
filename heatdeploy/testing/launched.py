"""A cluster launched for a test on a real cloud, and what a test does with it: the handle the
``heatdeploy_cluster`` fixture returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from heatdeploy.jobs.spec import JobSpec
from heatdeploy.plugin.manager import Plugins
from heatdeploy.plugin.remote import Result
from heatdeploy.plugin.validation import checks, load_and_validate
from heatdeploy.spec.model import LoadedSpec, parse_spec

if TYPE_CHECKING:
    from heatdeploy.cluster import ClusterManager, Options, Summary
    from heatdeploy.jobs.manager import JobManager
    from heatdeploy.plugin.jobs import JobRecord

SpecSource = str | Path | Mapping[str, Any]
"""A spec file's path, a spec's YAML text (anything with a line break), or the spec as a dict."""


def load_test_spec(source: SpecSource, plugins: Plugins) -> LoadedSpec:
    """Validate a spec given as a path, YAML text or a dict; :class:`~heatdeploy.SpecError` if it is bad."""
    if isinstance(source, Mapping):
        return parse_spec(yaml.safe_dump(dict(source)), f"{source.get('name', 'spec')}.yaml", checks(plugins))
    if isinstance(source, str) and "\n" in source:
        return parse_spec(source, "spec.yaml", checks(plugins))
    return load_and_validate(str(source), plugins)


class LaunchedCluster:
    """A running cluster: its latest :attr:`summary`, its :attr:`manager`, and shortcuts for tests."""

    def __init__(self, manager: ClusterManager, summary: Summary) -> None:
        self.manager = manager
        self.summary = summary
        self.name = summary.name

    @property
    def jobs(self) -> JobManager:
        """A job manager for the cluster's project."""
        from heatdeploy.jobs.manager import JobManager

        return JobManager(self.manager)

    def refresh(self, options: Options | None = None) -> Summary:
        """Read the cluster again, health checks included; also kept in :attr:`summary`."""
        from heatdeploy.cluster import Options

        self.summary = self.manager.status(self.name, options or Options())
        return self.summary

    def scale(self, remove: Sequence[str] = (), **counts: int) -> Summary:
        """Resize node groups (``scale(worker=3)``), removing the instances in ``remove`` first;
        returns the new summary, health included."""
        self.manager.scale(self.name, counts, remove)
        return self.refresh()

    def run_job(self, type: str, binary: str | Path, *args: str, wait: float | None = 600,
                **fields: Any) -> JobRecord:
        """Run a job (``JobSpec`` fields as keywords: ``inputs``, ``outputs``, ``conf``, ``main_class``)
        and, unless ``wait`` is None, wait up to ``wait`` seconds for it to end; returns its record."""
        record = self.jobs.run(self.name, JobSpec(type=type, binary=str(binary), args=list(args), **fields))
        return self.jobs.wait(record.id, wait) if wait is not None else record

    def delete(self) -> list[str]:
        """Delete the cluster now (stack, trusts, record, key); returns what could not be deleted.
        The fixture then has nothing left to delete."""
        return self.manager.delete(self.name)

    def gone(self) -> bool:
        """Whether nothing of the cluster is left in the cloud: no stack, no record."""
        cloud = self.manager.cloud
        return cloud.stacks.find(self.name) is None and cloud.records.load(self.name) is None

    def ssh(self, instance: str, command: Sequence[str] | str, check: bool = True) -> Result:
        """Run ``command`` (an argv list, or shell text) on ``instance``, over the cluster's own SSH."""
        with self.manager.connect(self.name) as connections:
            return connections.remote(instance).run(command, check=check)
