"""Local instances: one OpenSSH server in its own namespaces per server.

An instance is `unshare --mount --uts --pid --net --fork --mount-proc` running
INIT_SCRIPT, which prepares the instance's view of the file system and then
becomes sshd, the pid namespace's init. Killing it ends every process of the
instance (whatever was started over SSH too).

What an instance sees (DIR/cloud/instances/<server id>/ = I):

- hostname = the server name (its own UTS namespace)
- a network of its own: eth0 (eth1...) with its ports' fixed addresses, routed
  through the host (local.network); sshd listens on every address of it
- /etc, /var, /opt, /home, /srv: copy-on-write overlays of the host's, upper
  layer in I/fs/upper; so /etc/hosts, /etc/hostname, /etc/ssh (its own host
  key), /var/lib/heatdeploy, /opt/heatdeploy and any write_files path there
  are private to the instance
- /root, /tmp: private folders (I/fs/root, I/fs/tmp); the host's ~/.pyenv is
  bound read-only into /root so virtualenvs built on it keep working, but
  root's .bashrc is not there (remote commands start clean and fast)
- /volumes: private (I/fs/volumes), where volumes are mounted by default
- /dev: its own (a tmpfs with the usual nodes and its own ptys); an attached
  volume appears as a block device at /dev/vdX and /dev/disk/by-id/virtio-ID
- /run: a private tmpfs
- the state dir: hidden (an empty tmpfs over it)
- everything else (/usr, /work, the project's .venv, Java): the host's,
  read-only
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from heatdeploy.local import network, processes, registry, volumes
from heatdeploy.ssh import keys

OVERLAID = ("etc", "var", "opt", "home", "srv")
# The root is read-only: the default mount prefix of volumes (/volumes/diskN) needs a writable folder.
HOST_MOUNT_POINTS = ("/volumes",)
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root", "LANG": "C.UTF-8",
}

# $1 = instance dir, $2 = hostname, $3 = state dir,
# $4 = Spark distribution to show at /opt/spark (empty: none),
# $5 = 1 for a bare image: an empty /opt and no Java runtime.
# Runs as the instance's pid 1.
INIT_SCRIPT = r"""
set -eu
I="$1"; NAME="$2"; STATE="$3"; SPARK="$4"; BARE="$5"
hostname "$NAME"
mkdir -p "$I/fs/empty"
for d in etc var opt home srv; do
  [ -d "/$d" ] || continue
  lower="/$d"
  if [ "$BARE" = 1 ] && [ "$d" = opt ]; then lower="$I/fs/empty"; SPARK=""; fi
  mount -t overlay "instance-$d" \
    -o "lowerdir=$lower,upperdir=$I/fs/upper/$d,workdir=$I/fs/work/$d" "/$d"
done
if [ "$BARE" = 1 ] && [ -d /usr/lib/jvm ]; then
  mount -t tmpfs -o ro,size=1m,mode=0755 instance-no-java /usr/lib/jvm
fi
if [ -n "$SPARK" ] && [ -d "$SPARK" ]; then
  mkdir -p /opt/spark
  mount --bind "$SPARK" /opt/spark
  mount -o remount,bind,ro /opt/spark
fi
mount -t tmpfs -o mode=0755,size=256m instance-run /run
mkdir -p /run/sshd /run/local /run/.m/root /run/.m/tmp /run/.m/dev
mount --bind "$I/local" /run/local
mount --bind "$I/fs/volumes" /volumes
# A /dev of its own, as a VM has: the usual nodes, its own ptys, and the block
# devices of attached volumes only (made when attached, at the names they have).
mount -t tmpfs -o mode=0755,size=1m instance-dev /run/.m/dev
for node in null zero full random urandom tty; do
  touch "/run/.m/dev/$node"; mount --bind "/dev/$node" "/run/.m/dev/$node"
done
mkdir -p /run/.m/dev/pts /run/.m/dev/shm /run/.m/dev/disk/by-id
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 instance-pts /run/.m/dev/pts
ln -s pts/ptmx /run/.m/dev/ptmx
mount -t tmpfs -o mode=1777,size=64m instance-shm /run/.m/dev/shm
ln -s /proc/self/fd /run/.m/dev/fd
ln -s /proc/self/fd/0 /run/.m/dev/stdin; ln -s /proc/self/fd/1 /run/.m/dev/stdout
ln -s /proc/self/fd/2 /run/.m/dev/stderr
mount --move /run/.m/dev /dev
if [ -d /root/.pyenv ]; then
  mkdir -p "$I/fs/root/.pyenv"
  mount --bind /root/.pyenv "$I/fs/root/.pyenv"
  mount -o remount,bind,ro "$I/fs/root/.pyenv"
