"""Steps every cluster gets before its framework's: SSH, the image check, host names, volumes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.framework import Operation
from heatdeploy.plugin.image import ImageRequirements
from heatdeploy.plugin.remote import Remote, RemoteError
from heatdeploy.plugin.steps import Step, StepContext

HOSTS_MARK = "# heatdeploy cluster members"
IMAGE_STEP = "image"

# Checks requirements given as KIND VALUE argument pairs, all in one round trip.
# It prints the position of each one missing, so that only numbers come back to
# parse, and exits 1 when any is missing. The Java check looks where Spark's and
# Hadoop's launch scripts do: $JAVA_HOME/bin/java when JAVA_HOME is set, else PATH.
IMAGE_SCRIPT = r"""
i=0 missing=0
while [ "$#" -ge 2 ]; do
  kind=$1 value=$2
  shift 2
  case $kind in
    command) command -v "$value" > /dev/null 2>&1 ;;
    executable) [ -f "$value" ] && [ -x "$value" ] ;;
    path) [ -e "$value" ] ;;
    java)
      if [ -n "${JAVA_HOME:-}" ]; then [ -x "$JAVA_HOME/bin/java" ]
      else command -v java > /dev/null 2>&1; fi ;;
    *) false ;;
  esac || { echo "$i"; missing=1; }
  i=$((i + 1))
done
exit "$missing"
"""

# Mounts the instance's volumes at PREFIX1..N, formatting a disk only when it has
# no filesystem. Disks are named by their stable path (/dev/disk/by-id/virtio-*,
# as KVM shows Cinder volumes), else by lsblk's whole, unpartitioned disks; a disk
# is free when it is neither mounted nor in /etc/fstab. A target already in fstab
# is mounted from there (after a reboot), so a rerun never swaps or reformats disks.
MOUNT_SCRIPT = r"""
set -eu
prefix=$1 count=$2
disks() {
  found=$(ls -1 /dev/disk/by-id/virtio-* 2>/dev/null | grep -v -- '-part[0-9]*$' | sort) || true
  if [ -n "$found" ]; then echo "$found"; return; fi
  lsblk -dpno NAME,TYPE | awk '$2 == "disk" {print $1}' | sort
}
used() {
  awk -v a="$1" -v b="$(readlink -f "$1")" '$1 !~ /^#/ && ($1 == a || $1 == b) {found = 1} END {exit !found}' \
    /proc/mounts /etc/fstab && return 0
  [ "$(lsblk -no NAME "$1" 2>/dev/null | wc -l)" -gt 1 ]
}
n=1
while [ "$n" -le "$count" ]; do
  target="$prefix$n"
  n=$((n + 1))
  mountpoint -q "$target" && continue
  mkdir -p "$target"
  if awk -v t="$target" '$1 !~ /^#/ && $2 == t {found = 1} END {exit !found}' /etc/fstab; then
    mount "$target"; continue
  fi
  device=""
  for d in $(disks); do
    if ! used "$d"; then device=$d; break; fi
  done
  if [ -z "$device" ]; then echo "no unused disk for $target" >&2; exit 1; fi
  # Format only what blkid finds nothing on (exit 2), never a disk it could not read or tell apart.
  status=0; blkid -p "$device" > /dev/null 2>&1 || status=$?
  case $status in
    0) ;;
    2) mkfs.ext4 -q -F "$device" ;;
    *) echo "cannot tell whether $device holds a filesystem (blkid exit $status)" >&2; exit 1 ;;
  esac
  echo "$device $target ext4 defaults,nofail 0 2" >> /etc/fstab
  mount "$target"
done
"""


def ssh_ready(ctx: StepContext, remote: Remote) -> None:
    remote.run(["true"])


class UnsuitableImage(HeatdeployError):
    """An instance's image lacks what the framework needs; names the instance, its image and every miss."""

    def __init__(self, instance: str, image: str, needs: str, missing: Iterable[str]) -> None:
        self.instance = instance
        self.missing = list(missing)
        super().__init__(f"instance {instance} (image {image}) lacks what {needs} needs: "
                         + ", ".join(self.missing))


