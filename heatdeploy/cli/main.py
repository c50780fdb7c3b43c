"""The ``heatdeploy`` command: its parser, the offline commands, and the one place errors are reported.

Every command is a handler ``(args, progress) -> exit status``. Errors are
caught here only: a :class:`~heatdeploy.HeatdeployError` becomes one line
(plus its details) and its exit status, with a final ``error`` event in
JSON mode; errors of the cloud and SSH libraries and any other failure
become one line and exit 1. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from heatdeploy.cli import binaries, completion, jobs, lifecycle, sahara
from heatdeploy.cli.formats import RESOURCE_FORMATS
from heatdeploy.cli.options import command, format_option, installed_plugins, plugins, split_passthrough
from heatdeploy.cli.os_options import CommandParser
from heatdeploy.cli.output import Progress
from heatdeploy.cli.views import check_columns
from heatdeploy.errors import ExitStatus, HeatdeployError, UsageError, library_failure
from heatdeploy.plugin.framework import Framework
from heatdeploy.plugin.manager import Plugins
from heatdeploy.plugin.schema import schema_for
from heatdeploy.plugin.validation import load_and_validate
from heatdeploy.render import pictures
from heatdeploy.render.renderer import render
from heatdeploy.spec.problems import SpecError
from heatdeploy.steps.common import with_common_steps


def _package_version() -> str:
    try:
        return version("heatdeploy")
    except PackageNotFoundError:
        return "unknown"


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def cmd_validate(args: argparse.Namespace, progress: Progress) -> int:
    results = []
    for path in args.specs:
        try:
            loaded = load_and_validate(path, plugins())
        except SpecError as exc:
            results.append({"file": path, "valid": False, "errors": [vars(p) for p in exc.problems]})
            if args.format == "text":
                for problem in exc.problems:
                    print(problem, file=sys.stderr)
            continue
        spec = loaded.spec
        instances = spec.instance_count
        results.append({"file": path, "valid": True, "errors": []})
        if args.format == "text":
            print(f"{path}: valid ({spec.plugin} {spec.version}, {instances} instance(s) "
                  f"in {len(spec.node_groups)} node group(s))")
    valid = all(r["valid"] for r in results)
    if args.format == "json":
        _print_json({"valid": valid, "files": results})
    return ExitStatus.OK if valid else ExitStatus.BAD_INPUT


def cmd_render(args: argparse.Namespace, progress: Progress) -> int:
    loaded = load_and_validate(args.spec, plugins())
    framework = plugins().frameworks[loaded.spec.plugin]
    rendered = render(loaded.spec, framework, plugins())
    if args.output:
        for path in rendered.write(args.output):
            print(path)
    else:
        sys.stdout.write(rendered.template)
    return ExitStatus.OK


def cmd_graph(args: argparse.Namespace, progress: Progress) -> int:
    loaded = load_and_validate(args.spec, plugins())
    spec, framework = loaded.spec, plugins().frameworks[loaded.spec.plugin]
    if args.steps:
        steps = with_common_steps(args.steps, [*framework.steps(args.steps),
                                               *plugins().cluster_steps(spec, framework, args.steps)])
        picture = pictures.step_graph(f"{args.steps} steps of {spec.name} ({spec.plugin})", steps)
    else:
        picture = pictures.topology(spec, framework)
    text = pictures.dot(picture) if args.format in ("dot", "svg") else pictures.mermaid(picture)
    if args.format == "svg":
        text = _svg(text)
    sys.stdout.write(text)
    return ExitStatus.OK


def _svg(dot_text: str) -> str:
    if shutil.which("dot") is None:
        raise UsageError("--format svg needs Graphviz's dot command (Debian: apt-get install graphviz); "
                         "--format dot or mermaid need nothing")
    done = subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise HeatdeployError(f"Graphviz's dot failed: {done.stderr.strip()[:500]}")
    return done.stdout


def cmd_completion(args: argparse.Namespace, progress: Progress) -> int:
    sys.stdout.write(completion.script(build_parser(), args.shell))
    return ExitStatus.OK


def cmd_schema(args: argparse.Namespace, progress: Progress) -> int:
    _print_json(schema_for(plugins().frameworks))
    return ExitStatus.OK


def plugins_report(plugins: Plugins) -> dict[str, Any]:
    """What ``heatdeploy plugins --format json`` prints."""
    return {
        "plugins": [vars(info) for info in plugins.info],
        "frameworks": {name: framework_report(framework, plugins)
                       for name, framework in sorted(plugins.frameworks.items())},
        "errors": [vars(error) for error in plugins.errors],
    }


def framework_report(framework: Framework, plugins: Plugins) -> dict[str, Any]:
    """What a spec may say for ``framework``, and which ports and job types it brings."""
    engine = plugins.job_engine(framework)
    return {
        "title": framework.title,
        "versions": list(framework.versions),
        "processes": dict(framework.processes),
        "configs": [{"name": c.name, "type": c.type.__name__, "default": c.default, "scope": c.scope,
                     "description": c.description} for c in framework.configs],
        "ports": {p: list(framework.ports_for([p])) for p in framework.processes if framework.ports_for([p])},
        "public_ports": {p: list(framework.public_ports_for([p])) for p in framework.processes
                         if framework.public_ports_for([p])},
        "between_instances": {p: [f"{low}-{high}" if high > low else str(low)
                              for low, high in framework.cluster_port_ranges([p])]
                          for p in framework.processes if framework.cluster_port_ranges([p])},
        "job_types": list(engine.types) if engine else [],
    }


def cmd_plugins(args: argparse.Namespace, progress: Progress) -> int:
    report = plugins_report(installed_plugins())
    if args.format == "json":
        _print_json(report)
        return ExitStatus.OK
    for info in report["plugins"]:
        where = f"{info['package']} {info['version']}" if info["package"] else "not packaged"
        print(f"{info['name']} ({where})")
        for name in sorted(info["frameworks"]):
            _print_framework(name, report["frameworks"][name])
        print(f"  hooks: {', '.join(info['hooks'])}")
    for error in report["errors"]:
        print(f"{error['name']} ({error['package'] or 'unknown package'}): "
              f"failed to load: {error['error']}", file=sys.stderr)
    if not report["plugins"] and not report["errors"]:
        print("no plugins installed")
    return ExitStatus.OK


def cmd_plugin_new(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy import skeleton

    written = skeleton.generate(args.name, args.kind, Path(args.output))
    root = written[0].parent if written[0].parent.name != "tests" else written[0].parent.parent
    for path in written:
        print(path)
    print(f"next: cd {root} && pip install -e '.[test]' && pytest tests/test_units.py", file=sys.stderr)
    return ExitStatus.OK


def _print_framework(name: str, report: dict[str, Any]) -> None:
    print(f"  framework {name} ({report['title']}): versions {', '.join(report['versions'])}")
    for process, description in report["processes"].items():
        print(f"    process {process}: {description}")
    for c in report["configs"]:
        print(f"    config {c['name']} ({c['type']}, {c['scope']}, default {c['default']!r}): {c['description']}")
    labels = {"ports": "ports", "public_ports": "public ports", "between_instances": "between instances"}
    for key, label in labels.items():
        if report[key]:
            listed = "; ".join(f"{p} {', '.join(map(str, ports))}" for p, ports in report[key].items())
            print(f"    {label}: {listed}")
    print(f"    job types: {', '.join(report['job_types']) or 'none'}")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="heatdeploy",
        description="Data-processing clusters (Spark, Hadoop, ...) on OpenStack Heat.",
        epilog="Run 'heatdeploy COMMAND --help' for a command's options and an example.\n"
               "Exit status: 0 success, 1 failure, 2 bad input, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"heatdeploy {_package_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = command(sub, "validate", cmd_validate, "check cluster specs against their framework",
                "heatdeploy validate examples/spark.yaml examples/hadoop.yaml")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="cluster spec files (YAML)")
    format_option(p)

    p = command(sub, "render", cmd_render, "render a cluster spec into Heat templates, offline",
                "heatdeploy render examples/spark.yaml -o build/spark")
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="write the template, nested files and environment into DIR "
                        "(default: print the main template)")

    p = command(sub, "graph", cmd_graph, "draw a spec's cluster (node groups, network, what security groups "
                "open) or an operation's step DAG, as Mermaid, Graphviz DOT or SVG",
                "heatdeploy graph examples/spark.yaml --steps launch --format mermaid")
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    p.add_argument("--steps", choices=("launch", "scale_up", "decommission"),
                   help="draw this operation's steps (heatdeploy's, the framework's and add-ons') instead")
    p.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid",
                   help="mermaid (default) and dot are text; svg runs Graphviz's dot")

    command(sub, "schema", cmd_schema, "print the cluster spec's JSON Schema, with the installed frameworks' "
            "versions, processes and configs (for editors)",
            "heatdeploy schema > heatdeploy-spec.schema.json")

    p = command(sub, "plugins", cmd_plugins, "list installed plugins and load errors",
                "heatdeploy plugins --format json")
    format_option(p)

    plugin = sub.add_parser("plugin", help="write plugins", description="Start a new plugin package.")
    plugin_commands = plugin.add_subparsers(dest="plugin_command", metavar="COMMAND", required=True)
    p = command(plugin_commands, "new", cmd_plugin_new,
                "write a new plugin package (module, tests, README, setup.cfg with its entry point) "
                "that passes its own tests as generated", "heatdeploy plugin new flink -o ~/src")
    p.add_argument("name", metavar="NAME", help="the plugin's name, e.g. flink (the package is heatdeploy-NAME)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--framework", dest="kind", action="store_const", const="framework", default="framework",
                      help="a framework: master and workers, launch, scale, health, jobs (the default)")
    kind.add_argument("--addon", dest="kind", action="store_const", const="addon",
                      help="an add-on for every framework: a validation rule and a configuration step")
    p.add_argument("-o", "--output", metavar="DIR", default=".", help="where to create heatdeploy-NAME/ (default: .)")
    lifecycle.add_commands(sub)
    jobs.add_commands(sub)
    binaries.add_commands(sub)
    sahara.add_commands(sub)
    _add_local(sub)
    p = command(sub, "completion", cmd_completion, "print a shell completion script for heatdeploy",
                "heatdeploy completion bash > /etc/bash_completion.d/heatdeploy")
    p.add_argument("shell", choices=completion.SHELLS, help="the shell: bash or zsh")
    p.epilog = (f"{p.epilog}\n\nbash: source <(heatdeploy completion bash) in ~/.bashrc, or write it to "
                "/etc/bash_completion.d/heatdeploy\n"
                "zsh: heatdeploy completion zsh > \"${fpath[1]}/_heatdeploy\", then restart zsh")
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; what follows ``--`` goes to the command's ``args`` untouched (a job's arguments).

    argparse does not pass ``--`` through nested sub-commands, so it is split off here.
    """
    argv, passthrough = split_passthrough(argv)
    CommandParser.json_errors = _wants_json(argv)
    args = parser.parse_args(argv)
    if passthrough:
        if not hasattr(args, "args"):
            parser.error(f"unexpected arguments after --: {' '.join(passthrough)}")
        args.args = [*args.args, *passthrough]
    return args


