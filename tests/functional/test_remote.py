"""Files and commands on a real instance over SSH: batched writes, modes, binary content, and errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from heatdeploy.cloud.auth import load_cloud
from heatdeploy.cluster import ClusterManager, Options
from heatdeploy.plugin.remote import Remote, RemoteError
from heatdeploy.plugin.steps import Step, StepContext
from heatdeploy.spec.model import ClusterSpec
from heatdeploy.ssh import keys
from heatdeploy.ssh.batching import file_write
from heatdeploy.ssh.connections import Connections, SSHRemote
from heatdeploy.steps.orchestrator import StepsFailed, run_steps
from heatdeploy.testing import BARE, bare_cluster
from tests.functional.cloudtools import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
SECRET = "password = 'it''s $(not) `run`' \\n %s\n\tünïcode\n"
SCRIPT = "#!/bin/sh\nsha256sum < /var/lib/heatdeploy/ft/conf/secret\n"
BINARY = bytes(range(256))


@pytest.fixture(scope="module")
def cluster(local_cloud: LocalCloud) -> Iterator[tuple[ClusterSpec, Connections]]:
    plugins, loaded = bare_cluster("ft-remote")
    manager = ClusterManager(load_cloud("heatdeploy-local").session, plugins)
    try:
        manager.launch(loaded, Options())
        with manager.connect("ft-remote") as connections:
            yield loaded.spec, connections
    finally:
        manager.delete("ft-remote", force=True)


def step_context(spec: ClusterSpec, connections: Connections) -> StepContext:
    instances = list(connections.instances.values())
    return StepContext(spec=spec, framework=BARE, instances=instances, targets=instances, connect=connections.get)


def configure(ctx: StepContext, remote: Remote) -> None:
    remote.write_file("/var/lib/heatdeploy/ft/conf/secret", SECRET, 0o600)
    remote.write_file("/var/lib/heatdeploy/ft/conf/shared", SECRET, 0o640)
    remote.write_file("/var/lib/heatdeploy/ft/bin/check", SCRIPT, 0o755)
    remote.write_file("/var/lib/heatdeploy/ft/data.bin", BINARY)
    CHECKED.append(remote.run(["/var/lib/heatdeploy/ft/bin/check"]).stdout.split()[0])


CHECKED: list[str] = []


def test_a_step_writes_text_binary_and_secret_files_exactly(cluster: tuple[ClusterSpec, Connections]) -> None:
    spec, connections = cluster
    run_steps(step_context(spec, connections), [Step("configure", configure)])
    assert CHECKED == [hashlib.sha256(SECRET.encode()).hexdigest()], "the command saw the files written before it"
    remote = connections.remote("ft-remote-node-0")
    assert remote.read_file("/var/lib/heatdeploy/ft/conf/secret").decode() == SECRET
    assert remote.read_file("/var/lib/heatdeploy/ft/data.bin") == BINARY
    modes = remote.run("cd /var/lib/heatdeploy/ft && stat -c '%a %n' conf/secret conf/shared bin/check data.bin")
    assert modes.stdout.split("\n")[:4] == ["600 conf/secret", "640 conf/shared", "755 bin/check", "644 data.bin"]


def test_a_failed_write_names_the_path_never_the_content(cluster: tuple[ClusterSpec, Connections]) -> None:
    spec, connections = cluster

    def broken(ctx: StepContext, remote: Remote) -> None:
        remote.write_file("/etc/hostname/not-a-folder", SECRET, 0o600)
        remote.run(["true"])

    with pytest.raises(StepsFailed) as caught:
        run_steps(step_context(spec, connections), [Step("broken", broken)])
    failure = caught.value.failures[0]
    assert "cannot write /etc/hostname/not-a-folder" in failure.message
    assert "password" not in failure.message + failure.output


def test_a_timed_out_command_shows_the_command_not_the_files(cluster: tuple[ClusterSpec, Connections]) -> None:
    _, connections = cluster
    remote = connections.remote("ft-remote-node-0")
    assert isinstance(remote, SSHRemote)
    conf = file_write("/var/lib/heatdeploy/ft/conf/other", SECRET, 0o644)
    assert conf is not None
    with pytest.raises(RemoteError) as caught:
        remote.run_with_files([conf], "sleep 5", timeout=0.5)
    assert "timed out running 'sleep 5'" in str(caught.value)
    assert "password" not in str(caught.value) + caught.value.output


def test_instances_are_found_by_name(cluster: tuple[ClusterSpec, Connections]) -> None:
    _, connections = cluster
    assert connections.remote("ft-remote-node-0").run(["hostname"]).stdout.strip() == "ft-remote-node-0"
    with pytest.raises(KeyError, match="ft-remote-node-0"):
        connections.remote("ft-remote-node-9")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "heatdeploy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "HEATDEPLOY_LOAD_PLUGINS": ""})


def test_heatdeploy_ssh_runs_openssh_with_the_pinned_key(cluster: tuple[ClusterSpec, Connections],
                                                         tmp_path: Path) -> None:
    ran = cli("ssh", "ft-remote", "ft-remote-node-0", "--os-cloud", "heatdeploy-local", "--", "hostname; exit 3")
    assert (ran.returncode, ran.stdout.strip()) == (3, "ft-remote-node-0"), ran.stderr
    printed = cli("ssh", "ft-remote", "--print", "--format", "json", "--os-cloud", "heatdeploy-local")
    argv = json.loads(printed.stdout.splitlines()[-1])["argv"]
    known = Path(next(a.partition("=")[2] for a in argv if a.startswith("UserKnownHostsFile=")))
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    forged = tmp_path / "known_hosts"
    forged.write_text(" ".join([known.read_text().split()[0], *keys.generate().public.split()[:2]]) + "\n")
    forged_argv = [a if not a.startswith("UserKnownHostsFile=") else f"UserKnownHostsFile={forged}" for a in argv]
    refused = subprocess.run([*forged_argv, "true"], capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 255 and "Host key verification failed" in refused.stderr, refused.stderr


# An HTTP/1.0 server that sends its headers, then its body a moment later, then closes: http.client closes
# its socket after such headers, which must not lose the body still on its way through the SSH channel.
SLOW_BODY_SERVER = """import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8010)); s.listen()
while True:
    c, _ = s.accept(); c.recv(65536)
    c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 10\\r\\n\\r\\n"); time.sleep(0.3)
    c.sendall(b"0123456789"); c.close()