def _checks(requirements: ImageRequirements) -> list[tuple[str, str, str]]:
    """(kind, value, what to call it when missing) for each requirement, in the order they are reported."""
    return ([("executable", c, f"{c} (executable)") if c.startswith("/") else ("command", c, f"{c} on the PATH")
             for c in requirements.commands]
            + [("path", p, p) for p in requirements.paths]
            + ([("java", "java", "a Java runtime (java)")] if requirements.java else []))


def image_check_command(requirements: ImageRequirements) -> list[str]:
    """The one command that checks every requirement on an instance: an argv list, so no value is
    ever read as shell text (see :data:`IMAGE_SCRIPT`)."""
    pairs = [word for kind, value, _ in _checks(requirements) for word in (kind, value)]
    return ["sh", "-c", IMAGE_SCRIPT, "sh", *pairs]


def _printable(text: str) -> str:
    """``text`` itself, or its repr when it would break the one-line error (an image name is user input)."""
    return text if text.isprintable() else repr(text)


def check_image(ctx: StepContext, remote: Remote) -> None:
    """Fail, naming everything missing, when the instance's image lacks what the framework needs."""
    requirements = ctx.framework.image_requirements(ctx.spec)
    if not _checks(requirements):
        return
    instance = remote.instance
    result = remote.run(image_check_command(requirements), check=False)
    if result.status == 0:
        return
    missing = _missing(requirements, result.stdout)
    if result.status != 1 or not missing:
        raise RemoteError(instance.name, f"the image check exited with status {result.status}", result.tail())
    image = _printable(ctx.group(instance).image or "unknown")
    raise UnsuitableImage(instance.name, image, f"{ctx.framework.name} {ctx.spec.version}", missing)


def _missing(requirements: ImageRequirements, output: str) -> list[str]:
    """What the positions :data:`IMAGE_SCRIPT` printed stand for, in the order they are declared."""
    checks = _checks(requirements)
    found = {int(word) for word in output.split() if word.isdigit()}
    return [what for n, (_, _, what) in enumerate(checks) if n in found]


def hosts_file(ctx: StepContext) -> str:
    def compute() -> str:
        lines = [f"{i.fixed_ip} {i.name}" for i in ctx.instances]
        return f"127.0.0.1 localhost\n{HOSTS_MARK}\n" + "\n".join(lines) + "\n"
    return ctx.memo("hosts_file", compute)


def hosts(ctx: StepContext, remote: Remote) -> None:
    name = remote.instance.name
    remote.write_file("/etc/hosts", hosts_file(ctx))
    remote.write_file("/etc/hostname", name + "\n")
    remote.run(["hostname", name])


def volumes(ctx: StepContext, remote: Remote) -> None:
    spec = ctx.group(remote.instance).volumes
    if spec:
        remote.run(["sh", "-c", MOUNT_SCRIPT, "sh", spec.mount_prefix, str(spec.count)])


def common_steps(operation: Operation = "launch") -> list[Step]:
    """The steps heatdeploy runs before a framework's: none for a decommission,
    whose instances are already set up."""
    if operation == "decommission":
        return []
    return [
        Step("ssh", ssh_ready, description="connect over SSH with the pinned host key"),
        Step(IMAGE_STEP, check_image, after=("ssh",),
             description="check the image has what the framework needs"),
        Step("hosts", hosts, scope="all", after=(IMAGE_STEP,),
             description="set host names and write /etc/hosts with every member"),
        Step("volumes", volumes, after=(IMAGE_STEP,), description="format and mount volumes"),
    ]


def with_common_steps(operation: Operation, steps: Iterable[Step]) -> list[Step]:
    """heatdeploy's common steps for ``operation``, then ``steps``, each made to follow the image check.

    A framework's or add-on's step may follow only ``ssh``, or nothing at
    all; it must still never act on an instance whose image cannot run the
    framework, so ``image`` is added to what it follows.
    """
    common = common_steps(operation)
    if not common:
        return list(steps)
    return [*common, *(_after_image(step) for step in steps)]


def _after_image(step: Step) -> Step:
    if IMAGE_STEP in step.after:
        return step
    return dataclasses.replace(step, after=(*step.after, IMAGE_STEP))

