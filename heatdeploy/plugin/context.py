"""What plugin code knows about a cluster, in steps, health checks and job engines alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from heatdeploy.plugin.framework import Framework
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Remote
from heatdeploy.spec.model import ClusterSpec, NodeGroup

T = TypeVar("T")


@dataclass
class ClusterContext:
    """A launched cluster: its spec, framework, instances, and a way to reach each instance.

    :class:`~heatdeploy.StepContext` (steps and health checks) and
    :class:`~heatdeploy.JobContext` (job engines) extend it, so a config
    value or a process's instances are read the same way everywhere.
    """

    spec: ClusterSpec
    framework: Framework
    instances: list[Instance]
    connect: Callable[[Instance], Remote]
    _memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _memo_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def remote(self, instance: Instance) -> Remote:
        """The connection to ``instance`` (persistent for the whole operation)."""
        return self.connect(instance)

    def running(self, process: str) -> list[Instance]:
        """The instances running ``process``, by group and index."""
        return list(self.memo(("running", process), lambda: [i for i in self.instances if i.runs(process)]))

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per context and ``key``: what every instance's step would work out alike.

        A step runs on each instance, so anything it derives from the whole
        cluster (a hosts file, a members list) costs O(N) per instance and
        O(N²) per step unless it is worked out once. Don't mutate what it returns.
        A context lives for one operation: what it memoises does not follow
        later changes to ``instances``.
        """
        try:
            return cast(T, self._memo[key])
        except KeyError:
            pass
        # Every instance's thread asks at once when a step starts: one computes, the others wait for it,
        # so a value that differs between calls (a token) is the same for all of them. The lock is
        # reentrant because a computation may use memo itself (running() does).
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return cast(T, self._memo[key])

    def group(self, instance: Instance) -> NodeGroup:
        """The node group ``instance`` belongs to."""
        return next(g for g in self.spec.node_groups if g.name == instance.group)

    def config(self, name: str, instance: Instance | None = None) -> Any:
        """A framework config value: ``instance``'s node group's, else the cluster's, else the default.

        Raises ``KeyError`` for a name the framework does not declare.
        """
        option = self.framework.config(name)
        if option is None:
            raise KeyError(f"{self.framework.name} has no config {name!r}")
        if instance is not None and name in self.group(instance).configs:
            return self.group(instance).configs[name]
        return self.spec.configs.get(name, option.default)
