"""What a framework needs its instances' image to have: :class:`ImageRequirements`."""

from __future__ import annotations

from dataclasses import dataclass


def _problem(value: str, absolute: bool) -> str | None:
    """Why ``value`` cannot be checked for, or ``None`` when it can."""
    if not value or value.strip() != value:
        return "must be non-empty, without leading or trailing spaces"
    if "\0" in value or "\n" in value:
        return "must not contain NUL or newline characters"
    if absolute and not value.startswith("/"):
        return "must be an absolute path"
    if not absolute and not value.startswith("/") and (value.startswith("-") or "/" in value):
        # command -v would read a leading '-' as an option, and a relative path depends on the folder.
        return "must be a command name (no '/', not starting with '-') or an absolute path"
    return None


@dataclass(frozen=True)
class ImageRequirements:
    """What every instance's image must have before a framework's steps can run on it.

    heatdeploy checks it on every new instance (at launch and scale-up) right
    after SSH answers, in the common step ``image``, with one command per
    instance, before anything is written; a miss fails the operation with one
    line naming the instance, its image and everything missing. The default
    requires nothing, and runs no command.
    """

    commands: tuple[str, ...] = ()
    """Command names that must be found on the ``PATH`` of heatdeploy's SSH sessions (``command -v``),
    such as ``"bash"``, or absolute paths of files that must be executable (``"/usr/bin/python3"``:
    useful when a config names the command)."""
    paths: tuple[str, ...] = ()
    """Absolute paths that must exist (a file or a folder), such as ``"/opt/spark/bin/spark-class"``."""
    java: bool = False
    """Whether a Java runtime is needed: ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set, else ``java``
    on the ``PATH``, which is where Spark's and Hadoop's launch scripts look."""

    def __post_init__(self) -> None:
        # A plugin's typo surfaces when its module loads, not on some instance mid-launch.
        for field_name, values, absolute in (("commands", self.commands, False), ("paths", self.paths, True)):
            if isinstance(values, str):
                raise TypeError(f"ImageRequirements.{field_name} must be a tuple of strings, not a string")
            for value in values:
                problem = _problem(value, absolute)
                if problem:
                    raise ValueError(f"ImageRequirements.{field_name}: {value!r} {problem}")

