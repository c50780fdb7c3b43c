"""heatdeploy: data-processing clusters on OpenStack Heat.

The names below are the public API for embedding services and plugin authors.
"""

from heatdeploy.framework import ConfigOption, Framework, at_least, at_most, exactly_one
from heatdeploy.plugin_manager import PluginError, Plugins, hookimpl, load_plugins, plugins_from
from heatdeploy.problems import LocatedProblem, Problem, SpecError
from heatdeploy.render import Rendered
from heatdeploy.spec import ClusterSpec, LoadedSpec, NodeGroup, Volumes, parse_spec, read_spec
from heatdeploy.template_parts import File, SecurityRule, TemplatePart, UserDataPart
from heatdeploy.validation import framework_problems, load_and_validate

__all__ = [
    "ClusterSpec", "ConfigOption", "File", "Framework", "LoadedSpec", "LocatedProblem",
    "NodeGroup", "PluginError", "Plugins", "Problem", "Rendered", "SecurityRule", "SpecError",
    "TemplatePart", "UserDataPart", "Volumes", "at_least", "at_most", "exactly_one", "framework_problems",
    "hookimpl", "load_and_validate", "load_plugins", "parse_spec", "plugins_from", "read_spec",
]
