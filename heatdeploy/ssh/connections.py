"""Reaching instances over SSH: commands, file transfer and HTTP over one path.

Every instance is reached at its management address (the floating one when
present and enabled, else the fixed one), directly, through a proxy
command, or through a proxy-gateway instance. HTTP to services on an
instance is tunnelled through the same SSH connection, so it works in every
topology that SSH does. Host keys are pinned to what the instance reported
at boot; anything else is refused.
"""

from __future__ import annotations

import base64
import http.client
import io
import logging
import posixpath
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import paramiko

from heatdeploy.errors import HeatdeployError
from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import Command, Remote, RemoteError, Result
from heatdeploy.ssh.batching import FileWrite, ScriptRunner, short

# paramiko logs refused tunnel channels (a service still starting, polled until
# ready) as errors; heatdeploy reports what matters itself. With no handler of
# its own, such a record would reach stderr through logging's last resort in an
# application that configured no logging; records still propagate to any that did.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class AccessConfig:
    """How to reach a cluster's instances."""

    private_key: str
    user: str = "root"
    port: int = 22
    use_floating_ip: bool = True
    proxy_command: str | None = None
    """A command template with ``{host}`` and ``{port}``, such as ``ssh -W {host}:{port} bastion``."""
    connect_timeout: float = 20.0
    command_timeout: float = 600.0
    connect_attempts: int = 5


def management_address(instance: Instance, config: AccessConfig) -> str:
    if config.use_floating_ip and instance.floating_ip:
        return instance.floating_ip
    return instance.fixed_ip


def gateway_for(instance: Instance, instances: Iterable[Instance]) -> Instance | None:
    """The proxy gateway to reach ``instance`` through, if its cluster has one."""
    if instance.proxy_gateway:
        return None
    return next((i for i in instances if i.proxy_gateway), None)


def known_host(address: str, port: int) -> str:
    """How known_hosts names ``address``."""
    return address if port == 22 else f"[{address}]:{port}"


def private_write_script(path: str, size: int, mode: int) -> str:
    """Shell text writing standard input (``size`` bytes) to ``path``, which others may not read.

    SFTP creates files readable by others until chmod; a file made under
    umask 077 never is, and the content comes on stdin, off the command
    line. It replaces the old file only once complete: a dropped connection
    ends cat's input early, which the size check catches.
    """
    folder = posixpath.dirname(path) or "."
    new = shlex.quote(posixpath.join(folder, f".{posixpath.basename(path)}.heatdeploy-new"))
    steps = [shlex.join(["mkdir", "-p", "--", folder]), "umask 077", f"cat >| {new}",
             f'[ "$(wc -c < {new})" -eq {size:d} ]', f"chmod {mode:o} -- {new}",
             f"mv -f -- {new} {shlex.quote(path)}"]
    return " && ".join(steps) + f" || {{ rm -f -- {new}; exit 1; }}"


def pinned_key(instance: Instance) -> paramiko.PKey:
    if not instance.host_key:
        raise RemoteError(instance.name, "no host key was reported at boot; refusing to connect")
    try:
        key_type, data = instance.host_key.split()[:2]
        return paramiko.PKey.from_type_string(key_type, base64.b64decode(data))
    except (ValueError, paramiko.SSHException) as exc:
        raise RemoteError(instance.name, f"reported host key is unusable: {exc}") from None


def _load_private_key(text: str) -> paramiko.PKey:
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except paramiko.SSHException:
            continue
    raise HeatdeployError("the cluster's private key is not an ed25519, ECDSA or RSA key")


