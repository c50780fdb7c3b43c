"""A job's Swift data, read and written by its programs directly: which inputs and outputs, and their temp URLs.

An input or output whose placeholder (``{input}``, ``{output.NAME}``) is in
the job's arguments is staged as before: copied to every instance, or
collected from the driver's folder (:mod:`heatdeploy.jobs.staging`). Every
other one is *direct*: the job's programs read and write it in Swift
themselves, through temp URLs that expire with the job's deadline, listed
in the job's data manifest (read by :mod:`heatdeploy.jobs.heatdeploy_job`)
and, for shell jobs, in environment variables:

- ``HEATDEPLOY_INPUT_URLS`` (``HEATDEPLOY_INPUT_<NAME>_URLS`` for a named
  one): a file with one temp URL per object of the input, in name order;
- ``HEATDEPLOY_OUTPUT_URL`` and ``HEATDEPLOY_OUTPUT_QUERY`` (and
  ``..._<NAME>_...``): PUT ``$HEATDEPLOY_OUTPUT_URL<name>?$HEATDEPLOY_OUTPUT_QUERY``
  writes object ``<name>`` under the output's prefix.

``<NAME>`` is the input's or output's name in capitals, ``-`` read as ``_``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from heatdeploy.cloud import binaries
from heatdeploy.cloud.tempurls import PrefixTempURL
from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.files import env_file
from heatdeploy.plugin.jobs import JobRecord

MANIFEST = "heatdeploy_job.json"
"""The data manifest's file name in the job's folder."""
ENVIRONMENT = "job.env"
"""The job's environment file in its folder, sourced before its driver starts."""
RUNTIME_MODULE = "heatdeploy_job.py"
_PLACEHOLDER = re.compile(r"\{(input|output)(?:\.([A-Za-z0-9_-]+))?\}")


class DataError(HeatdeployError):
    """A job's direct input or output cannot be handed to it; names which and why."""


class DataStore(Protocol):
    """What a job's direct data needs of Swift: listings with sizes, temp URLs, containers."""

    def listing(self, container: str, prefix: str) -> list[tuple[str, int]]: ...
    def temp_url(self, container: str, name: str, method: str, seconds: int = ...) -> str: ...
    def prefix_temp_url(self, container: str, prefix: str, method: str, seconds: int) -> PrefixTempURL: ...
    def make_container(self, container: str) -> None: ...


@dataclass
class JobData:
    """What a job's folder gets so that its programs reach their direct data."""

    manifest: dict[str, Any] = field(default_factory=lambda: {"inputs": {}, "outputs": {}})
    environment: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    """File name in the job's folder to its content: the inputs' URL lists."""

    def files_to_write(self, directory: str) -> dict[str, str]:
        """Every private file of the job's folder: the manifest, the URL lists and the environment."""
        environment = {"HEATDEPLOY_JOB_DIR": directory, "HEATDEPLOY_JOB_MANIFEST": f"{directory}/{MANIFEST}",
                       **self.environment}
        script = env_file(environment) + 'export PYTHONPATH="$HEATDEPLOY_JOB_DIR${PYTHONPATH:+:$PYTHONPATH}"\n'
        return {MANIFEST: json.dumps(self.manifest, indent=1, sort_keys=True), ENVIRONMENT: script,
                **self.files}


def url_list(name: str) -> str:
    """The file in the job's folder listing input ``name``'s temp URLs."""
    return f"input.{name}.urls" if name else "input.urls"


def secret_files(job: JobRecord) -> list[str]:
    """Every file of the job's folder that may hold a temp URL of its data."""
    return [MANIFEST, ENVIRONMENT, *(url_list(name) for name in job.inputs)]


def staged(job: JobRecord) -> tuple[set[str], set[str]]:
    """The names of the job's inputs and outputs that are staged: all of them unless the job is direct."""
    if not job.direct:
        return set(job.inputs), set(job.outputs)
    return staged_names(job.args)


def staged_names(args: Iterable[str]) -> tuple[set[str], set[str]]:
    """The names of the inputs and outputs whose placeholders ``args`` use (``""`` for the unnamed one)."""
    used: dict[str, set[str]] = {"input": set(), "output": set()}
    for arg in args:
        for kind, name in _PLACEHOLDER.findall(arg):
            used[kind].add(name)
    return used["input"], used["output"]


def variable(kind: str, name: str, suffix: str) -> str:
    """``HEATDEPLOY_INPUT_URLS``, ``HEATDEPLOY_OUTPUT_LOGS_URL``: the variable of input/output ``name``."""
    middle = f"_{name.upper().replace('-', '_')}" if name else ""
    return f"HEATDEPLOY_{kind.upper()}{middle}_{suffix}"


def direct_data(store: DataStore, job: JobRecord, seconds: int) -> JobData:
    """Temp URLs (for ``seconds``) for the job's inputs and outputs that its arguments do not stage."""
    staged_inputs, staged_outputs = staged(job)
    data = JobData()
    names = [("input", n) for n in job.inputs if n not in staged_inputs]
    names += [("output", n) for n in job.outputs if n not in staged_outputs]
    clashing = {variable(k, n, "") for k, n in names}
    if len(clashing) < len(names):
        raise DataError("input or output names that differ only in case or in '-' and '_' would share "
                        "an environment variable; rename one")
    for kind, name in names:
        if kind == "input":
            _add_input(data, store, name, job.inputs[name], seconds, job.directory)
        else:
            _add_output(data, store, name, job.outputs[name], seconds)
    return data


def _add_input(data: JobData, store: DataStore, name: str, source: str, seconds: int, directory: str) -> None:
    container, prefix = binaries.parse_swift_url(source)
    if prefix.endswith("/"):
        listed = store.listing(container, prefix)
        urls = store.prefix_temp_url(container, prefix, "GET", seconds) if listed else None
        objects = [{"name": n, "size": size, "url": urls.url_for(n)} for n, size in listed if urls]
    else:
        listed = [item for item in store.listing(container, prefix) if item[0] == prefix]
        objects = [{"name": n, "size": size, "url": store.temp_url(container, n, "GET", seconds)}
                   for n, size in listed]
    if not objects:
        raise DataError(f"input {source} is empty" if prefix.endswith("/") else f"input {source}: no such object")
    data.manifest["inputs"][name] = {"source": source, "objects": objects}
    listing = url_list(name)
    data.files[listing] = "".join(f"{o['url']}\n" for o in objects)
    data.environment[variable("input", name, "URLS")] = f"{directory}/{listing}"


def _add_output(data: JobData, store: DataStore, name: str, target: str, seconds: int) -> None:
    container, prefix = binaries.parse_swift_url(target)
    prefix = prefix if prefix.endswith("/") else prefix + "/"  # never empty: parse_swift_url wants a name
    store.make_container(container)
    if store.listing(container, prefix):  # as Hadoop's committers refuse: old parts would pass for new ones
        raise DataError(f"output {target} already holds objects: give the job a new output path, or delete them")
    url = store.prefix_temp_url(container, prefix, "PUT", seconds)
    data.manifest["outputs"][name] = {"target": target, "url": url.base, "query": url.query}
    data.environment[variable("output", name, "URL")] = url.base
    data.environment[variable("output", name, "QUERY")] = url.query
