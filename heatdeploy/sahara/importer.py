"""``heatdeploy import sahara``: read Sahara's files, convert what they describe, write and check the specs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from heatdeploy.plugin.manager import Plugins
from heatdeploy.plugin.validation import checks
from heatdeploy.sahara.convert import Converted, Overrides, convert
from heatdeploy.sahara.mapping import Note
from heatdeploy.sahara.scenario import ScenarioCluster, scenario_clusters
from heatdeploy.sahara.sources import Source, read_source
from heatdeploy.sahara.templates import clusters_from_templates
from heatdeploy.spec.model import LoadedSpec, parse_spec
from heatdeploy.spec.problems import LocatedProblem, SpecError


@dataclass
class Imported:
    """What a set of Sahara files converts to: specs from templates, and scenario clusters with their flows."""

    specs: list[Converted]
    scenarios: list[ScenarioCluster]

    @property
    def all(self) -> list[Converted]:
        return self.specs + [s.converted for s in self.scenarios]


def read_sources(paths: list[str], variables: Mapping[str, str]) -> list[Source]:
    """Every file read and rendered; the problems of all of them at once (exit 2)."""
    sources: list[Source] = []
    problems: list[LocatedProblem] = []
    for path in paths:
        try:
            sources.append(read_source(path, variables))
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return sources


def import_files(paths: list[str], variables: Mapping[str, str], plugins: Plugins,
                 overrides: Overrides | None = None) -> Imported:
    """Convert Sahara templates and sahara-tests scenarios; :class:`SpecError` (exit 2) when they cannot be."""
    sources = read_sources(paths, variables)
    overrides = overrides or Overrides()
    specs = [convert(cluster, plugins, overrides) for cluster in clusters_from_templates(sources)]
    scenarios = scenario_clusters(sources, plugins, overrides)
    imported = Imported(specs, scenarios)
    if not imported.all:
        raise SpecError([LocatedProblem(paths[0], 1, "", "no cluster to convert: give a cluster template (with "
                                        "its node group templates) or a scenario with clusters")])
    names = [c.name for c in imported.all]
    for converted in imported.all:
        if names.count(converted.name) > 1:
            raise SpecError([LocatedProblem(converted.file, 1, "", f"two clusters would be named {converted.name!r}: "
                                            "give them distinct names")])
    for scenario in scenarios:
        scenario.converted.notes += plan_notes(scenario)
    return imported


def plan_notes(scenario: ScenarioCluster) -> list[Note]:
    """One note per EDP job that will be skipped or changed, for ``import`` to show before any run."""
    notes = []
    seen: set[str] = set()
    for step in scenario.steps:
        for job in step.jobs:
            if job.name in seen:
                continue
            seen.add(job.name)
            for line in ([f"skipped: {job.skip}"] if job.skip else job.notes):
                notes.append(Note(*job.at, f"EDP job {job.name} ({job.sahara_type}): {line}"))
    return notes


def spec_text(converted: Converted) -> str:
    """The spec as YAML, dumped from data."""
    return yaml.safe_dump(converted.spec, sort_keys=False, default_flow_style=False, allow_unicode=True)


def load_converted(converted: Converted, plugins: Plugins, file: str | None = None) -> LoadedSpec:
    """Validate a converted spec as ``heatdeploy validate`` would; :class:`SpecError` locates problems in it."""
    return parse_spec(spec_text(converted), file or f"{converted.name}.yaml", checks(plugins))


def write_specs(imported: Imported, folder: Path, plugins: Plugins) -> list[Path]:
    """Write each spec as ``NAME.yaml`` in ``folder``, then validate them all (problems: exit 2, files kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[LocatedProblem] = []
    for converted in imported.all:
        path = folder / f"{converted.name}.yaml"
        path.write_text(spec_text(converted))
        written.append(path)
        try:
            load_converted(converted, plugins, str(path))
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return written