"""


def test_http_reads_a_body_that_arrives_after_the_headers(cluster: tuple[ClusterSpec, Connections]) -> None:
    _, connections = cluster
    remote = next(iter(connections.instances))
    node = connections.remote(remote)
    node.run(["setsid", "-f", "python3", "-c", SLOW_BODY_SERVER, node.instance.fixed_ip])
    for _ in range(3):
        answer: tuple[int, bytes] | None = None
        for _attempt in range(100):  # until the server listens
            try:
                answer = node.http("GET", 8010, "/")
                break
            except RemoteError as exc:
                if "Connection refused" not in str(exc):
                    raise
                node.run(["sleep", "0.1"])
        assert answer == (200, b"0123456789")


def test_output_is_complete_and_a_background_process_holding_it_does_not_hang(
        cluster: tuple[ClusterSpec, Connections]) -> None:
    _, connections = cluster
    remote = connections.remote("ft-remote-node-0")
    expected = "".join(f"{n}\n" for n in range(1, 200001))
    for _ in range(10):  # the exit status may come before the last of the output
        result = remote.run(["sh", "-c", "seq 1 200000; echo done >&2"])
        assert (len(result.stdout), result.stderr) == (len(expected), "done\n")
    assert result.stdout == expected
    # A process left in the background keeps the output open (no EOF ever comes before it ends):
    # the command's status and output come back once the trailing-output grace is over.
    result = remote.run(["sh", "-c", "sleep 30 & echo $!"], timeout=10)
    assert result.status == 0 and result.stdout.strip().isdigit(), result
    remote.run(["kill", result.stdout.strip()])