class SSHRemote:
    """One persistent SSH connection to an instance, used by many steps at once."""

    def __init__(self, instance: Instance, client: paramiko.SSHClient, config: AccessConfig) -> None:
        self.instance = instance
        self.client = client
        self.config = config
        self._sftp_client: paramiko.SFTPClient | None = None
        self._sftp_lock = threading.Lock()
        self._dirs: set[str] = set()
        # One record of the folders known to exist, for SFTP and batched writes alike.
        self._runner = ScriptRunner(instance.name, self._exec, self.write_file, self._dirs)

    @property
    def transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise RemoteError(self.instance.name, "SSH connection is closed")
        return transport

    def run(self, command: Command, *, stdin: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> Result:
        return self.run_with_files((), command, stdin=stdin, check=check, timeout=timeout)

    def run_with_files(self, files: Sequence[FileWrite], command: Command, *, stdin: bytes | None = None,
                       check: bool = True, timeout: float | None = None) -> Result:
        """Write ``files`` (see :mod:`heatdeploy.batching`), then run ``command``, in one round trip."""
        return self._runner.run(files, command, stdin=stdin, check=check, timeout=timeout)

    def _exec(self, script: str, stdin: bytes | None, timeout: float | None, label: str) -> tuple[int, bytes, bytes]:
        shown = short(label)  # never the script itself: it may carry the content of secret files
        deadline = time.monotonic() + (timeout or self.config.command_timeout)
        try:
            channel = self.transport.open_session()
            channel.exec_command(script)
            if stdin is not None:
                channel.sendall(stdin)
            channel.shutdown_write()
            return _collect(channel, deadline)
        except TimeoutError:  # before OSError, of which it is a kind
            raise RemoteError(self.instance.name, f"timed out running {shown}") from None
        except (paramiko.SSHException, OSError) as exc:
            raise RemoteError(self.instance.name, f"SSH failed running {shown}: {exc}") from None

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        data = content.encode() if isinstance(content, str) else content
        if not mode & 0o004:
            self._write_private(path, data, mode)
            return
        # Over SFTP: no process on the instance per file. Steps' small text files
        # travel with their next command instead (heatdeploy.batching).
        with self._sftp_lock:
            try:
                sftp = self._sftp()
                self._makedirs(sftp, posixpath.dirname(path))
                with sftp.open(path, "wb") as out:  # in place: /etc/hosts may be a bind mount
                    out.chmod(mode)
                    out.write(data)
            except (OSError, paramiko.SSHException) as exc:
                raise RemoteError(self.instance.name, f"cannot write {path}: {exc}") from None

    def _write_private(self, path: str, data: bytes, mode: int) -> None:
        status, _, err = self._exec(private_write_script(path, len(data), mode), data, None, f"write {path}")
        if status != 0:
            raise RemoteError(self.instance.name, f"cannot write {path}", err.decode(errors="replace"))

    def _sftp(self) -> paramiko.SFTPClient:
        if self._sftp_client is None or self._sftp_client.sock.closed:
            client = paramiko.SFTPClient.from_transport(self.transport)
            if client is None:
                raise RemoteError(self.instance.name, "the SSH server refused an SFTP session")
            self._sftp_client = client
            self._dirs.clear()
        return self._sftp_client

    def _makedirs(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        missing = []
        while directory not in ("", "/") and directory not in self._dirs:
            try:
                sftp.stat(directory)
                break
            except FileNotFoundError:
                missing.append(directory)
                directory = posixpath.dirname(directory)
        for folder in reversed(missing):
            sftp.mkdir(folder)
        self._dirs.update(missing)

    def read_file(self, path: str) -> bytes:
        status, out, err = self._exec(command := shlex.join(["cat", path]), None, None, command)
        if status != 0:
            raise RemoteError(self.instance.name, f"cannot read {path}", err.decode(errors="replace"))
        return out

    def http(self, method: str, port: int, path: str, body: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes]:
        address = self.instance.fixed_ip
        channel: paramiko.Channel | None = None
        try:
            channel = self.transport.open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0),
                                                  timeout=self.config.connect_timeout)
            channel.settimeout(timeout or self.config.connect_timeout)
            connection = _ChannelHTTPConnection(channel, f"{address}:{port}")
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return response.status, response.read()
        except (paramiko.SSHException, OSError, http.client.HTTPException) as exc:
            raise RemoteError(self.instance.name, f"HTTP {method} {address}:{port}{path} failed: {exc}") from None
        finally:
            if channel is not None:
                channel.close()

    def close(self) -> None:
        self.client.close()


def _fixed_hint(instance: Instance, address: str, gateway: Instance | None) -> str:
    """Why a fixed address may be out of reach: on a private network only floating IPs and gateways are routed."""
    if gateway is not None or address != instance.fixed_ip:
        return ""
    way = "its floating IP " + instance.floating_ip if instance.floating_ip else "a floating IP or a proxy gateway"
    return f" ({address} is its fixed address, routable only from inside its network: reach it through {way})"