def _wants_json(argv: list[str]) -> bool:
    """Whether ``argv`` asks for JSON output (``--format json``, ``-f json``, ``--format=json``, ``-fjson``)."""
    pairs = zip(argv, [*argv[1:], ""], strict=True)
    return any((arg in ("--format", "-f") and value == "json") or arg in ("--format=json", "-fjson")
               for arg, value in pairs)


def _add_local(sub: Any) -> None:
    """The local cloud's commands, when its extra is installed."""
    try:
        from heatdeploy.local.cli import add_parser
    except ImportError:
        return
    add_parser(sub)


def describe_failure(exc: BaseException) -> str:
    """One line for an error that is not a HeatdeployError: the library that raised it, and its message."""
    library = library_failure(exc)
    if library is not None:
        return library
    if isinstance(exc, OSError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def report(progress: Progress, exc: BaseException) -> ExitStatus:
    """Tell the user what failed, in one place for every command; return the exit status."""
    if isinstance(exc, SpecError):
        if progress.json:
            progress.emit({"event": "error", "exit_status": int(exc.exit_status), "message": str(exc),
                           "problems": [vars(p) for p in exc.problems]})
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return exc.exit_status
    if isinstance(exc, HeatdeployError):
        progress.error(str(exc), exc.exit_status)
        return exc.exit_status
    progress.error(describe_failure(exc), ExitStatus.FAILED)
    return ExitStatus.FAILED


def _check_columns(args: argparse.Namespace) -> None:
    """``-c`` names columns of the command's resource, and goes with a format that prints one (before any work)."""
    columns = getattr(args, "columns", ())
    if columns and args.format not in RESOURCE_FORMATS:
        raise UsageError(f"-c/--column needs -f table, yaml or value (not {args.format})")
    if columns:
        check_columns(args.view, columns)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(build_parser(), list(sys.argv[1:] if argv is None else argv))
    progress = Progress(getattr(args, "format", "text"), view=getattr(args, "view", None),
                        columns=getattr(args, "columns", ()))
    try:
        _check_columns(args)
        return int(args.handler(args, progress))
    except KeyboardInterrupt:
        progress.error(getattr(args, "interrupted", "interrupted"), ExitStatus.INTERRUPTED)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        raise  # the reader of our output is gone: run() ends quietly
    except Exception as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        return report(progress, exc)


def run() -> None:
    """Console script entry point."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``heatdeploy plugins | head``): nothing more to say, and
        # nothing to flush at exit either, so stdout goes to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = ExitStatus.FAILED
    sys.exit(status)
