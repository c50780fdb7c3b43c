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
    try:
        sources = read_sources(paths, variables)
        overrides = overrides or Overrides()
        specs = [convert(cluster, plugins, overrides) for cluster in clusters_from_templates(sources)]
        scenarios = scenario_clusters(sources, plugins, overrides)
    except (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError) as exc:
        # A field of a shape the readers do not check (a number where a list goes, JSON nested past
        # Python's limit): bad input all the same, never an internal error.
        where = paths[0] if len(paths) == 1 else f"{paths[0]} (or {', '.join(paths[1:])})"
        raise SpecError([LocatedProblem(where, 1, "", "a field has a value of a type or shape Sahara's formats do "
                                        f"not have ({type(exc).__name__}: {str(exc)[:200]}); see docs/sahara.md")])\
            from None
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


def write_specs(imported: Imported, folder: Path, plugins: Plugins, force: bool = False) -> list[Path]:
    """Validate every spec, then write each as ``NAME.yaml`` in ``folder``; nothing is written when any is
    invalid (:class:`SpecError`, exit 2), and an existing file is replaced only with ``force``."""
    paths = [folder / f"{converted.name}.yaml" for converted in imported.all]
    problems: list[LocatedProblem] = []
    for converted, path in zip(imported.all, paths, strict=True):
        try:
            load_converted(converted, plugins, str(path))
        except SpecError as exc:
            problems += exc.problems
        if path.exists() and not force:  # it may be one of the inputs
            problems.append(LocatedProblem(str(path), 1, "", "exists already: choose another folder with -o, or "
                                           "replace it with --force"))
    if problems:
        raise SpecError(problems)
    folder.mkdir(parents=True, exist_ok=True)
    for converted, path in zip(imported.all, paths, strict=True):
        path.write_text(spec_text(converted))
    return paths
