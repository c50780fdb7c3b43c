"""Count the lines of the framework plugins: code (radon's SLOC) and in all.

Targets: Spark with its job engine at most 250 lines of code; a third-party
framework plugin (contrib's Dask) at most 150. Code lines leave out blank
lines, comments and docstrings, which a plugin should not have to give up
to be short.

    .venv/bin/python bench/plugin_size.py
"""

from __future__ import annotations

from pathlib import Path

from radon.raw import analyze

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = {
    "spark (with its job engine)": (sorted((ROOT / "heatdeploy/plugins/spark").glob("*.py")), 250),
    "hadoop": (sorted((ROOT / "heatdeploy/plugins/hadoop").glob("*.py")), None),
    "dask (contrib)": ([ROOT / "contrib/heatdeploy-dask/heatdeploy_dask.py"], 150),
    "objectstore (contrib)": ([ROOT / "contrib/heatdeploy-objectstore/heatdeploy_objectstore.py"], None),
    "plugin new --framework": ([ROOT / "heatdeploy/skeleton/framework/MODULE.py.tmpl"], None),
}


def main() -> None:
    print(f"{'plugin':32} {'code':>6} {'lines':>6}  target (code)")
    for name, (files, target) in PLUGINS.items():
        counts = [analyze(path.read_text()) for path in files]
        code, lines = sum(c.sloc for c in counts), sum(c.loc for c in counts)
        verdict = "" if target is None else f"≤ {target}: {'met' if code <= target else 'NOT met'}"
        print(f"{name:32} {code:6} {lines:6}  {verdict}")


if __name__ == "__main__":
    main()
