"""Steps every cluster gets before its framework's: SSH, host names, volumes."""

from __future__ import annotations

from heatdeploy.plugin.framework import Operation
from heatdeploy.plugin.remote import Remote
from heatdeploy.plugin.steps import Step, StepContext

HOSTS_MARK = "# heatdeploy cluster members"

# Mounts the instance's volumes at PREFIX1..N, formatting a disk only when it has
# no filesystem. Disks are named by their stable path (/dev/disk/by-id/virtio-*,
# as KVM shows Cinder volumes), else by lsblk's whole, unpartitioned disks; a disk
# is free when it is neither mounted nor in /etc/fstab. A target already in fstab
# is mounted from there (after a reboot), so a rerun never swaps or reformats disks.
MOUNT_SCRIPT = r"""
set -eu
prefix=$1 count=$2
disks() {
  found=$(ls -1 /dev/disk/by-id/virtio-* 2>/dev/null | sort) || true
  if [ -n "$found" ]; then echo "$found"; return; fi
  lsblk -dpno NAME,TYPE | awk '$2 == "disk" {print $1}' | sort
}
used() {
  awk -v a="$1" -v b="$(readlink -f "$1")" '$1 == a || $1 == b {found = 1} END {exit !found}' \
    /proc/mounts /etc/fstab && return 0
  [ "$(lsblk -no NAME "$1" 2>/dev/null | wc -l)" -gt 1 ]
}
n=1
while [ "$n" -le "$count" ]; do
  target="$prefix$n"
  n=$((n + 1))
  mountpoint -q "$target" && continue
  mkdir -p "$target"
  if awk -v t="$target" '$2 == t {found = 1} END {exit !found}' /etc/fstab; then
    mount "$target"; continue
  fi
  device=""
  for d in $(disks); do
    if ! used "$d"; then device=$d; break; fi
  done
  if [ -z "$device" ]; then echo "no unused disk for $target" >&2; exit 1; fi
  blkid "$device" > /dev/null || mkfs.ext4 -q -F "$device"
  echo "$device $target ext4 defaults,nofail 0 2" >> /etc/fstab
  mount "$target"
done
"""


def ssh_ready(ctx: StepContext, remote: Remote) -> None:
    remote.run(["true"])


def hosts_file(ctx: StepContext) -> str:
    lines = [f"{i.fixed_ip} {i.name}" for i in ctx.instances]
    return f"127.0.0.1 localhost\n{HOSTS_MARK}\n" + "\n".join(lines) + "\n"


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
        Step("hosts", hosts, scope="all", after=("ssh",),
             description="set host names and write /etc/hosts with every member"),
        Step("volumes", volumes, after=("ssh",), description="format and mount volumes"),
    ]

