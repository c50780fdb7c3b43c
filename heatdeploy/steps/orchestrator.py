"""The orchestrator: runs steps as a DAG, in parallel across instances.

Once every step a step follows has finished on all its instances, the step
runs on each of its instances in parallel, each through that instance's
persistent connection. Steps with no order between them run at the same
time. A failure lets running actions finish, starts nothing new, and is
reported with every instance that failed.
"""

from __future__ import annotations

import concurrent.futures as futures
import queue
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from heatdeploy.errors import HeatdeployError
from heatdeploy.events import Event
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Remote, RemoteError, Result
from heatdeploy.plugin.steps import Step, StepContext, running
from heatdeploy.ssh.batching import BatchedRemote, batched


class StepsFailed(HeatdeployError):
    """A step failed; carries every failure (step, instance, message, output tail)."""

    def __init__(self, failures: Sequence[Event]) -> None:
        self.failures = list(failures)
        first = self.failures[0]
        more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        super().__init__(f"step {first.step!r} failed on {first.message}{more}")


class StepGraphError(HeatdeployError, ValueError):
    """Steps that cannot be ordered: a name used twice, an unknown predecessor, or a cycle (a plugin's bug)."""


class _TimedRemote:
    """A remote whose commands default to the step's timeout."""

    def __init__(self, remote: Remote, timeout: float | None) -> None:
        self.instance = remote.instance
        self._remote = remote
        self._timeout = timeout

    def run(self, command: Any, *, stdin: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> Result:
        return self._remote.run(command, stdin=stdin, check=check, timeout=timeout or self._timeout)

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        self._remote.write_file(path, content, mode)

    def read_file(self, path: str) -> bytes:
        return self._remote.read_file(path)

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        return self._remote.http(method, port, path, body, timeout or self._timeout)


def check_graph(steps: Sequence[Step]) -> None:
    """Refuse duplicate names, unknown predecessors and cycles."""
    names = [s.name for s in steps]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise StepGraphError(f"duplicate step names: {', '.join(sorted(duplicates))}")
    for step in steps:
        unknown = set(step.after) - set(names)
        if unknown:
            raise StepGraphError(f"step {step.name!r} follows unknown step(s): {', '.join(sorted(unknown))}")
    facts = [fact for step in steps for fact in step.publishes]
    shared = sorted({f for f in facts if facts.count(f) > 1})
    if shared:
        raise StepGraphError(f"more than one step publishes fact(s) {', '.join(shared)}")
    _order(steps)


def _order(steps: Sequence[Step]) -> list[Step]:
    done: set[str] = set()
    ordered: list[Step] = []
    pending = list(steps)
    while pending:
        ready = [s for s in pending if set(s.after) <= done]
        if not ready:
            raise StepGraphError(f"steps form a cycle: {', '.join(s.name for s in pending)}")
        ordered.extend(ready)
        done.update(s.name for s in ready)
        pending = [s for s in pending if s.name not in done]
    return ordered


@dataclass
class _Tally:
    total: int
    done: int = 0


@dataclass
class _Run:
    """Where a run of steps stands."""

    remaining: dict[str, Step]
    finished: set[str] = field(default_factory=set)
    failures: list[Event] = field(default_factory=list)
    running: dict[futures.Future[None], tuple[Step, Instance]] = field(default_factory=dict)
    tallies: dict[str, _Tally] = field(default_factory=dict)
    completed: queue.SimpleQueue[futures.Future[None]] = field(default_factory=queue.SimpleQueue)
    """Futures as they finish: taking them from here costs the same whatever the cluster's size
    (``futures.wait`` on every running future would cost O(N) per completion, O(N²) per step)."""


class Orchestrator:
    """Runs steps over a cluster with bounded concurrency."""

    def __init__(self, context: StepContext, max_workers: int = 32) -> None:
        self.context = context
        self.max_workers = max_workers

    def instances_for(self, step: Step) -> list[Instance]:
        pool = self.context.instances if step.scope == "all" else self.context.targets
        chosen = [i for i in pool if step.selects(i)]
        return chosen[:1] if step.once else chosen

    def run(self, steps: Sequence[Step]) -> None:
        check_graph(steps)
        run = _Run({s.name: s for s in steps})
        pool = futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="step")
        try:
            while run.remaining or run.running:
                if not run.failures:
                    self._start_ready(pool, run)
                if not run.running:
                    if run.remaining and not run.failures:
                        continue  # newly finished skipped steps may have made others ready
                    break
                future = run.completed.get()
                step, instance = run.running.pop(future)
                self._settle(future, step, instance, run.tallies[step.name], run.finished, run.failures)
        except BaseException:
            # Ctrl-C or TERM: start nothing more, and do not wait for the actions under way;
            # the caller then closes their connections, which ends them.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if run.failures:
            raise StepsFailed(run.failures)

    def _start_ready(self, pool: futures.ThreadPoolExecutor, run: _Run) -> None:
        """Start every step whose predecessors have all finished, on each of its instances."""
        emit = self.context.emit
        for step in [s for s in run.remaining.values() if set(s.after) <= run.finished]:
            del run.remaining[step.name]
            targets = self.instances_for(step)
            if not targets:
                emit(Event("step_skipped", step.name, message="no instance to run on"))
                run.finished.add(step.name)
                continue
            emit(Event("step_started", step.name, total=len(targets), message=step.description))
            run.tallies[step.name] = _Tally(len(targets))
            for instance in targets:
                future = pool.submit(self._run_one, step, instance)
                run.running[future] = (step, instance)
                future.add_done_callback(run.completed.put)

    def _settle(self, future: futures.Future[None], step: Step, instance: Instance, tally: _Tally,
                finished: set[str], failures: list[Event]) -> None:
        emit = self.context.emit
        error = future.exception()
        if error is not None:
            output = error.output if isinstance(error, RemoteError) else ""
            event = Event("instance_failed", step.name, instance.name, f"{instance.name}: {_reason(error)}",
                          output)
            first = not any(f.step == step.name for f in failures)
            failures.append(event)
            emit(event)
            if first:
                emit(Event("step_failed", step.name, message=event.message))
            return
        tally.done += 1
        total = tally.total
        emit(Event("instance_done", step.name, instance.name, done=tally.done, total=total))
        if tally.done == total:
            finished.add(step.name)
            emit(Event("step_done", step.name, total=total, done=total))

    def _run_one(self, step: Step, instance: Instance) -> None:
        attempt = 0
        while True:
            try:
                remote = batched(self.context.connect(instance))
                with running(step, instance):
                    step.action(self.context, _TimedRemote(remote, step.timeout))
                if isinstance(remote, BatchedRemote):
                    remote.flush(step.timeout)
                return
            except RemoteError:
                attempt += 1
                if attempt > step.retries:
                    raise
                time.sleep(min(2.0 ** attempt * 0.25, 5.0))


def _reason(error: BaseException) -> str:
    text = str(error)
    prefix_end = text.find(": ")
    if isinstance(error, RemoteError) and prefix_end >= 0:
        return text[prefix_end + 2:]
    return text or type(error).__name__


def run_steps(context: StepContext, steps: Iterable[Step], max_workers: int = 32) -> None:
    """Run ``steps`` over ``context``'s cluster; raise :class:`StepsFailed` on failure."""
    steps = list(steps)
    context.publishers.update({fact: step for step in steps for fact in step.publishes})
    Orchestrator(context, max_workers).run(steps)
