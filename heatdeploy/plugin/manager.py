"""Finding, loading and calling heatdeploy plugins.

Plugins come from the ``heatdeploy`` entry point group; the built-in Spark and
Hadoop plugins are registered there like any third party's, in entry point
name order. A plugin that fails to import, implements an unknown hook or
fails while registering its frameworks is recorded as a :class:`LoadError`
and skipped, so one broken package never takes the tool down;
``HEATDEPLOY_STRICT_PLUGINS=1`` turns such errors into exceptions instead
(useful in a plugin's own CI). ``HEATDEPLOY_LOAD_PLUGINS=a,b`` loads only the
named entry points (an empty value loads none).

Every hook is called through pluggy's relay (``manager.hook.NAME``), so
``firstresult``, ``tryfirst``/``trylast`` and wrappers behave as pluggy
documents: implementations run last registered first, that is in reverse
name order unless they ask otherwise. :class:`Plugins` is the typed facade
over the relay: one method per hook, and the only place that names hooks.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin import hookspecs
from heatdeploy.plugin.framework import Framework, Operation
from heatdeploy.plugin.steps import Step
from heatdeploy.plugin.template_parts import SecurityRule, TemplatePart, UserDataPart
from heatdeploy.spec.problems import Problem

if TYPE_CHECKING:
    from heatdeploy.plugin.jobs import JobEngine
    from heatdeploy.spec.model import ClusterSpec, NodeGroup

ENTRY_POINT_GROUP = "heatdeploy"
hookimpl = pluggy.HookimplMarker("heatdeploy")
"""Marks a function as the implementation of the hook it is named after."""

T = TypeVar("T")


class PluginError(HeatdeployError):
    """A plugin failed: while loading (strict mode only) or in a hook call; names the plugin."""

    def __init__(self, plugin: str, what: str, error: BaseException | str) -> None:
        self.plugin = plugin
        detail = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        super().__init__(f"plugin {plugin!r} failed {what}: {detail}")


@dataclass(frozen=True)
class LoadError:
    """A plugin that could not be used, and why."""

    name: str
    package: str | None
    error: str


@dataclass
class PluginInfo:
    """What ``heatdeploy plugins`` shows about a loaded plugin."""

    name: str
    package: str | None
    version: str | None
    hooks: list[str]
    frameworks: dict[str, list[str]] = field(default_factory=dict)


class Plugins:
    """The loaded plugins, the frameworks they registered, what failed, and their hooks.

    Call hooks through the methods named after them (without the
    ``heatdeploy_`` prefix); each returns plain typed results, and a failing
    implementation raises :class:`PluginError` naming its plugin.
    """

    def __init__(self, manager: pluggy.PluginManager, strict: bool = False) -> None:
        self.manager = manager
        self.strict = strict
        self.info: list[PluginInfo] = []
        self.errors: list[LoadError] = []
        self.frameworks: dict[str, Framework] = {}
        self._registering: list[Framework] | None = None
        # A historic hook: pluggy calls each plugin's implementation as the plugin is registered.
        manager.hook.heatdeploy_register_frameworks.call_historic(kwargs={"register": self._register})

    # -- loading -----------------------------------------------------------------------------------------------

    def add(self, name: str, plugin: Any, package: str | None = None, version: str | None = None) -> None:
        """Register a plugin object (a module, usually) and the frameworks it provides."""
        self._registering = []
        try:
            self.manager.register(plugin, name=name)
            self.manager.check_pending()  # only this plugin can fail: the earlier ones passed already
        except pluggy.PluginValidationError as exc:
            self._reject(name, plugin, package, self._invalid(plugin, exc))
            return
        except Exception as exc:  # raised by the plugin's heatdeploy_register_frameworks
            self._reject(name, plugin, package, f"{type(exc).__name__}: {exc}")
            return
        finally:
            found, self._registering = self._registering, None
        info = PluginInfo(name, package, version, sorted(c.name for c in self.manager.get_hookcallers(plugin) or ()))
        for fw in found:
            self.frameworks[fw.name] = fw
            info.frameworks[fw.name] = list(fw.versions)
        self.info.append(info)

    def _register(self, framework: Framework) -> None:
        """The ``register`` callable handed to ``heatdeploy_register_frameworks``."""
        if self._registering is None:
            raise RuntimeError("register() may only be called from heatdeploy_register_frameworks")
        if not isinstance(framework, Framework):
            raise TypeError(f"register() takes a Framework, got {type(framework).__name__}")
        if framework.name in self.frameworks or any(f.name == framework.name for f in self._registering):
            raise ValueError(f"framework {framework.name!r} is already registered")
        self._registering.append(framework)

    def _invalid(self, plugin: Any, exc: pluggy.PluginValidationError) -> str:
        unknown = sorted(c.name for c in self.manager.get_hookcallers(plugin) or () if c.spec is None)
        return f"unknown hook(s): {', '.join(unknown)}" if unknown else f"{type(exc).__name__}: {exc}"

    def _reject(self, name: str, plugin: Any, package: str | None, error: str) -> None:
        if self.manager.get_plugin(name) is plugin:  # not another plugin that holds the name already
            self.manager.unregister(name=name)
        self._fail(LoadError(name, package, error))

    def _fail(self, error: LoadError) -> None:
        if self.strict:
            raise PluginError(error.name, "to load", error.error)
        self.errors.append(error)

    def framework(self, name: str) -> Framework | None:
        """The framework registered under ``name``, if any."""
        return self.frameworks.get(name)

    # -- the hooks, one method each ----------------------------------------------------------------------------

    def validate_cluster(self, spec: ClusterSpec, framework: Framework) -> list[Problem]:
        """Every add-on's extra problems with ``spec`` (``heatdeploy_validate_cluster``)."""
        with self._calling("heatdeploy_validate_cluster"):
            results = self.manager.hook.heatdeploy_validate_cluster(spec=spec, framework=framework)
            problems = [p for result in results for p in result]
        return self._checked("heatdeploy_validate_cluster", problems, Problem)

    def security_group_rules(self, spec: ClusterSpec, node_group: NodeGroup,
                             framework: Framework) -> list[SecurityRule]:
        """Extra ingress rules for ``node_group`` (``heatdeploy_security_group_rules``)."""
        with self._calling("heatdeploy_security_group_rules"):
            results = self.manager.hook.heatdeploy_security_group_rules(
                spec=spec, node_group=node_group, framework=framework)
            rules = [rule for result in results for rule in result]
        return self._checked("heatdeploy_security_group_rules", rules, SecurityRule)

    def user_data(self, spec: ClusterSpec, node_group: NodeGroup, framework: Framework) -> list[UserDataPart]:
        """First-boot files and commands for ``node_group`` (``heatdeploy_user_data``)."""
        with self._calling("heatdeploy_user_data"):
            parts = self.manager.hook.heatdeploy_user_data(spec=spec, node_group=node_group, framework=framework)
        return self._checked("heatdeploy_user_data", parts, UserDataPart)

    def template_parts(self, spec: ClusterSpec, framework: Framework) -> list[TemplatePart]:
        """Extra parameters, resources and outputs for the main template (``heatdeploy_template_parts``)."""
        with self._calling("heatdeploy_template_parts"):
            parts = self.manager.hook.heatdeploy_template_parts(spec=spec, framework=framework)
        return self._checked("heatdeploy_template_parts", parts, TemplatePart)

    def cluster_steps(self, spec: ClusterSpec, framework: Framework, operation: Operation) -> list[Step]:
        """Every add-on's extra steps for ``operation`` (``heatdeploy_cluster_steps``)."""
        with self._calling("heatdeploy_cluster_steps"):
            results = self.manager.hook.heatdeploy_cluster_steps(spec=spec, framework=framework,
                                                                 operation=operation)
            steps = [step for result in results for step in result]
        return self._checked("heatdeploy_cluster_steps", steps, Step)

    def job_engine(self, framework: Framework) -> JobEngine | None:
        """The job engine for clusters of ``framework``: the first one offered (``heatdeploy_job_engine``)."""
        with self._calling("heatdeploy_job_engine"):
            engine: JobEngine | None = self.manager.hook.heatdeploy_job_engine(framework=framework)
        return engine

    # -- calling ----------------------------------------------------------------------------------------------

    def implementers(self, hook: str) -> list[str]:
        """The names of the plugins implementing ``hook``, in name order."""
        return sorted(impl.plugin_name for impl in getattr(self.manager.hook, hook).get_hookimpls())

    @contextmanager
    def _calling(self, hook: str) -> Iterator[None]:
        """Turn a failure inside a hook implementation into a :class:`PluginError` naming its plugin."""
        try:
            yield
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(self._culprit(hook, exc), f"in {hook}", exc) from exc

    def _culprit(self, hook: str, exc: BaseException) -> str:
        """The plugin whose implementation of ``hook`` the traceback passes through first.

        pluggy runs implementations one after another in one frame, so the
        first frame running an implementation's code is the one at fault.
        """
        owners: dict[Any, str] = {}
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            code = getattr(inspect.unwrap(impl.function), "__code__", None)
            if code is not None:
                owners[code] = impl.plugin_name
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code in owners:
                return owners[tb.tb_frame.f_code]
            tb = tb.tb_next
        return " or ".join(self.implementers(hook)) or "unknown"

    def _checked(self, hook: str, results: Iterable[Any], kind: type[T]) -> list[T]:
        items = list(results)
        wrong = next((item for item in items if not isinstance(item, kind)), None)
        if wrong is not None:
            raise PluginError(" or ".join(self.implementers(hook)), f"in {hook}",
                              f"returned {type(wrong).__name__}, not {kind.__name__}")
        return items