class _ChannelHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over an already open SSH channel."""

    def __init__(self, channel: paramiko.Channel, host: str) -> None:
        super().__init__(host)
        self.sock = channel

    def connect(self) -> None:  # the channel is the connection
        pass

    def close(self) -> None:
        # http.client closes its socket as soon as the headers say the server will close, counting on
        # the response's file to keep it open as a socket's makefile does. A paramiko channel stops
        # receiving at once, losing a body still on its way; the caller closes the channel when done.
        self.sock = None


# OpenSSH sends a command's exit status when the process exits, which can be before the last of its
# output and the EOF: they get this long to follow. Not forever: a background process the command left
# holding its output would keep the EOF from ever coming.
TRAILING_OUTPUT_SECONDS = 1.0


def _collect(channel: paramiko.Channel, deadline: float) -> tuple[int, bytes, bytes]:
    out, err = bytearray(), bytearray()
    settle_by: float | None = None
    while True:
        if channel.recv_ready():
            out += channel.recv(65536)
            continue
        if channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
            continue
        done = channel.eof_received or channel.closed
        if channel.exit_status_ready():
            settle_by = settle_by or time.monotonic() + TRAILING_OUTPUT_SECONDS
            if done or time.monotonic() >= settle_by:
                break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            channel.close()
            raise TimeoutError
        wait = min(remaining, 0.5, max(settle_by - time.monotonic(), 0.0) if settle_by else 0.5)
        if done:
            # Both streams are done and the channel's pipe stays readable from now on: select would
            # return at once, again and again, until the exit status comes. Wait for that instead.
            channel.status_event.wait(wait)
        else:
            select.select([channel], [], [], wait)
    status = channel.recv_exit_status()
    channel.close()
    return status, bytes(out), bytes(err)


class InstanceConnections(Protocol):
    """Connections to a cluster's instances, as the lifecycle and job engines use them."""

    def get(self, instance: Instance) -> Remote:
        """The connection to ``instance``, opened on first use."""

    def remote(self, name: str) -> Remote:
        """The connection to the instance called ``name``."""

    def close(self) -> None:
        """Close every open connection."""

    def __enter__(self) -> InstanceConnections: ...

    def __exit__(self, *exc_info: object) -> None: ...


Connector = Callable[[Sequence[Instance], "AccessConfig"], InstanceConnections]
"""Opens connections to instances: :class:`Connections` (SSH), or a fake in tests."""


class Connections:
    """SSH connections to a cluster's instances: one each, opened on first use, reused."""

    def __init__(self, instances: Sequence[Instance], config: AccessConfig) -> None:
        self.config = config
        self.instances = {i.name: i for i in instances}
        self._key = _load_private_key(config.private_key)
        self._open: dict[str, SSHRemote] = {}
        self._locks: dict[str, threading.Lock] = {name: threading.Lock() for name in self.instances}

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def remote(self, name: str) -> SSHRemote:
        """The connection to the instance called ``name``."""
        if name not in self.instances:
            raise KeyError(f"no instance named {name!r}; the cluster has {', '.join(sorted(self.instances))}")
        return self.get(self.instances[name])

    def get(self, instance: Instance) -> SSHRemote:
        with self._locks.setdefault(instance.name, threading.Lock()):
            remote = self._open.get(instance.name)
            transport = remote.client.get_transport() if remote else None
            if remote is None or transport is None or not transport.is_active():
                remote = SSHRemote(instance, self._connect(instance), self.config)
                self._open[instance.name] = remote
            return remote

    def _connect(self, instance: Instance) -> paramiko.SSHClient:
        pinned = pinned_key(instance)
        gateway = gateway_for(instance, self.instances.values())
        address = instance.fixed_ip if gateway else management_address(instance, self.config)
        delay = 0.2
        for attempt in range(1, self.config.connect_attempts + 1):
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.get_host_keys().add(known_host(address, self.config.port), pinned.get_name(), pinned)
            try:
                client.connect(address, self.config.port, username=self.config.user, pkey=self._key,
                               sock=self._socket(address, gateway), timeout=self.config.connect_timeout,
                               banner_timeout=self.config.connect_timeout, allow_agent=False,
                               look_for_keys=False)
                return client
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise RemoteError(instance.name, f"host key changed: expected {_fingerprint(pinned)}, "
                                  f"got {_fingerprint(exc.key)}; refusing to connect") from None
            except paramiko.AuthenticationException as exc:
                client.close()
                raise RemoteError(instance.name, f"SSH authentication as {self.config.user!r} failed: {exc}") \
                    from None
            except (paramiko.SSHException, OSError) as exc:
                client.close()
                # Connection set-up is safe to retry: a busy sshd resets new connections (MaxStartups).
                if attempt == self.config.connect_attempts:
                    raise RemoteError(instance.name, f"cannot reach {address}:{self.config.port} over SSH "
                                      f"after {attempt} attempts: {exc}{_fixed_hint(instance, address, gateway)}") \
                        from None
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _socket(self, address: str, gateway: Instance | None) -> socket.socket | paramiko.Channel | None:
        if gateway is not None:
            return self.get(gateway).transport.open_channel(
                "direct-tcpip", (address, self.config.port), ("127.0.0.1", 0),
                timeout=self.config.connect_timeout)
        if self.config.proxy_command:
            command = self.config.proxy_command.format(host=shlex.quote(address), port=self.config.port)
            return paramiko.ProxyCommand(command)  # type: ignore[return-value]
        sock = socket.create_connection((address, self.config.port), timeout=self.config.connect_timeout)
        # SSH sends many small packets each waiting on the last one's reply: without
        # this, Nagle's algorithm and delayed ACKs add tens of milliseconds to each.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def close(self) -> None:
        # Gateways last: the other connections run through them.
        for remote in sorted(self._open.values(), key=lambda r: r.instance.proxy_gateway):
            remote.close()
        self._open.clear()


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"
