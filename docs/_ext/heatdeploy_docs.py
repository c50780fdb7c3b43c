"""Sphinx directives that build parts of these docs from heatdeploy itself.

- ``heatdeploy-graph SPEC [:steps: OPERATION]``: the picture ``heatdeploy graph``
  draws for a spec, run when the docs are built (Graphviz DOT, rendered by
  ``sphinx.ext.graphviz``), so the docs never show a hand-drawn cluster.
- ``heatdeploy-api``: autodoc entries for every name in ``heatdeploy.__all__``,
  grouped by the module that defines it, so a new export is documented
  without editing the docs.
- The user guide's section ids become labels, so the README's ``(#section)``
  links still work once the README is split into pages.
- A builtin named in an annotation is the builtin, not a documented attribute
  that happens to share its name.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.ext.graphviz import graphviz
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes

ROOT = Path(__file__).resolve().parents[2]
USER_GUIDE = "user-guide/"


class GraphDirective(SphinxDirective):
    """Runs ``heatdeploy graph SPEC --format dot`` and shows its picture."""

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {
        "steps": directives.unchanged,
        "alt": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        spec = self.arguments[0]
        command = ["graph", spec, "--format", "dot"]
        if "steps" in self.options:
            command += ["--steps", self.options["steps"]]
        self.env.note_dependency(str(ROOT / spec))
        try:
            code = heatdeploy_output(command)
        except RuntimeError as exc:
            raise self.error(str(exc)) from exc
        node = graphviz()
        node["code"] = code
        node["options"] = {"docname": self.env.docname}
        node["alt"] = self.options.get("alt", "heatdeploy " + " ".join(command))
        return [node]


def heatdeploy_output(arguments: list[str]) -> str:
    """What ``heatdeploy ARGUMENTS`` prints, run from the repository's root.

    Only the built-in plugins are loaded, so an add-on installed next to the
    docs tools cannot change the pictures.
    """
    env = {**os.environ, "HEATDEPLOY_LOAD_PLUGINS": "spark,hadoop"}
    done = subprocess.run([sys.executable, "-m", "heatdeploy", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"heatdeploy {' '.join(arguments)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


class ApiDirective(SphinxDirective):
    """An autodoc entry for every name ``heatdeploy`` exports, a section per defining module."""

    def run(self) -> list[nodes.Node]:
        lines = StringList()
        try:
            for module, exported in exports_by_module().items():
                title = f"``{module}``"
                for line in [title, "-" * len(title), "", *(line for export in exported for line in api_entry(export))]:
                    lines.append(line, "<heatdeploy-api>")
        except RuntimeError as exc:
            raise self.error(str(exc)) from exc
        return list(nested_parse_to_nodes(self.state, lines, allow_section_headings=True))


@dataclass(frozen=True)
class Export:
    """A name ``heatdeploy`` exports, and where it comes from (``from MODULE import ORIGINAL as NAME``)."""

    name: str
    module: str
    original: str


def exports() -> list[Export]:
    """``heatdeploy.__all__``, each with the module ``heatdeploy/__init__.py`` imports it from.

    Read from the imports themselves (lazy ones included) rather than from
    ``__module__``, which type aliases and pluggy's markers do not have.
    """
    import heatdeploy

    imported: dict[str, Export] = {}
    for node in ast.walk(ast.parse(Path(heatdeploy.__file__).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("heatdeploy."):
            for alias in node.names:
                name = alias.asname or alias.name
                imported[name] = Export(name, node.module, alias.name)
    missing = sorted(set(heatdeploy.__all__) - set(imported))
    if missing:
        raise RuntimeError(f"heatdeploy exports names it does not import from a module: {missing}")
    return [imported[name] for name in heatdeploy.__all__]


def exports_by_module() -> dict[str, list[Export]]:
    """The exports grouped by module, modules and names sorted."""
    groups: dict[str, list[Export]] = defaultdict(list)
    for export in exports():
        groups[export.module].append(export)
    return {module: sorted(groups[module], key=lambda e: e.name.lower()) for module in sorted(groups)}


def api_entry(export: Export) -> list[str]:
    """The reST documenting ``heatdeploy.NAME``: autodoc for classes and functions, else its doc comment."""
    import heatdeploy

    value = getattr(heatdeploy, export.name)
    target = f"heatdeploy.{export.name}"
    if inspect.isclass(value):
        return [f".. autoclass:: {target}", "   :members:", "   :undoc-members:", "   :show-inheritance:", ""]
    if inspect.isfunction(value):
        return [f".. autofunction:: {target}", ""]
    # Type aliases and pluggy's marker: autodoc would look for their docstring in
    # heatdeploy/__init__.py; it is under the assignment in the defining module.
    lines = [f".. py:data:: {target}"]
    if not repr(value).startswith("<"):
        lines.append(f"   :value: {value!r}")
    lines.append("")
    lines += [f"   {line}" for line in attribute_doc(export)]
    return [*lines, ""]


def attribute_doc(export: Export) -> list[str]:
    """The docstring (or ``#:`` comment) of ``ORIGINAL`` in ``MODULE``; an error when there is none."""
    docs = ModuleAnalyzer.for_module(export.module).find_attr_docs()
    lines = docs.get(("", export.original))
    if not lines or not "".join(lines).strip():
        raise RuntimeError(f"{export.module}.{export.original} (exported as heatdeploy.{export.name}) "
                           f"has no docstring under its assignment")
    return list(lines)


def label_user_guide_sections(app: Sphinx, doctree: nodes.document) -> None:
    """Make the user guide's section ids labels, so the README's ``(#section)`` links cross pages.

    The README is one page on GitHub and several here; a link such as
    ``[Big clusters](#big-clusters)`` then points into another page, which
    MyST resolves through a label of that name.
    """
    docname = app.env.docname
    if not docname.startswith(USER_GUIDE):
        return
    std = app.env.domains.standard_domain
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        for label in section["ids"]:
            if title is not None and label not in std.labels:
                std.labels[label] = (docname, label, title.astext())
                std.anonlabels[label] = (docname, label)


def builtins_mean_builtins(app: Sphinx, doctree: nodes.document) -> None:
    """Keep an annotation naming a builtin (``type: type``) from linking to an attribute of that name.

    Sphinx looks such a name up in the class it appears in and then by
    suffix, so ``ConfigOption.type: type`` would link to itself or to
    ``JobSpec.type``; without that context the builtin stays plain text.
    """
    for ref in doctree.findall(addnodes.pending_xref):
        if ref.get("refdomain") == "py" and hasattr(builtins, ref.get("reftarget", "")):
            ref.attributes.pop("refspecific", None)
            ref["py:module"] = ref["py:class"] = None


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the doctree fixes."""
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("heatdeploy-graph", GraphDirective)
    app.add_directive("heatdeploy-api", ApiDirective)
    app.connect("doctree-read", label_user_guide_sections)
    app.connect("doctree-read", builtins_mean_builtins)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