fi
# Staged through /run so the sources stay reachable whatever holds the state dir.
mount --rbind "$I/fs/root" /run/.m/root
mount --bind "$I/fs/tmp" /run/.m/tmp
mount --move /run/.m/root /root
mount --move /run/.m/tmp /tmp
# Hide the state dir (secrets, other instances) wherever it lives; the mounts
# above keep their sources.
if [ -d "$STATE" ]; then mount -t tmpfs -o size=1m,mode=0700 instance-hidden "$STATE"; fi
mount -o remount,bind,ro /
# User data runs once per instance (not again when `up` restarts it), after
# sshd listens (sshd writes its pid file after binding) and the host has
# plugged in the instance's network.
if [ ! -e /var/lib/cloud/instance/boot-finished ]; then
  (
    n=0
    while { [ ! -s /run/sshd.pid ] || [ ! -e /run/local/network-ready ]; } && [ $n -lt 2000 ]; do
      sleep 0.01; n=$((n+1))
    done
    cd /
    exec sh /run/local/user-data.sh
  ) > /var/log/cloud-init-output.log 2>&1 < /dev/null &
fi
exec /usr/sbin/sshd -D -e -f /run/local/sshd_config
"""


@functools.cache
def spark_distribution() -> str:
    """The local images' Spark: pyspark's bundled distribution, when it is installed."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(list(spec.submodule_search_locations)[0]))


def instance_dir(server_id: str) -> Path:
    return registry.root() / "instances" / server_id


def generate_host_key() -> tuple[str, str]:
    """(private key in OpenSSH format, public key line) for an ed25519 host key."""
    pair = keys.generate()
    return pair.private, pair.public


def sshd_config() -> str:
    # Every address of the instance's own network: its ports', whatever they become.
    return """ListenAddress 0.0.0.0:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile /root/.ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
MaxStartups 200:30:400
MaxSessions 200
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""


def _private_write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def prepare(server_id: str, name: str, addresses: list[str], authorized_keys: list[str],
            boot_script: str) -> str:
    """Lay out the instance folder; return the public host key line."""
    idir = instance_dir(server_id)
    fs = idir / "fs"
    for d in OVERLAID:
        (fs / "upper" / d).mkdir(parents=True, exist_ok=True)
        (fs / "work" / d).mkdir(parents=True, exist_ok=True)
    for d in ("root", "tmp", "volumes"):
        (fs / d).mkdir(parents=True, exist_ok=True)
    (fs / "tmp").chmod(0o1777)
    (fs / "root").chmod(0o700)
    etc = fs / "upper" / "etc"
    (etc / "hostname").write_text(f"{name}\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n{addresses[0]}\t{name}\n")
    private, public = generate_host_key()
    _private_write(etc / "ssh" / "ssh_host_ed25519_key", private, 0o600)
    (etc / "ssh" / "ssh_host_ed25519_key.pub").write_text(f"{public} root@{name}\n")
    (etc / "ssh").chmod(0o755)
    # As cloud-init leaves it on a real server: the instance reports its host key under this id.
    cloud_data = fs / "upper" / "var" / "lib" / "cloud" / "data"
    cloud_data.mkdir(parents=True, exist_ok=True)
    (cloud_data / "instance-id").write_text(f"{server_id}\n")
    _private_write(fs / "root" / ".ssh" / "authorized_keys",
                   "".join(f"{k}\n" for k in authorized_keys), 0o600)
    (fs / "root" / ".ssh").chmod(0o700)
    local = idir / "local"
    local.mkdir(exist_ok=True)
    local.chmod(0o700)
    (local / "sshd_config").write_text(sshd_config())
    # The boot script may hold tokens (wait condition signals): owner-only.
    _private_write(local / "user-data.sh", boot_script, 0o700)
    return public


def ensure_host_mount_points() -> None:
    """Mount points the instances need but the host lacks (empty folders)."""
    for point in HOST_MOUNT_POINTS:
        os.makedirs(point, exist_ok=True)


def start(server_id: str, name: str, ports: list[dict[str, Any]], image: str = "local") -> int:
    """Start the instance of ``image`` and plug in its ports; returns the pid (and process group) of its unshare."""
    ensure_host_mount_points()
    idir = instance_dir(server_id)
    (idir / "local" / "network-ready").unlink(missing_ok=True)
    argv = ["unshare", "--mount", "--uts", "--pid", "--net", "--fork", "--mount-proc", "--kill-child",
            "--", "/bin/sh", "-c", INIT_SCRIPT, "instance-init", str(idir), name,
            str(registry.root().parent), spark_distribution(), "1" if image in registry.BARE_IMAGES else "0"]
    pid = processes.start(argv, idir / "console.log", env=CLEAN_ENV, cwd=Path("/"))
    (idir / "pid").write_text(str(pid))
    processes.wait_until(lambda: init_pid(pid) is not None or not processes.alive(pid), 10.0, interval=0.005,
                         what=f"instance {server_id} to start")
    child = init_pid(pid)
    if child is None:
        raise RuntimeError(f"instance {server_id} did not start: {_console_tail(server_id)}")
    network.plumb(registry.octet(), child, ports)
    (idir / "local" / "network-ready").touch()
    return pid


def _console_tail(server_id: str) -> str:
    console = instance_dir(server_id) / "console.log"
    return console.read_text()[-500:] if console.exists() else ""


def recorded_pid(server_id: str) -> int | None:
    try:
        return int((instance_dir(server_id) / "pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def init_pid(unshare_pid: int) -> int | None:
    """Host pid of the instance's pid 1 (sshd), the only child of unshare."""
    try:
        children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
    except FileNotFoundError:
        return None
    return int(children[0]) if children else None


