"""The command line's way in for Sahara users: ``import sahara`` and ``scenario run``."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heatdeploy.cli.options import (
    access_options,
    cloud_options,
    command,
    format_option,
    lock_option,
    manager,
    options,
    parallel_option,
    plugins,
)
from heatdeploy.cli.output import Progress
from heatdeploy.errors import ExitStatus, UsageError
from heatdeploy.events import Event

if TYPE_CHECKING:
    from heatdeploy.sahara.convert import Overrides
    from heatdeploy.sahara.importer import Imported
    from heatdeploy.sahara.runner import StepResult

_STATUSES = ("passed", "failed", "skipped")
_MAKO = ("Files ending in .mako are Mako templates, rendered as sahara-tests did: they are Python code, "
         "so render only files you trust.")


def _variable(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME a variable name, got {value!r}")
    return name, setting


def _container(value: str) -> str:
    if not value or "/" in value or len(value) > 256 or any(ord(c) < 32 for c in value):
        raise argparse.ArgumentTypeError(f"expected a Swift container name (no '/', at most 256 characters), "
                                         f"got {value!r}")
    return value


def _overrides(args: argparse.Namespace) -> Overrides:
    from heatdeploy.sahara.convert import Overrides

    return Overrides(image=args.image, flavor=args.flavor, network=args.network,
                     floating_ip_pool=args.floating_ip_pool)


def _import(args: argparse.Namespace, progress: Progress) -> Imported:
    from heatdeploy.sahara.importer import import_files

    imported = import_files(args.files, dict(args.var), plugins(), _overrides(args))
    for converted in imported.all:
        for note in converted.notes:
            progress(Event("warning", message=str(note)))
    return imported


def cmd_import(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.sahara.importer import write_specs

    imported = _import(args, progress)
    written = write_specs(imported, Path(args.output), plugins(), force=args.force)
    specs = [{"name": c.name, "file": str(path), "plugin": c.spec["plugin"], "source": c.file,
              "notes": [str(n) for n in c.notes]} for c, path in zip(imported.all, written, strict=True)]
    text = "\n".join(f"wrote {s['file']} ({s['plugin']}, from {s['source']}; {len(s['notes'])} note(s))"
                     for s in specs)
    progress.result({"specs": specs}, text)
    return ExitStatus.OK


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_scenario_run(args: argparse.Namespace, progress: Progress) -> int:
    from heatdeploy.sahara.importer import load_converted
    from heatdeploy.sahara.junit import write_junit
    from heatdeploy.sahara.runner import ScenarioRunner

    imported = _import(args, progress)
    if not imported.scenarios:
        raise UsageError("no scenario clusters in these files: 'scenario run' runs sahara-tests scenarios "
                         "(templates alone convert with 'heatdeploy import sahara')")
    loaded = [load_converted(s.converted, plugins()) for s in imported.scenarios]  # all valid before any launch
    # A TERM (a CI job cancelled) must still delete the cluster, like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    runner = ScenarioRunner(manager(args, progress), options(args), lambda r: _show(progress, r),
                            args.results_container)
    try:
        for scenario, spec in zip(imported.scenarios, loaded, strict=True):
            runner.run(scenario, spec)
    finally:
        if args.junit_xml:
            write_junit(runner.results, Path(args.junit_xml))
    counts = {status: sum(r.status == status for r in runner.results) for status in _STATUSES}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    progress.result({"passed": runner.passed, "counts": counts, "steps": [r.to_dict() for r in runner.results],
                     "junit_xml": args.junit_xml},
                    f"scenario {'passed' if runner.passed else 'FAILED'}: {summary}")
    return ExitStatus.OK if runner.passed else ExitStatus.FAILED


def _show(progress: Progress, result: StepResult) -> None:
    """A step's result: a ``scenario_step`` event in JSON mode, a PASS/FAIL/SKIP line for people."""
    if progress.json:
        progress.emit({"event": "scenario_step", **result.to_dict()})
        return
    word = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[result.status]
    tail = f": {result.message}" if result.message else ""
    progress.err.write(f"{word} {result.cluster} {result.name} ({result.seconds:.0f} s){tail}\n")
    progress.err.flush()


def _conversion_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="Sahara cluster and node group templates (JSON: the API's, 'openstack dataprocessing "
                        "... show -f json', default-template sets) or sahara-tests scenario files (YAML, .mako)")
    p.add_argument("--var", type=_variable, action="append", default=[], metavar="NAME=VALUE",
                   help="a variable of the Mako templates, or a {NAME} placeholder of default templates; repeatable")
    p.add_argument("--image", help="image for every node group (default: what the files say)")
    p.add_argument("--flavor", help="flavor for every node group (default: what the files say)")
    p.add_argument("--network", help="management network (default: what the files say)")
    p.add_argument("--floating-ip-pool", metavar="NETWORK",
                   help="external network of the node groups that get floating IPs (default: what the files say)")
    format_option(p)


def add_commands(sub: Any) -> None:
    group = sub.add_parser("import", help="convert other tools' cluster definitions into specs",
                           description="Convert other tools' cluster definitions into heatdeploy specs.")
    commands = group.add_subparsers(dest="import_command", metavar="COMMAND", required=True)
    p = command(commands, "sahara", cmd_import,
                "convert Sahara cluster and node group templates and sahara-tests scenarios into specs; "
                "what has no equivalent is reported, one line each. " + _MAKO,
                "heatdeploy import sahara spark-2.1.0.yaml.mako edp.yaml.mako --var cluster_name=ci "
                "--var spark_210_image=debian-local -o specs")
    _conversion_options(p)
    p.add_argument("-o", "--output", metavar="DIR", default=".", help="where to write NAME.yaml (default: .)")
    p.add_argument("--force", action="store_true", help="replace a NAME.yaml that exists already")

    group = sub.add_parser("scenario", help="run sahara-tests scenarios to certify a cloud",
                           description="Run sahara-tests scenarios on a cloud.")
    commands = group.add_subparsers(dest="scenario_command", metavar="COMMAND", required=True)
    p = command(commands, "run", cmd_scenario_run,
                "run a sahara-tests scenario: launch each cluster, run its EDP jobs and scaling, delete it; "
                "one pass/fail line per step, exit 1 if any failed. " + _MAKO,
                "heatdeploy scenario run spark.yaml.mako edp.yaml.mako --var cluster_name=ci "
                "--os-cloud mycloud --junit-xml results.xml",
                "interrupted: the scenario's cluster, if it was launched, is deleted; run the scenario again")
    _conversion_options(p)
    p.add_argument("--junit-xml", metavar="PATH", help="also write the results as a JUnit XML report")
    p.add_argument("--results-container", metavar="CONTAINER", default="heatdeploy-scenarios", type=_container,
                   help="Swift container the jobs' outputs go to (default: heatdeploy-scenarios)")
    parallel_option(p)
    lock_option(p)
    cloud_options(p)
    access_options(p)
