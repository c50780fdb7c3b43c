"""Steps every cluster gets before its framework's: SSH, host names, volumes."""

from __future__ import annotations

from heatdeploy.plugin.framework import Operation
from heatdeploy.plugin.remote import Remote
from heatdeploy.plugin.steps import Step, StepContext

HOSTS_MARK = "# heatdeploy cluster members"

# Formats (when blank) and mounts the instance's unused disks at PREFIX1..N.
# Disks already mounted at their target are left alone, so it is safe to rerun.
MOUNT_SCRIPT = r"""
prefix=$1 count=$2
n=1
while [ "$n" -le "$count" ]; do
  target="$prefix$n"
  if mountpoint -q "$target"; then n=$((n + 1)); continue; fi
  device=$(lsblk -dpno NAME,TYPE | awk '$2 == "disk" {print $1}' | sort | while read -r d; do
      [ -z "$(lsblk -no MOUNTPOINT "$d" | tr -d '[:space:]')" ] && [ "$(lsblk -no NAME "$d" | wc -l)" -eq 1 ] \
        && echo "$d"; done | head -n 1)
  if [ -z "$device" ]; then echo "no unused disk for $target" >&2; exit 1; fi
  blkid "$device" > /dev/null || mkfs.ext4 -q -F "$device"
  mkdir -p "$target"
  mount "$device" "$target"
  echo "$device $target ext4 defaults,nofail 0 2" >> /etc/fstab
  n=$((n + 1))
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

