"""Shared helpers for unit tests: built-in plugins and specs built from text."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace
from typing import Any

import yaml

from heatdeploy import Framework, Plugins, hookimpl, plugins_from
from heatdeploy.plugin.validation import checks
from heatdeploy.plugins import hadoop, spark
from heatdeploy.render.renderer import Rendered, render
from heatdeploy.spec.model import LoadedSpec, parse_spec
from heatdeploy.testing import RecordingContext

SPARK_SPEC = """\
name: demo
plugin: spark
version: "4.0"
image: debian-local
flavor: m1.small
network: private
node_groups:
  - name: master
    count: 1
    processes: [master]
  - name: worker
    count: 2
    processes: [worker]
"""


HADOOP_SPEC = """\
name: hd
plugin: hadoop
version: "3.4"
image: hadoop
flavor: m1.large
network: private
node_groups:
  - name: master
    count: 1
    processes: [namenode, resourcemanager]
  - name: worker
    count: 3
    processes: [datanode, nodemanager]
"""


def actions(ctx: RecordingContext, instance: str) -> list[tuple[Any, ...]]:
    """What happened on ``instance``, in order, with file contents left out."""
    return [(e[0], e[2], e[4]) if e[0] == "write" else (e[0], *e[2:]) for e in ctx.recorder.entries(instance)]


def prepared(name: str, image_check: list[str]) -> list[tuple[Any, ...]]:
    """heatdeploy's common steps on a new instance without volumes: SSH, the image check, host names."""
    return [("run", ["true"]), ("run", image_check), *named(name)]


def named(name: str) -> list[tuple[Any, ...]]:
    return [("write", "/etc/hosts", 0o644), ("write", "/etc/hostname", 0o644), ("run", ["hostname", name])]


def plugin_registering(framework: Framework) -> SimpleNamespace:
    """A plugin object that registers ``framework``."""
    return SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(framework)))


def builtin_plugins(**extra: Any) -> Plugins:
    """The built-in frameworks plus any extra plugin objects, loaded strictly."""
    return plugins_from({"spark": spark, "hadoop": hadoop, **extra})


def load(text: str, plugins: Plugins | None = None, file: str = "spec.yaml") -> LoadedSpec:
    return parse_spec(textwrap.dedent(text), file, checks(plugins or builtin_plugins()))


def render_text(text: str, plugins: Plugins | None = None, **kwargs: Any) -> Rendered:
    plugins = plugins or builtin_plugins()
    loaded = load(text, plugins)
    return render(loaded.spec, plugins.frameworks[loaded.spec.plugin], plugins, **kwargs)


def parsed(rendered: Rendered) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """The rendered main template, nested files and environment as data."""
    files = {name: yaml.safe_load(text) for name, text in rendered.files.items()}
    return yaml.safe_load(rendered.template), files, yaml.safe_load(rendered.environment)
