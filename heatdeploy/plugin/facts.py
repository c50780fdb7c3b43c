"""Facts: data one step publishes per instance and later steps read, kept with the cluster.

A storage node's devices, a ring file's checksum, a generated password: what
one role produces and another needs. Facts live in the cluster's record, so
a scale-up months after the launch, from another machine, reads what the
launch published. Values are JSON data, bounded in size; they reach a file,
a shell or a template only the way any value does (quoted by whoever uses
them), and secret ones are never shown.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from heatdeploy.errors import HeatdeployError

MAX_VALUE_BYTES = 64 * 1024
"""The largest fact one instance may publish, as JSON."""
MAX_TOTAL_BYTES = 4 * 1024 * 1024
"""The most a cluster's facts may hold, as JSON: they travel in its record."""


_ABSENT = object()


class FactError(HeatdeployError):
    """A fact that cannot be published (not JSON, too large) or that an instance never published."""


@dataclass
class Facts:
    """Every fact of a cluster: name, then instance name, to the value. Safe to use from parallel steps."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret: set[str] = field(default_factory=set)
    """Names of facts whose values are secrets: never shown in events, logs or output."""
    publishers: dict[str, str] = field(default_factory=dict)
    """Fact name to the step that declares it publishes it (``Step.publishes``), for error messages."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def publish(self, instance: str, name: str, value: Any, secret: bool = False) -> None:
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise FactError(f"fact {name!r} of {instance} is not JSON data: {exc}") from None
        if len(text.encode()) > MAX_VALUE_BYTES:
            raise FactError(f"fact {name!r} of {instance} is {len(text.encode())} bytes as JSON "
                            f"(at most {MAX_VALUE_BYTES}): keep large data in files or Swift, and publish where")
        with self._lock:
            by_instance = self.values.setdefault(name, {})
            before = by_instance.get(instance, _ABSENT)
            by_instance[instance] = json.loads(text)  # a copy the caller cannot change
            if self.size() > MAX_TOTAL_BYTES:
                if before is _ABSENT:
                    del by_instance[instance]
                else:
                    by_instance[instance] = before
                raise FactError(f"the cluster's facts would exceed {MAX_TOTAL_BYTES} bytes with {name!r} of "
                                f"{instance}")
            if secret:
                self.secret.add(name)

    def of(self, name: str) -> dict[str, Any]:
        """Instance name to value, for every instance that published ``name``."""
        with self._lock:  # copies: a caller changing what it read changes nothing here
            return json.loads(json.dumps(self.values.get(name, {})))

    def forget(self, instances: Iterable[str]) -> None:
        """Drop what removed instances published."""
        gone = set(instances)
        with self._lock:
            for by_instance in self.values.values():
                for instance in gone & set(by_instance):
                    del by_instance[instance]

    def size(self) -> int:
        return len(json.dumps(self.values).encode())

    def to_record(self) -> dict[str, Any]:
        with self._lock:
            return {"values": json.loads(json.dumps(self.values)), "secret": sorted(self.secret)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any] | None) -> Facts:
        data = data or {}
        return cls(values={k: dict(v) for k, v in data.get("values", {}).items()}, secret=set(data.get("secret", ())))
