"""Sphinx configuration of heatdeploy's docs.

The pages are the repository's own Markdown (README.md split into the user
guide by its ``<!-- docs: NAME -->`` markers, and docs/*.md), plus references
built from the code: the API from ``heatdeploy.__all__``'s docstrings, the
command line from its argparse parser, the pictures from ``heatdeploy graph``
and the release notes from releasenotes/notes (reno).
"""

import os
import sys
from importlib.metadata import version as package_version
from pathlib import Path

# The references describe heatdeploy with its built-in plugins, whatever else is
# installed next to the docs tools (the CLI lists the job types plugins bring).
os.environ["HEATDEPLOY_LOAD_PLUGINS"] = "spark,hadoop"

# The checkout being built is what autodoc documents, even when another copy is installed.
sys.path[:0] = [str(Path(__file__).parents[1]), str(Path(__file__).parent / "_ext")]

project = "heatdeploy"
author = "heatdeploy authors"
copyright = "heatdeploy authors, Apache-2.0"  # noqa: A001 (Sphinx's name)
release = package_version("heatdeploy")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "sphinxarg.ext",
    "reno.sphinxext",
    "heatdeploy_docs",
]

# Command lines must stay as typed: no "--" turned into a dash, no curly quotes.
smartquotes = False

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: anchors for headings down to ###, so README links such as
# (#failure-and-recovery) and (docs/local-cloud.md#services) resolve.
myst_heading_anchors = 3
# Links like (#jobs) that leave their page resolve through the std domain's
# labels (see heatdeploy_docs.label_user_guide_sections), never the CLI's.
myst_ref_domains = ["std", "py"]
myst_enable_extensions = ["colon_fence"]

# The README's Mermaid blocks are kept equal to `heatdeploy graph`'s output by a
# unit test; the docs draw the same pictures at build time with Graphviz instead.
graphviz_output_format = "svg"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
html_title = f"heatdeploy {release}"
html_static_path: list[str] = []