def reap(pid: int) -> None:
    """Collect the exit status when this process is the parent (heat-engine is)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def running(server_id: str) -> bool:
    pid = recorded_pid(server_id)
    if pid is None:
        return False
    reap(pid)
    return processes.alive(pid) and init_pid(pid) is not None


def listening(server_id: str) -> bool:
    """Whether the instance's sshd listens (read from the host: its fixed addresses may be unreachable)."""
    pid = recorded_pid(server_id)
    child = init_pid(pid) if pid else None
    return child is not None and network.listening(child)


def kill(server_id: str) -> None:
    """SIGKILL the instance: its pid 1 dying ends the whole pid namespace."""
    pid = recorded_pid(server_id)
    if pid is None:
        return
    child = init_pid(pid)
    for target in (child, pid):
        if target:
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    reap(pid)


def gone(server_id: str) -> bool:
    pid = recorded_pid(server_id)
    if pid is None:
        return True
    reap(pid)
    return not processes.alive(pid)


def remove(server_id: str) -> None:
    shutil.rmtree(instance_dir(server_id), ignore_errors=True)


def nsenter(server_id: str, script: str, *args: str) -> None:
    """Run a shell script in the instance's mount and pid namespaces (so that its /proc is the
    instance's), ``args`` as its $1..."""
    pid = recorded_pid(server_id)
    child = init_pid(pid) if pid else None
    if not child:
        raise RuntimeError(f"instance {server_id} is not running")
    argv = ["nsenter", f"--target={child}", "--mount", "--pid", "--", "/bin/sh", "-c", script, "sh", *args]
    done = subprocess.run(argv, capture_output=True, text=True, env=CLEAN_ENV, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"instance {server_id}: {done.stderr.strip() or f'exit status {done.returncode}'}")


# $1 = device path, $2 = by-id path, $3 $4 = major minor
_MAKE_NODES = 'for d in "$1" "$2"; do rm -f "$d"; mknod "$d" b "$3" "$4"; done'
# The fstab entries the volumes step writes (ext4, nofail); failures are the guest's to see, not the boot's.
_MOUNT_FSTAB = r"""
awk '$1 !~ /^#/ && $4 ~ /(^|,)nofail(,|$)/ {print $2}' /etc/fstab | while read -r target; do
  mountpoint -q "$target" || mount "$target" || true
done
"""
# $1 $2 = the volume's device paths: unmount what was mounted from them (deepest first), remove them.
_REMOVE_NODES = r"""
for d in "$1" "$2"; do
  [ -b "$d" ] || continue
  awk -v a="$d" -v b="$(readlink -f "$d")" '$1 == a || $1 == b {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -f "$d"
done
"""


def attach_volume(server_id: str, volume_id: str, device: str, loop: str) -> None:
    """Show the loop device ``loop`` inside the instance at ``device`` (/dev/vdb) and at
    /dev/disk/by-id/virtio-<first 20 characters of the volume id>, as a KVM guest sees a Cinder volume."""
    rdev = os.stat(loop).st_rdev
    nsenter(server_id, _MAKE_NODES, device, by_id_path(volume_id), str(os.major(rdev)), str(os.minor(rdev)))


def by_id_path(volume_id: str) -> str:
    return f"/dev/disk/by-id/virtio-{volume_id[:20]}"


def detach_volume(server_id: str, volume_id: str, device: str) -> None:
    """Unmount whatever the instance mounted from the volume, and remove its device nodes."""
    if running(server_id):
        nsenter(server_id, _REMOVE_NODES, device, by_id_path(volume_id))


def restart_stopped() -> list[str]:
    """Start again the instances of existing servers (after `down` then `up`),
    like VMs rebooting: files kept, processes gone, volumes re-attached and
    mounted again from the instance's fstab."""
    restarted = []
    for server in registry.all_of("servers"):
        server_id = server["id"]
        if not instance_dir(server_id).is_dir() or running(server_id):
            continue
        ports = [p for p in (registry.load("ports", i) for i in server.get("ports", [])) if p]
        start(server_id, server.get("hostname") or server["name"], ports, server.get("image", "local"))
        restarted.append(server_id)
    for server_id in restarted:
        processes.wait_until(functools.partial(listening, server_id), 30.0,
                             what=f"instance {server_id} listening")
        for attachment in registry.all_of("volume_attachments"):
            if attachment.get("server_id") == server_id:
                loop = volumes.attach_loop(attachment["volume_id"])
                attach_volume(server_id, attachment["volume_id"], attachment["device"], loop)
        # What a booting guest does with its fstab: mount what is there, skipping what is missing.
        nsenter(server_id, _MOUNT_FSTAB)
    return restarted