def new_manager() -> pluggy.PluginManager:
    """A pluggy manager that knows heatdeploy's hooks."""
    manager = pluggy.PluginManager("heatdeploy")
    manager.add_hookspecs(hookspecs)
    return manager


def _selected(environ: Mapping[str, str]) -> set[str] | None:
    raw = environ.get("HEATDEPLOY_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_plugins(environ: Mapping[str, str] | None = None) -> Plugins:
    """Load every plugin from the ``heatdeploy`` entry point group, in name order."""
    environ = os.environ if environ is None else environ
    plugins = Plugins(new_manager(), strict=environ.get("HEATDEPLOY_STRICT_PLUGINS") == "1")
    selected = _selected(environ)
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(entry_points, key=lambda e: e.name):
        if selected is not None and ep.name not in selected:
            continue
        dist = ep.dist
        package, version = (dist.name, dist.version) if dist else (None, None)
        try:
            module = ep.load()
        except Exception as exc:
            plugins._fail(LoadError(ep.name, package, f"{type(exc).__name__}: {exc}"))
            continue
        plugins.add(ep.name, module, package, version)
    for name in sorted((selected or set()) - {ep.name for ep in entry_points}):
        installed = ", ".join(sorted(ep.name for ep in entry_points)) or "none"
        plugins._fail(LoadError(name, None, f"HEATDEPLOY_LOAD_PLUGINS names it, but no installed package "
                                            f"provides it (installed: {installed})"))
    return plugins


def plugins_from(objects: Mapping[str, Any], strict: bool = True) -> Plugins:
    """Plugins made from the given objects only, in the given order: for tests and embedding services."""
    plugins = Plugins(new_manager(), strict=strict)
    for name, plugin in objects.items():
        plugins.add(name, plugin)
    return plugins

