"""The second layer of spec validation: what the spec's framework allows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from heatdeploy.plugin.framework import ConfigOption, Framework
from heatdeploy.plugin.manager import Plugins
from heatdeploy.spec.fields import Scalar
from heatdeploy.spec.model import Checks, ClusterSpec, LoadedSpec, read_spec
from heatdeploy.spec.problems import Problem, allowed, did_you_mean

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def framework_problems(spec: ClusterSpec, plugins: Plugins) -> Iterator[Problem]:
    """Check ``spec`` against its framework plugin and every validating add-on."""
    names = list(name_problems(spec, plugins))
    yield from names
    if not names:  # topology rules would only repeat what is already reported
        yield from rule_problems(spec, plugins)


def name_problems(spec: ClusterSpec, plugins: Plugins) -> Iterator[Problem]:
    """Processes and configs the spec's framework does not know, or of the wrong type or scope.

    These need only the spec's shape, so they are reported even when the
    spec breaks its own rules.
    """
    framework = plugins.framework(spec.plugin)
    if framework is not None:  # else reported by plugin_problems
        yield from _process_problems(spec, framework)
        yield from _config_problems(spec, framework)


def rule_problems(spec: ClusterSpec, plugins: Plugins) -> Iterator[Problem]:
    """The framework's topology rules and every add-on's ``heatdeploy_validate_cluster``."""
    framework = plugins.framework(spec.plugin)
    if framework is not None:
        yield from framework.validate(spec)
        yield from plugins.validate_cluster(spec, framework)


def plugin_problems(raw: dict[str, Any], plugins: Plugins) -> Iterator[Problem]:
    """Whether the spec's plugin is installed and supports its version.

    Works on the raw document so that it is reported alongside any other error.
    """
    name, version = raw.get("plugin"), raw.get("version")
    if not isinstance(name, str):
        return
    framework = plugins.framework(name)
    broken = next((e for e in plugins.errors if e.name == name), None)
    if framework is None and broken is not None:
        yield Problem("plugin", f"plugin {name!r} is installed but failed to load: {broken.error}")
    elif framework is None:
        yield Problem("plugin", f"unknown plugin {name!r}{did_you_mean(name, plugins.frameworks)}"
                      f" (installed: {allowed(plugins.frameworks)})")
    elif isinstance(version, str) and version not in framework.versions:
        yield Problem("version", f"{framework.title} version {version!r} is not supported "
                      f"(supported: {', '.join(framework.versions)})")


def _process_problems(spec: ClusterSpec, framework: Framework) -> Iterator[Problem]:
    known = framework.processes
    for i, group in enumerate(spec.node_groups):
        for j, process in enumerate(group.processes):
            if process not in known:
                yield _unknown(f"node_groups[{i}].processes[{j}]", "process", process, known)
    for j, process in enumerate(spec.anti_affinity):
        if process not in known:
            yield _unknown(f"anti_affinity[{j}]", "process", process, known)


def _config_problems(spec: ClusterSpec, framework: Framework) -> Iterator[Problem]:
    yield from _check_configs(spec.configs, "configs", framework, ("cluster", "node_group"))
    for i, group in enumerate(spec.node_groups):
        yield from _check_configs(group.configs, f"node_groups[{i}].configs", framework, ("node_group",))


def _check_configs(
    configs: dict[str, Scalar], path: str, framework: Framework, scopes: tuple[str, ...]
) -> Iterator[Problem]:
    names = [c.name for c in framework.configs]
    for name, value in configs.items():
        option = framework.config(name)
        here = f"{path}.{name}"
        if option is None:
            yield _unknown(here, f"{framework.title} config", name, names)
        elif option.scope not in scopes:
            yield Problem(here, f"is a {option.scope}-scope config: set it at the top-level configs")
        elif not _type_ok(option, value):
            yield Problem(here, f"must be {_TYPE_NAMES[option.type]}, not {value!r}")
        elif isinstance(value, str) and any(ord(c) < 32 or c == "\x7f" for c in value):
            # Config values end up in configuration files, where a line break adds settings.
            yield Problem(here, "must not contain line breaks or control characters")


def _type_ok(option: ConfigOption, value: Scalar) -> bool:
    if option.type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if option.type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, option.type)


def _unknown(path: str, kind: str, value: str, known: object) -> Problem:
    names = list(known)  # type: ignore[call-overload]
    return Problem(path, f"unknown {kind} {value!r}{did_you_mean(value, names)} (allowed: {allowed(names)})")


def load_and_validate(path: str, plugins: Plugins) -> LoadedSpec:
    """Read a spec and check both layers; raises :class:`~heatdeploy.SpecError`."""
    return read_spec(path, checks(plugins))


def checks(plugins: Plugins) -> Checks:
    """The framework layer of validation, for :func:`~heatdeploy.spec.parse_spec`."""
    return Checks(raw=lambda raw: plugin_problems(raw, plugins),
                  names=lambda spec: name_problems(spec, plugins),
                  spec=lambda spec: rule_problems(spec, plugins))
