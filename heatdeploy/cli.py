"""The ``heatdeploy`` command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from heatdeploy import cli_jobs as jobs
from heatdeploy import cli_jobs_binaries as binaries
from heatdeploy import cli_lifecycle as lifecycle
from heatdeploy import spec as spec_module
from heatdeploy.plugin_manager import PluginError, Plugins, load_plugins
from heatdeploy.problems import SpecError
from heatdeploy.render import RenderError, render
from heatdeploy.validation import load_and_validate

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


@functools.cache
def plugins() -> Plugins:
    """The installed plugins, loaded once, on first use."""
    return load_plugins()


def _package_version() -> str:
    try:
        return version("heatdeploy")
    except PackageNotFoundError:
        return "unknown"


def _emit(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=True), file=out or sys.stdout)


def cmd_validate(args: argparse.Namespace) -> int:
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
        instances = sum(g.count for g in spec.node_groups)
        results.append({"file": path, "valid": True, "errors": []})
        if args.format == "text":
            print(f"{path}: valid ({spec.plugin} {spec.version}, {instances} instance(s) "
                  f"in {len(spec.node_groups)} node group(s))")
    valid = all(r["valid"] for r in results)
    if args.format == "json":
        _emit({"valid": valid, "files": results})
    return EXIT_OK if valid else EXIT_BAD_INPUT


def cmd_render(args: argparse.Namespace) -> int:
    loaded = load_and_validate(args.spec, plugins())
    framework = plugins().frameworks[loaded.spec.plugin]
    rendered = render(loaded.spec, framework, plugins())
    if args.output:
        for path in rendered.write(args.output):
            print(path)
    else:
        sys.stdout.write(rendered.template)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    _emit(spec_module.schema())
    return EXIT_OK


def plugins_report(plugins: Plugins) -> dict[str, Any]:
    """What ``heatdeploy plugins --format json`` prints."""
    return {
        "plugins": [vars(info) for info in plugins.info],
        "errors": [vars(error) for error in plugins.errors],
    }


def cmd_plugins(args: argparse.Namespace) -> int:
    report = plugins_report(plugins())
    if args.format == "json":
        _emit(report)
        return EXIT_OK
    for info in report["plugins"]:
        where = f"{info['package']} {info['version']}" if info["package"] else "not packaged"
        print(f"{info['name']} ({where})")
        for name, versions in sorted(info["frameworks"].items()):
            print(f"  framework {name}: versions {', '.join(versions)}")
        print(f"  hooks: {', '.join(info['hooks'])}")
    for error in report["errors"]:
        print(f"{error['name']} ({error['package'] or 'unknown package'}): "
              f"failed to load: {error['error']}", file=sys.stderr)
    if not report["plugins"] and not report["errors"]:
        print("no plugins installed")
    return EXIT_OK


def _command(sub: Any, name: str, handler: Handler, help: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=help,
        epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (json is meant for scripts and CI)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heatdeploy",
        description="Data-processing clusters (Spark, Hadoop, ...) on OpenStack Heat.",
        epilog="Run 'heatdeploy COMMAND --help' for a command's options and an example.\n"
               "Exit status: 0 success, 1 failure, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"heatdeploy {_package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "validate", cmd_validate, "check cluster specs against their framework",
                 "heatdeploy validate examples/spark.yaml examples/hadoop.yaml")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="cluster spec files (YAML)")
    _format_option(p)

    p = _command(sub, "render", cmd_render, "render a cluster spec into Heat templates, offline",
                 "heatdeploy render examples/spark.yaml -o build/spark")
    p.add_argument("spec", metavar="SPEC", help="cluster spec file (YAML)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="write the template, nested files and environment into DIR "
                        "(default: print the main template)")

    _command(sub, "schema", cmd_schema, "print the cluster spec's JSON Schema (for editors)",
             "heatdeploy schema > heatdeploy-spec.schema.json")

    p = _command(sub, "plugins", cmd_plugins, "list installed plugins and load errors",
                 "heatdeploy plugins --format json")
    _format_option(p)
    lifecycle.add_commands(sub, _command, _format_option)
    jobs.add_commands(sub, _command, _format_option)
    binaries.add_commands(sub, _command, _format_option)
    _add_local(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; what follows ``--`` goes to the command's ``args`` untouched (a job's arguments).

    argparse does not pass ``--`` through nested sub-commands, so it is split off here.
    """
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    if passthrough:
        if not hasattr(args, "args"):
            parser.error(f"unexpected arguments after --: {' '.join(passthrough)}")
        args.args = [*args.args, *passthrough]
    return args


def _add_local(sub: Any) -> None:
    """The local cloud's commands, when its extra is installed."""
    try:
        from heatdeploy.local.cli import add_parser
    except ImportError:
        return
    add_parser(sub)


def _report_bad_spec(args: argparse.Namespace, exc: SpecError) -> None:
    if getattr(args, "format", "text") == "json" and args.handler is not cmd_validate:
        problems = [vars(p) for p in exc.problems]
        print(json.dumps({"event": "error", "exit_status": EXIT_BAD_INPUT, "problems": problems}))
    for problem in exc.problems:
        print(problem, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(build_parser(), list(sys.argv[1:] if argv is None else argv))
    # paramiko logs refused tunnel channels (a service still starting) as errors;
    # what matters reaches the user through heatdeploy's own messages.
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    try:
        return int(args.handler(args))
    except SpecError as exc:
        _report_bad_spec(args, exc)
        return EXIT_BAD_INPUT
    except (PluginError, RenderError) as exc:
        print(f"heatdeploy: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("heatdeploy: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console script entry point."""
    sys.exit(main())
