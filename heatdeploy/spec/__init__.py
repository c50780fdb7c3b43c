"""The cluster spec: its typed model, YAML read with line numbers, and the problems found in it.

The first stage of the flow; it knows no plugin. A spec's framework-level
checks come from :mod:`heatdeploy.plugin.validation`, passed in as
:class:`~heatdeploy.spec.model.Checks`.
"""
