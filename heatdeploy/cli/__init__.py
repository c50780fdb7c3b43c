"""The ``heatdeploy`` command line: a thin layer over the library.

``run`` is the console script; the parser and ``main(argv)`` are in
:mod:`heatdeploy.cli.main`.
"""

from heatdeploy.cli.main import run

__all__ = ["run"]
