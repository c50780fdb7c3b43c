"""Finding, loading and calling heatdeploy plugins.

Plugins come from the ``heatdeploy`` entry point group; the built-in Spark and
Hadoop plugins are registered there like any third party's.  A plugin that
fails to import, implements an unknown hook or fails while registering its
frameworks is recorded as a :class:`LoadError` and skipped, so one broken
package never takes the tool down; ``HEATDEPLOY_STRICT_PLUGINS=1`` turns such
errors into exceptions instead (useful in a plugin's own CI).
``HEATDEPLOY_LOAD_PLUGINS=a,b`` loads only the named entry points (an empty
value loads none).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from heatdeploy import hookspecs
from heatdeploy.framework import Framework

ENTRY_POINT_GROUP = "heatdeploy"
hookimpl = pluggy.HookimplMarker("heatdeploy")


class PluginError(Exception):
    """A plugin failed: while loading (strict mode only) or in a hook call."""

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


@dataclass
class Plugins:
    """The loaded plugins, the frameworks they registered, and what failed."""

    manager: pluggy.PluginManager
    info: list[PluginInfo] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    frameworks: dict[str, Framework] = field(default_factory=dict)
    strict: bool = False

    def framework(self, name: str) -> Framework | None:
        return self.frameworks.get(name)

    def add(self, name: str, plugin: Any, package: str | None = None,
            version: str | None = None) -> None:
        """Register a plugin object (a module, usually) and the frameworks it provides."""
        try:
            self.manager.register(plugin, name=name)
        except Exception as exc:  # pluggy rejects malformed hook implementations
            self._fail(LoadError(name, package, f"{type(exc).__name__}: {exc}"))
            return
        unknown = [c.name for c in self.manager.get_hookcallers(plugin) or () if c.spec is None]
        if unknown:
            self.manager.unregister(plugin)
            self._fail(LoadError(name, package, f"unknown hook(s): {', '.join(unknown)}"))
            return
        hooks = sorted(c.name for c in self.manager.get_hookcallers(plugin) or ())
        info = PluginInfo(name, package, version, hooks)
        if self._register_frameworks(plugin, info):
            self.info.append(info)

    def _register_frameworks(self, plugin: Any, info: PluginInfo) -> bool:
        found: list[Framework] = []
        impl = getattr(plugin, "heatdeploy_register_frameworks", None)
        try:
            if impl is not None:
                impl(register=found.append)
            for fw in found:
                if not isinstance(fw, Framework):
                    raise TypeError(f"register() takes a Framework, got {type(fw).__name__}")
                if fw.name in self.frameworks:
                    raise ValueError(f"framework {fw.name!r} is already registered")
        except Exception as exc:
            self.manager.unregister(plugin)
            self._fail(LoadError(info.name, info.package, f"{type(exc).__name__}: {exc}"))
            return False
        for fw in found:
            self.frameworks[fw.name] = fw
            info.frameworks[fw.name] = list(fw.versions)
        return True

    def _fail(self, error: LoadError) -> None:
        if self.strict:
            raise PluginError(error.name, "to load", error.error)
        self.errors.append(error)

    def call(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call every implementation of ``hook``; yield ``(plugin name, result)``.

        Unlike a plain pluggy call, a failure names the plugin at fault.
        ``None`` results are skipped.
        """
        caller = getattr(self.manager.hook, hook)
        # Sorted by plugin name so that output does not depend on install order.
        for impl in sorted(caller.get_hookimpls(), key=lambda i: i.plugin_name):
            args = {k: kwargs[k] for k in impl.argnames}
            try:
                result = impl.function(**args)
            except Exception as exc:
                raise PluginError(impl.plugin_name, f"in {hook}", exc) from exc
            if result is not None:
                yield impl.plugin_name, result


def new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("heatdeploy")
    manager.add_hookspecs(hookspecs)
    return manager


def _selected(environ: Mapping[str, str]) -> set[str] | None:
    raw = environ.get("HEATDEPLOY_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_plugins(environ: Mapping[str, str] | None = None) -> Plugins:
    """Load every plugin from the ``heatdeploy`` entry point group."""
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
    return plugins


def plugins_from(objects: Mapping[str, Any], strict: bool = True) -> Plugins:
    """Plugins made from the given objects only: for tests and embedding services."""
    plugins = Plugins(new_manager(), strict=strict)
    for name, plugin in objects.items():
        plugins.add(name, plugin)
    return plugins
