"""Mistakes that pass on a lenient test double and break on a real cloud: the local cloud must catch each one."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from heatdeploy import ClusterManager, Framework, HeatdeployError, Options
from heatdeploy.local.state import State
from heatdeploy.plugin.manager import hookimpl, plugins_from
from heatdeploy.plugin.remote import Remote, RemoteError
from heatdeploy.plugin.validation import checks
from heatdeploy.plugins.spark import SPARK
from heatdeploy.spec.model import parse_spec
from heatdeploy.testing import bare_cluster
from tests.functional.cloudtools import LocalCloud, poll
from tests.functional.test_launch import CLOUD, heatdeploy, result_of, write_spec

TRUSTEE = "heatdeploy-local-trustee"
SERVICE_PORT, BOUND_PORT, UNDECLARED_PORT = 8000, 8002, 8001
SERVED = Framework(name="served", title="Instances serving two declared ports", versions=("1",),
                   processes={"server": "serves TCP ports 8000 and 8002"},
                   ports={"server": (SERVICE_PORT, BOUND_PORT)})

# Accepts connections on $1:$2 and answers each with the instance's host name; detached, so the SSH
# command returns. Started with argv lists only.
SERVE = ("import socket, sys\n"
         "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
         "name = socket.gethostname().encode()\n"
         "while True:\n"
         "    c, _ = s.accept(); c.sendall(name); c.close()\n")
PROBE = ("import socket, sys\n"
         "try:\n"
         "    print(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).recv(100).decode())\n"
         "except OSError as e:\n"
         "    print(f'unreachable: {e}')\n")


@pytest.fixture(scope="module")
def cluster(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterManager]:
    plugins, loaded = bare_cluster("ft-fidelity", 2, framework=SERVED)
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE,
                             key_dir=tmp_path_factory.mktemp("keys"))
    try:
        manager.launch(loaded, Options())
        yield manager
    finally:
        manager.delete("ft-fidelity", force=True)


def _serve(remote: Remote, address: str, port: int) -> None:
    remote.run(["setsid", "-f", "python3", "-c", SERVE, address, str(port)])
    poll(lambda: "unreachable" not in _probe(remote, address if address != "0.0.0.0" else "127.0.0.1", port),
         30, f"{remote.instance.name} to listen on {address}:{port}")


def _probe(remote: Remote, address: str, port: int) -> str:
    return remote.run(["python3", "-c", PROBE, address, str(port)]).stdout.strip()


def _from_here(address: str, port: int) -> str:
    try:
        with socket.create_connection((address, port), timeout=3) as connection:
            return connection.recv(100).decode()
    except OSError as exc:
        return f"unreachable: {exc}"


def test_a_service_bound_to_127_0_0_1_only_is_unreachable_from_other_instances(cluster: ClusterManager) -> None:
    with cluster.connect("ft-fidelity") as connections:
        server, client = connections.remote("ft-fidelity-node-0"), connections.remote("ft-fidelity-node-1")
        fixed = server.instance.fixed_ip
        _serve(server, "127.0.0.1", BOUND_PORT)
        assert "Connection refused" in _probe(client, fixed, BOUND_PORT)
        _serve(server, fixed, BOUND_PORT)  # bound to its own address, the service is reached
        assert _probe(client, fixed, BOUND_PORT) == "ft-fidelity-node-0"


def test_a_port_the_framework_did_not_declare_is_closed_between_the_instances(cluster: ClusterManager) -> None:
    with cluster.connect("ft-fidelity") as connections:
        server, client = connections.remote("ft-fidelity-node-0"), connections.remote("ft-fidelity-node-1")
        _serve(server, server.instance.fixed_ip, UNDECLARED_PORT)
        assert "timed out" in _probe(client, server.instance.fixed_ip, UNDECLARED_PORT)


def test_a_port_open_only_inside_the_cluster_is_not_reachable_from_the_controller(
        cluster: ClusterManager) -> None:
    with cluster.connect("ft-fidelity") as connections:
        server, client = connections.remote("ft-fidelity-node-0"), connections.remote("ft-fidelity-node-1")
        _serve(server, "0.0.0.0", SERVICE_PORT)
        assert _probe(client, server.instance.fixed_ip, SERVICE_PORT) == "ft-fidelity-node-0"
        floating = server.instance.floating_ip
        assert floating is not None
        # The default groups open the framework's ports to the cluster only (access_cidrs is empty).
        assert "timed out" in _from_here(floating, SERVICE_PORT)
        assert "No route to host" in _from_here(server.instance.fixed_ip, SERVICE_PORT)


def test_access_cidrs_open_the_framework_ports_to_the_controller(local_cloud: LocalCloud, tmp_path: Path) -> None:
    controller = f"{State.load(local_cloud.root).host}/32"  # what instances see: traffic from outside is NATed
    plugins, loaded = bare_cluster("ft-access", 1, framework=SERVED, access_cidrs=[controller])
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE,
                             key_dir=tmp_path / "keys")
    try:
        manager.launch(loaded, Options())
        with manager.connect("ft-access") as connections:
            server = connections.remote("ft-access-node-0")
            _serve(server, "0.0.0.0", SERVICE_PORT)
            _serve(server, "0.0.0.0", UNDECLARED_PORT)
            assert server.instance.floating_ip is not None
            assert _from_here(server.instance.floating_ip, SERVICE_PORT) == "ft-access-node-0"
            assert "timed out" in _from_here(server.instance.floating_ip, UNDECLARED_PORT)
    finally:
        manager.delete("ft-access", force=True)


def test_spark_declaring_too_few_ports_fails_its_readiness_check_naming_the_worker(
        local_cloud: LocalCloud, tmp_path: Path) -> None:
    # The mistake: the master's RPC port, which every worker connects to, left out of the declaration.
    leaky = dataclasses.replace(SPARK, ports={"master": (8080,), "worker": (8081,)})
    plugin = SimpleNamespace(heatdeploy_register_frameworks=hookimpl(lambda register: register(leaky)))
    plugins = plugins_from({"spark": plugin})
    spec = yaml.safe_load((Path(__file__).parents[2] / "examples" / "spark.yaml").read_text())
    spec.update(name="ft-leaky", anti_affinity=[], configs={"start_timeout": 15})
    spec["node_groups"][1]["count"] = 1
    loaded = parse_spec(yaml.safe_dump(spec), "ft-leaky.yaml", checks(plugins))
    manager = ClusterManager(local_cloud.session("demo", "demo"), plugins, trustee_cloud=TRUSTEE,
                             key_dir=tmp_path / "keys")
    try:
        with pytest.raises(HeatdeployError) as failed:
            manager.launch(loaded, Options())
        message = str(failed.value)
        assert "spark-verify" in message and "still missing ft-leaky-worker-0" in message, message
        assert "the master's port 7077 and the workers' port 7078 must be open" in message, message
    finally:
        manager.delete("ft-leaky", force=True)


def test_ssh_to_a_fixed_address_is_refused_naming_the_address_and_why(cluster: ClusterManager) -> None:
    with cluster.connect("ft-fidelity", Options(use_floating_ip=False)) as connections:
        with pytest.raises(RemoteError) as refused:
            connections.remote("ft-fidelity-node-0").run(["true"])
    fixed = next(i.fixed_ip for i in cluster.status("ft-fidelity", check_health=False).instances
                 if i.name == "ft-fidelity-node-0")
    message = str(refused.value)
    assert f"cannot reach {fixed}:22 over SSH" in message and "No route to host" in message, message
    assert "is its fixed address, routable only from inside its network" in message, message


def test_spark_on_the_bare_image_fails_the_image_check_before_anything_is_configured(
        local_cloud: LocalCloud, tmp_path: Path) -> None:
    path = write_spec(tmp_path, "ft-bare", image="debian-bare")
    try:
        status, lines, stderr = heatdeploy("launch", str(path), "--os-cloud", CLOUD, check=False)
        assert status == 1 and "Traceback" not in stderr, stderr
        message = result_of(lines)["message"]
        assert "(image debian-bare) lacks what spark 4.0 needs: /opt/spark/bin/spark-class" in message, message
        assert "a Java runtime (java)" in message, message
        done = [line["step"] for line in lines if line["event"] == "step_done"]
        assert done == ["ssh"], done
    finally:
        heatdeploy("delete", "ft-bare", "--os-cloud", CLOUD, check=False)


def test_the_hadoop_example_stops_at_the_image_check_on_an_image_without_hadoop(
        local_cloud: LocalCloud, tmp_path: Path) -> None:
    spec = yaml.safe_load((Path(__file__).parents[2] / "examples" / "hadoop.yaml").read_text())
    spec.update(name="ft-nohadoop", image="debian-local")  # Spark's image; its workers are reached via the master
    path = tmp_path / "ft-nohadoop.yaml"
    path.write_text(yaml.safe_dump(spec))
    try:
        status, lines, stderr = heatdeploy("launch", str(path), "--os-cloud", CLOUD, check=False)
        assert status == 1 and "Traceback" not in stderr, stderr
        message = result_of(lines)["message"]
        assert "(image debian-local) lacks what hadoop 3.4 needs: /opt/hadoop/bin/hdfs" in message, message
        checked = {line["instance"] for line in lines if line["event"] == "instance_done" and line["step"] == "ssh"}
        assert checked == {f"ft-nohadoop-{g}" for g in ("master-0", "worker-0", "worker-1", "worker-2")}, checked
    finally:
        heatdeploy("delete", "ft-nohadoop", "--os-cloud", CLOUD, check=False)
