"""The Hadoop plugin's steps, through the recording fake: files, commands and their order.

There is no Hadoop distribution where these tests run; the NameNode and
ResourceManager are acted by canned HTTP replies.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import shlex
import unittest
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from heatdeploy.plugin.instance import Instance
from heatdeploy.plugin.remote import RemoteError
from heatdeploy.plugins.hadoop import HADOOP
from heatdeploy.plugins.hadoop.java import FIND_SCRIPT, SEARCHED
from heatdeploy.plugins.hadoop.steps import (
    CLUSTER_INFO,
    CLUSTER_NODES,
    DAEMON,
    HDFS_DIRS_SCRIPT,
    HISTORY_INFO,
    NAMENODE_INFO,
    USERS_SCRIPT,
    site_xml,
)
from heatdeploy.spec.problems import SpecError
from heatdeploy.steps.common import IMAGE_SCRIPT
from heatdeploy.steps.health import run_checks
from heatdeploy.steps.orchestrator import StepsFailed
from heatdeploy.testing import RecordingContext, Responses, make_cluster, parse_test_spec, run_operation
from tests.unit.helpers import HADOOP_SPEC, actions, named, prepared

SPEC = HADOOP_SPEC.replace("[namenode, resourcemanager]",
                           "[namenode, secondarynamenode, resourcemanager, historyserver]")
MASTER = "hd-master-0"
WORKERS = {f"hd-worker-{n}": f"10.0.1.{10 + n}" for n in range(4)}
CONF, STATE, HDFS, YARN = "/opt/hadoop/etc/hadoop", "/var/lib/heatdeploy/hadoop", "/opt/hadoop/bin/hdfs", \
    "/opt/hadoop/bin/yarn"
VERSION = f"{STATE}/hdfs/namenode/current/VERSION"
LISTS = [f"{CONF}/datanodes.include", f"{CONF}/datanodes.exclude", f"{CONF}/nodemanagers.include",
         f"{CONF}/nodemanagers.exclude"]
HDFS_USER, YARN_USER = ["runuser", "-u", "hdfs", "--"], ["runuser", "-u", "yarn", "--"]
REFRESH = [("run", [*HDFS_USER, HDFS, "dfsadmin", "-refreshNodes"]),
           ("run", [*YARN_USER, YARN, "rmadmin", "-refreshNodes"])]
# Decommissioning: YARN lets the leaving NodeManagers' containers finish (up to an hour), heatdeploy waits.
GRACEFUL = [REFRESH[0], ("run", [*YARN_USER, YARN, "rmadmin", "-refreshNodes", "-g", "3600", "-server"])]
FORMAT = ("run", [*HDFS_USER, HDFS, "namenode", "-format", "-nonInteractive"])
SAFEMODE = ("run", [*HDFS_USER, HDFS, "dfsadmin", "-safemode", "wait"])
HDFS_DIRS = [("run", ["id", "-un"]), ("run", [*HDFS_USER, "sh", "-c", HDFS_DIRS_SCRIPT, "hdfs-dirs", HDFS, ""])]
POLL = ("http", "GET", 9870, NAMENODE_INFO)
IMAGE_CHECK = ["sh", "-c", IMAGE_SCRIPT, "sh", *(w for c in ("bash", "runuser", "getent", "groupadd", "useradd")
                                                  for w in ("command", c)),
               "path", HDFS, "path", "/opt/hadoop/bin/mapred", "path", YARN]


def workers(count: int) -> str:
    return SPEC.replace("count: 3", f"count: {count}")


def namenode_info(states: dict[str, str], dead: dict[str, bool] | None = None) -> dict[str, Any]:
    """The NameNode's NameNodeInfo bean with DataNodes at these IPs in these admin states."""
    live = {f"dn{n}:9866": {"xferaddr": f"{ip}:9866", "adminState": state, "infoAddr": f"{ip}:9864"}
            for n, (ip, state) in enumerate(states.items())}
    gone = {f"gone{n}:9866": {"xferaddr": f"{ip}:9866", "decommissioned": flag, "lastContact": 900}
            for n, (ip, flag) in enumerate((dead or {}).items())}
    return {"beans": [{"name": "Hadoop:service=NameNode,name=NameNodeInfo", "LiveNodes": json.dumps(live),
                       "DeadNodes": json.dumps(gone)}]}


def in_service(count: int) -> dict[str, str]:
    return {ip: "In Service" for ip in list(WORKERS.values())[:count]}


DATA = Path(__file__).parent / "data" / "hadoop"
NODES_POLL = ("http", "GET", 8088, CLUSTER_NODES)
HISTORY_POLL = ("http", "GET", 19888, HISTORY_INFO)


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def yarn_nodes(states: dict[str, str]) -> dict[str, Any]:
    """The ResourceManager's nodes reply with NodeManagers at these IPs in these states."""
    template = captured("nodes-running.json")["nodes"]["node"][0]
    names = {ip: name for name, ip in WORKERS.items()}
    nodes = []
    for ip, state in states.items():
        node = copy.deepcopy(template)
        node.update(id=f"{names[ip]}:8041", nodeHostName=names[ip], nodeHTTPAddress=f"{names[ip]}:8042", state=state)
        nodes.append(node)
    return {"nodes": {"node": nodes} if nodes else None}


YARN_STATES = {"Decommissioned": "DECOMMISSIONED", "Decommission In Progress": "DECOMMISSIONING"}


def reporting(states: dict[str, str], http: dict[tuple[int, str], Any] | None = None) -> Responses:
    """A NameNode with DataNodes in these states, a ResourceManager with the same hosts' NodeManagers in the
    matching states (running when in service), and a history server; ``http`` replaces any of them."""
    nodes = {ip: YARN_STATES.get(state, "RUNNING") for ip, state in states.items()}
    return Responses(http={(9870, NAMENODE_INFO): namenode_info(states), (8088, CLUSTER_NODES): yarn_nodes(nodes),
                           (19888, HISTORY_INFO): captured("history-info.json"), **(http or {})},
                     commands={FIND_JAVA: JAVA_11})


FIND_JAVA = shlex.join(["sh", "-c", FIND_SCRIPT, "find-java"])
JAVA_11 = '/usr/lib/jvm/java-11-openjdk-amd64\tfound\topenjdk version "11.0.21" 2023-10-17\n'




def configured(master: bool) -> list[tuple[Any, ...]]:
    """Configuring the master (with its include lists and NameNode folder) or a worker (DataNode, NodeManager)."""
    find = ("run", ["sh", "-c", FIND_SCRIPT, "find-java", f"{CONF}/hadoop-env.sh", f"{CONF}/hadoop-env.sh.dist",
                    "1", "", *SEARCHED])
    writes = [find] + [("write", f"{CONF}/{name}", 0o644) for name in ("core-site.xml", "hdfs-site.xml",
                                                                        "yarn-site.xml", "mapred-site.xml")]
    writes += [("write", f"{CONF}/hadoop-env.sh", 0o755), ("write", DAEMON, 0o755)]
    writes += [("write", path, 0o644) for path in LISTS] if master else []
    shared = [f"{STATE}/logs", f"{STATE}/run", f"{STATE}/tmp"]
    hdfs = [f"{STATE}/hdfs/namenode"] if master else [f"{STATE}/hdfs/datanode"]
    yarn = [f"{STATE}/logs/userlogs"] + ([] if master else [f"{STATE}/yarn/local"])
    return [*writes, ("run", ["sh", "-c", USERS_SCRIPT, "users", "hdfs", "yarn", "mapred"]),
            ("run", ["mkdir", "-p", *shared, *hdfs, *yarn]), ("run", ["chgrp", "hadoop", *shared]),
            ("run", ["chmod", "1775", *shared]), ("run", ["chown", "-R", "hdfs:hadoop", *hdfs]),
            ("run", ["chown", "-R", "yarn:hadoop", *yarn])]


USERS = {"hdfs": "hdfs", "namenode": "hdfs", "secondarynamenode": "hdfs", "datanode": "hdfs",
         "resourcemanager": "yarn", "nodemanager": "yarn", "historyserver": "mapred"}


def daemon(action: str, launcher: str, name: str) -> tuple[Any, ...]:
    return ("run", [DAEMON, action, launcher, name, USERS[name]])


def properties(text: str | None) -> dict[str, str]:
    """A site file as Hadoop reads it."""
    root = ET.fromstring(text or "")
    return {p.findtext("name") or "": p.findtext("value") or "" for p in root.iter("property")}


def lists(ctx: RecordingContext) -> list[str | None]:
    return [ctx.recorder.file(MASTER, path) for path in LISTS]


def launch_stops_at(test: unittest.TestCase, responses: Responses, step: str, message: str) -> None:
    """A launch fails at ``step`` on the master, saying ``message``, and never starts the history server."""
    ctx = make_cluster(SPEC, HADOOP, responses=responses)
    with test.assertRaises(StepsFailed) as caught:
        run_operation(HADOOP, "launch", ctx)
    [failure] = caught.exception.failures
    test.assertEqual((failure.step, failure.instance), (step, MASTER))
    test.assertIn(message, failure.message)
    test.assertNotIn(daemon("start", "mapred", "historyserver")[1], ctx.recorder.commands(MASTER))


class LaunchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = make_cluster(SPEC, HADOOP, responses=reporting(in_service(3)))
        run_operation(HADOOP, "launch", self.ctx)
        self.entries = self.ctx.recorder.entries()

    def test_master(self) -> None:
        self.assertEqual(actions(self.ctx, MASTER), [
            *prepared(MASTER, IMAGE_CHECK), *configured(master=True),
            ("run", ["test", "-f", VERSION]),
            FORMAT,
            daemon("start", "hdfs", "namenode"),
            daemon("start", "hdfs", "secondarynamenode"),
            daemon("start", "yarn", "resourcemanager"),
            POLL,
            SAFEMODE,
            *HDFS_DIRS,
            NODES_POLL,
            daemon("start", "mapred", "historyserver"),
            HISTORY_POLL,
        ])

    def test_workers(self) -> None:
        for name in list(WORKERS)[:3]:
            self.assertEqual(actions(self.ctx, name), [
                *prepared(name, IMAGE_CHECK), *configured(master=False),
                daemon("start", "hdfs", "datanode"), daemon("start", "yarn", "nodemanager")])

    def at(self, instance: str, entry: tuple[Any, ...]) -> int:
        return self.entries.index((entry[0], instance, *entry[1:]))

    def test_start_order(self) -> None:
        formatted = self.at(MASTER, FORMAT)
        namenode = self.at(MASTER, daemon("start", "hdfs", "namenode"))
        resourcemanager = self.at(MASTER, daemon("start", "yarn", "resourcemanager"))
        live = self.entries.index(("wait", "3 DataNode(s) live on the NameNode"))
        for name in list(WORKERS)[:3]:
            datanode = self.at(name, daemon("start", "hdfs", "datanode"))
            nodemanager = self.at(name, daemon("start", "yarn", "nodemanager"))
            assert formatted < namenode < resourcemanager < min(datanode, nodemanager)
            assert max(datanode, nodemanager) < live
        running = self.entries.index(("wait", "3 NodeManager(s) running on the ResourceManager"))
        history = self.at(MASTER, daemon("start", "mapred", "historyserver"))
        assert live < running < history
        self.assertEqual(self.entries[-1], ("http", MASTER, "GET", 19888, HISTORY_INFO))

    def test_site_files(self) -> None:
        file = self.ctx.recorder.file
        self.assertEqual(properties(file("hd-worker-1", f"{CONF}/core-site.xml")),
                         {"fs.defaultFS": "hdfs://10.0.0.10:9000", "hadoop.tmp.dir": f"{STATE}/tmp"})
        self.assertEqual(properties(file(MASTER, f"{CONF}/hdfs-site.xml")), {
            "dfs.replication": "3",
            "dfs.blocksize": "128m",
            "dfs.namenode.name.dir": f"file://{STATE}/hdfs/namenode",
            "dfs.datanode.data.dir": f"file://{STATE}/hdfs/datanode",
            "dfs.hosts": f"{CONF}/datanodes.include",
            "dfs.hosts.exclude": f"{CONF}/datanodes.exclude",
            "dfs.namenode.http-address": "10.0.0.10:9870",
            "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            "dfs.namenode.secondary.http-address": "10.0.0.10:9868",
        })
        yarn = properties(file("hd-worker-2", f"{CONF}/yarn-site.xml"))
        self.assertEqual({k: v for k, v in yarn.items() if k != "yarn.nodemanager.env-whitelist"}, {
            "yarn.resourcemanager.hostname": "10.0.0.10",
            "yarn.resourcemanager.nodes.include-path": f"{CONF}/nodemanagers.include",
            "yarn.resourcemanager.nodes.exclude-path": f"{CONF}/nodemanagers.exclude",
            "yarn.nodemanager.resource.memory-mb": "2048",
            "yarn.nodemanager.resource.cpu-vcores": "2",
            "yarn.nodemanager.local-dirs": f"{STATE}/yarn/local",
            "yarn.nodemanager.log-dirs": f"{STATE}/logs/userlogs",
            "yarn.nodemanager.aux-services": "mapreduce_shuffle",
            "yarn.nodemanager.vmem-check-enabled": "false",
            "yarn.scheduler.minimum-allocation-mb": "1024",
            "yarn.nodemanager.address": "10.0.1.12:8041",
        })
        self.assertEqual(properties(file(MASTER, f"{CONF}/mapred-site.xml")), {
            "mapreduce.framework.name": "yarn",
            "mapreduce.shuffle.port": "13562",
            "yarn.app.mapreduce.am.job.client.port-range": "50100-50199",
            "yarn.app.mapreduce.am.webapp.port-range": "50100-50199",
            "yarn.app.mapreduce.am.env": "HADOOP_MAPRED_HOME=/opt/hadoop",
            "yarn.app.mapreduce.am.resource.mb": "1024",
            "yarn.app.mapreduce.am.command-opts": "-Xmx819m",
            "mapreduce.map.memory.mb": "1024",
            "mapreduce.reduce.memory.mb": "1024",
            "mapreduce.map.env": "HADOOP_MAPRED_HOME=/opt/hadoop",
            "mapreduce.reduce.env": "HADOOP_MAPRED_HOME=/opt/hadoop",
            "mapreduce.jobhistory.address": "10.0.0.10:10020",
            "mapreduce.jobhistory.webapp.address": "10.0.0.10:19888",
        })

    def test_env_and_lists(self) -> None:
        env = self.ctx.recorder.file("hd-worker-0", f"{CONF}/hadoop-env.sh") or ""
        self.assertIn(f"if [ -f {CONF}/hadoop-env.sh.dist ]; then . {CONF}/hadoop-env.sh.dist; fi\n", env)
        self.assertIn("export JAVA_HOME=/usr/lib/jvm/java-11-openjdk-amd64\n", env)
        self.assertTrue(env.endswith(f"export HADOOP_LOG_DIR={STATE}/logs\nexport HADOOP_PID_DIR={STATE}/run\n"
                                     "export HDFS_NAMENODE_OPTS=-Xmx1024m\nexport HDFS_DATANODE_OPTS=-Xmx1024m\n"))
        members = "10.0.1.10\n10.0.1.11\n10.0.1.12\n"
        self.assertEqual(lists(self.ctx), [members, "", members, ""])
        self.assertIsNone(self.ctx.recorder.file("hd-worker-0", LISTS[0]))


class LaunchVariantsTest(unittest.TestCase):
    def test_formatted_namenode_is_not_formatted_again(self) -> None:
        ctx = make_cluster(SPEC, HADOOP, responses=reporting(in_service(3)), files={(MASTER, VERSION): "layout\n"})
        run_operation(HADOOP, "launch", ctx)
        commands = ctx.recorder.commands(MASTER)
        self.assertNotIn(FORMAT[1], commands)
        start = commands.index(daemon("start", "hdfs", "namenode")[1])
        self.assertEqual(commands[start - 1], ["test", "-f", VERSION])

    def test_waits_for_a_namenode_still_starting(self) -> None:
        answers = itertools.count()

        def slow(instance: Instance, method: str, port: int, path: str) -> Any:
            n = next(answers)
            if n == 0:
                raise RemoteError(instance.name, "connection refused")
            return namenode_info(in_service(n))  # one more DataNode per poll

        ctx = make_cluster(SPEC, HADOOP, responses=reporting(in_service(3), {(9870, NAMENODE_INFO): slow}))
        run_operation(HADOOP, "launch", ctx)
        self.assertEqual(actions(ctx, MASTER).count(POLL), 4)

    def test_missing_datanode_fails_before_the_history_server(self) -> None:
        launch_stops_at(self, reporting(in_service(2)), "hadoop-wait-datanodes",
                        "3 DataNode(s) live on the NameNode: not true")

    def test_directories_on_volumes(self) -> None:
        spec = SPEC.replace("processes: [namenode, secondarynamenode, resourcemanager, historyserver]\n",
                            "processes: [namenode, resourcemanager]\n    volumes: {count: 2, size: 10}\n")
        spec += "    volumes: {count: 3, size: 100, mount_prefix: /data/d}\n"
        ctx = make_cluster(spec, HADOOP, responses=reporting(in_service(3)))
        run_operation(HADOOP, "launch", ctx)
        hdfs = properties(ctx.recorder.file(MASTER, f"{CONF}/hdfs-site.xml"))
        self.assertEqual(hdfs["dfs.namenode.name.dir"],
                         "file:///volumes/disk1/hdfs/namenode,file:///volumes/disk2/hdfs/namenode")
        self.assertNotIn("dfs.namenode.secondary.http-address", hdfs)
        worker = properties(ctx.recorder.file("hd-worker-1", f"{CONF}/hdfs-site.xml"))
        self.assertEqual(worker["dfs.datanode.data.dir"],
                         "file:///data/d1/hdfs/datanode,file:///data/d2/hdfs/datanode,file:///data/d3/hdfs/datanode")
        yarn = properties(ctx.recorder.file("hd-worker-1", f"{CONF}/yarn-site.xml"))
        self.assertEqual(yarn["yarn.nodemanager.local-dirs"],
                         "/data/d1/yarn/local,/data/d2/yarn/local,/data/d3/yarn/local")
        self.assertIn(["test", "-f", "/volumes/disk1/hdfs/namenode/current/VERSION"], ctx.recorder.commands(MASTER))
        mapred = properties(ctx.recorder.file(MASTER, f"{CONF}/mapred-site.xml"))
        self.assertNotIn("mapreduce.jobhistory.address", mapred)

    def test_node_group_configs(self) -> None:
        spec = SPEC + "    configs: {datanode_heap_size: 4096, yarn.nodemanager.resource.memory-mb: 6144}\n"
        ctx = make_cluster(spec, HADOOP, responses=reporting(in_service(3)))
        run_operation(HADOOP, "launch", ctx)
        env = ctx.recorder.file("hd-worker-0", f"{CONF}/hadoop-env.sh") or ""
        self.assertIn("export HDFS_DATANODE_OPTS=-Xmx4096m\n", env)
        yarn = properties(ctx.recorder.file("hd-worker-0", f"{CONF}/yarn-site.xml"))
        self.assertEqual(yarn["yarn.nodemanager.resource.memory-mb"], "6144")


class ScaleUpTest(unittest.TestCase):
    def test_new_worker(self) -> None:
        ctx = make_cluster(workers(4), HADOOP, targets=["hd-worker-3"], responses=reporting(in_service(4)))
        run_operation(HADOOP, "scale_up", ctx)
        self.assertEqual(actions(ctx, "hd-worker-3"), [
            *prepared("hd-worker-3", IMAGE_CHECK), *configured(master=False),
            daemon("start", "hdfs", "datanode"), daemon("start", "yarn", "nodemanager")])
        self.assertEqual(actions(ctx, MASTER), [
            *named(MASTER), *[("write", path, 0o644) for path in LISTS], *REFRESH,
            POLL, SAFEMODE, NODES_POLL])
        self.assertEqual(actions(ctx, "hd-worker-0"), named("hd-worker-0"))
        members = "10.0.1.10\n10.0.1.11\n10.0.1.12\n10.0.1.13\n"
        self.assertEqual(lists(ctx), [members, "", members, ""])
        entries = ctx.recorder.entries()
        self.assertLess(entries.index(("run", MASTER, REFRESH[0][1])),
                        entries.index(("run", "hd-worker-3", daemon("start", "hdfs", "datanode")[1])))


class DecommissionTest(unittest.TestCase):
    LEAVING = "hd-worker-3"

    def progress(self) -> Responses:
        """A NameNode that takes two polls to move the leaving DataNode's blocks, and a ResourceManager
        whose leaving NodeManager finishes its container by the second poll."""
        polls, yarn_polls = itertools.count(), itertools.count()

        def info(instance: Instance, method: str, port: int, path: str) -> Any:
            state = "Decommissioned" if next(polls) >= 2 else "Decommission In Progress"
            return namenode_info({**in_service(3), WORKERS[self.LEAVING]: state})

        def nodes(instance: Instance, method: str, port: int, path: str) -> Any:
            state = "DECOMMISSIONED" if next(yarn_polls) >= 1 else "DECOMMISSIONING"
            return yarn_nodes({**{ip: "RUNNING" for ip in in_service(3)}, WORKERS[self.LEAVING]: state})
        return Responses(http={(9870, NAMENODE_INFO): info, (8088, CLUSTER_NODES): nodes})

    def test_exclude_refresh_wait_stop_then_include(self) -> None:
        ctx = make_cluster(workers(4), HADOOP, leaving=[self.LEAVING], responses=self.progress())
        run_operation(HADOOP, "decommission", ctx)
        written = [("write", path, 0o644) for path in LISTS]
        self.assertEqual(actions(ctx, MASTER), [*written, *GRACEFUL, POLL, POLL, POLL, NODES_POLL, NODES_POLL,
                                                *written, *REFRESH])
        self.assertEqual(actions(ctx, self.LEAVING), [daemon("stop", "yarn", "nodemanager"),
                                                     daemon("stop", "hdfs", "datanode")])
        self.assertEqual([a for w in WORKERS if w != self.LEAVING for a in actions(ctx, w)], [])
        everyone, remaining, leaving = ("10.0.1.10\n10.0.1.11\n10.0.1.12\n10.0.1.13\n",
                                        "10.0.1.10\n10.0.1.11\n10.0.1.12\n", "10.0.1.13\n")
        contents = [e[3] for e in ctx.recorder.entries(MASTER) if e[0] == "write"]
        self.assertEqual(contents, [everyone, leaving, everyone, leaving,
                                                              remaining, "", remaining, ""])
        entries = ctx.recorder.entries()
        last_poll = max(n for n, e in enumerate(entries) if e[0] == "http")
        stopped = entries.index(("run", self.LEAVING, daemon("stop", "hdfs", "datanode")[1]))
        rewritten = entries.index(("write", MASTER, LISTS[0], remaining, 0o644))
        assert last_poll < stopped < rewritten

    def test_a_dead_datanode_marked_decommissioned_is_done(self) -> None:
        info = namenode_info(in_service(3), dead={WORKERS[self.LEAVING]: True})
        ctx = make_cluster(workers(4), HADOOP, leaving=[self.LEAVING],
                           responses=reporting(in_service(3), {(9870, NAMENODE_INFO): info}))
        run_operation(HADOOP, "decommission", ctx)
        self.assertEqual(actions(ctx, MASTER).count(POLL), 1)

    def test_stuck_decommission_stops_nothing(self) -> None:
        stuck = reporting({**in_service(3), WORKERS[self.LEAVING]: "Decommission In Progress"})
        ctx = make_cluster(workers(4), HADOOP, leaving=[self.LEAVING], responses=stuck)
        with self.assertRaisesRegex(StepsFailed, "hadoop-wait-decommissioned"):
            run_operation(HADOOP, "decommission", ctx)
        self.assertEqual(ctx.recorder.commands(self.LEAVING), [])
        self.assertEqual(ctx.recorder.file(MASTER, LISTS[1]), "10.0.1.13\n")

    def test_refuses_to_go_below_replication(self) -> None:
        ctx = make_cluster(SPEC, HADOOP, leaving=["hd-worker-2"], responses=reporting(in_service(3)))
        with self.assertRaises(StepsFailed) as caught:
            run_operation(HADOOP, "decommission", ctx)
        self.assertIn("refusing to decommission hd-worker-2: 2 DataNode(s) would remain, fewer than "
                      "dfs.replication (3)", str(caught.exception))
        self.assertEqual(ctx.recorder.entries(), [])

    def test_lower_replication_allows_it(self) -> None:
        spec = SPEC.replace("network: private", "network: private\nconfigs: {dfs.replication: 2}")
        ctx = make_cluster(spec, HADOOP, leaving=["hd-worker-2"],
                           responses=reporting({**in_service(2), WORKERS["hd-worker-2"]: "Decommissioned"}))
        run_operation(HADOOP, "decommission", ctx)
        self.assertEqual(len(ctx.recorder.commands("hd-worker-2")), 2)


class EscapingTest(unittest.TestCase):
    HOSTILE_SIZE = '128m</value></property><property><name>evil</name><value>1 & "x"'
    HOSTILE_HOME = "/opt/hadoop' && reboot '<&>"

    def setUp(self) -> None:
        spec = SPEC.replace("network: private", "network: private\nconfigs:\n"
                            f"  dfs.blocksize: '{self.HOSTILE_SIZE}'\n"
                            f"  hadoop_home: \"{self.HOSTILE_HOME}\"\n")
        self.ctx = make_cluster(spec, HADOOP, responses=reporting(in_service(3)))
        run_operation(HADOOP, "launch", self.ctx)
        self.conf = f"{self.HOSTILE_HOME}/etc/hadoop"

    def test_xml_values_are_escaped(self) -> None:
        text = self.ctx.recorder.file(MASTER, f"{self.conf}/hdfs-site.xml") or ""
        hdfs = properties(text)
        self.assertEqual(hdfs["dfs.blocksize"], self.HOSTILE_SIZE)
        self.assertNotIn("evil", hdfs)
        self.assertIn("128m&lt;/value&gt;&lt;/property&gt;", text)
        mapred = properties(self.ctx.recorder.file(MASTER, f"{self.conf}/mapred-site.xml"))
        self.assertEqual(mapred["mapreduce.map.env"], f"HADOOP_MAPRED_HOME={self.HOSTILE_HOME}")

    def test_shell_values_are_quoted(self) -> None:
        script = self.ctx.recorder.file(MASTER, DAEMON) or ""
        self.assertIn("bin='/opt/hadoop'\"'\"' && reboot '\"'\"'<&>'/bin/\"$launcher\"\n", script)
        self.assertIn([*HDFS_USER, f"{self.HOSTILE_HOME}/bin/hdfs", "namenode", "-format", "-nonInteractive"],
                      self.ctx.recorder.commands(MASTER))

    def test_characters_xml_cannot_carry_are_refused(self) -> None:
        with self.assertRaisesRegex(ValueError, "dfs.blocksize: '1\\\\x00' holds characters"):
            site_xml({"dfs.blocksize": "1\x00"})


class HealthTest(unittest.TestCase):
    def report_with(self, key: tuple[int, str], reply: Any) -> dict[str, tuple[str, str]]:
        ctx = make_cluster(SPEC, HADOOP, responses=Responses(http={key: reply}))
        return {name: (h.status, h.message) for name, h in run_checks(ctx, HADOOP.health_checks()).checks.items()}

    def test_datanodes(self) -> None:
        key = (9870, NAMENODE_INFO)
        self.assertEqual(self.report_with(key, namenode_info(in_service(3)))["hdfs-datanodes"],
                         ("green", "3 of 3 DataNodes live"))
        self.assertEqual(self.report_with(key, namenode_info(in_service(2)))["hdfs-datanodes"],
                         ("yellow", "2 of 3 DataNodes live; missing 10.0.1.12"))
        self.assertEqual(self.report_with(key, namenode_info(in_service(4)))["hdfs-datanodes"],
                         ("yellow", "3 of 3 DataNodes live; unexpected 10.0.1.13"))
        self.assertEqual(self.report_with(key, namenode_info({}))["hdfs-datanodes"], ("red", "no DataNode is live"))
        self.assertEqual(self.report_with(key, (500, b""))["hdfs-datanodes"], ("red", "the NameNode does not answer"))

    def test_resourcemanager(self) -> None:
        key = (8088, CLUSTER_INFO)
        self.assertEqual(self.report_with(key, {"clusterInfo": {"state": "STARTED"}})["yarn-resourcemanager"],
                         ("green", "the ResourceManager is started"))
        self.assertEqual(self.report_with(key, {"clusterInfo": {"state": "STOPPED"}})["yarn-resourcemanager"],
                         ("red", "the ResourceManager is STOPPED"))
        self.assertEqual(self.report_with(key, (502, b""))["yarn-resourcemanager"],
                         ("red", "the ResourceManager answered HTTP 502"))

        def refused(instance: Instance, *_: Any) -> Any:
            raise RemoteError(instance.name, "connection refused")
        self.assertEqual(self.report_with(key, refused)["yarn-resourcemanager"],
                         ("red", "the ResourceManager does not answer: hd-master-0: connection refused"))

    def test_endpoints(self) -> None:
        master = Instance(MASTER, "id", "master", ("namenode", "resourcemanager", "historyserver"), "10.0.0.10",
                          "203.0.113.7", None)
        self.assertEqual(HADOOP.endpoints([master]), {
            "fs.defaultFS": "hdfs://10.0.0.10:9000", "namenode_ui": "http://203.0.113.7:9870",
            "resourcemanager_ui": "http://203.0.113.7:8088", "historyserver_ui": "http://203.0.113.7:19888"})
        self.assertEqual(HADOOP.endpoints([]), {})


if __name__ == "__main__":
    unittest.main()


def release_defaults(name: str) -> set[str] | None:
    """The property names of one of Hadoop's own ``*-default.xml``, from the client jar pyspark bundles."""
    try:
        import pyspark
    except ImportError:
        return None
    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    if not jars:
        return None
    with zipfile.ZipFile(jars[-1]) as jar:
        text = jar.read(name).decode()
    # Names in comments count: the release documents some keys there, commented out so that their
    # empty defaults do not override another key's (mapreduce.map.env over mapred.child.env).
    return set(re.findall(r"<name>\s*([^<\s]+)\s*</name>", text))


class ReleaseKeysTest(unittest.TestCase):
    """Every key heatdeploy writes is one the Hadoop release knows: a typo or a retired key fails here."""

    def test_site_keys_exist_in_the_releases_defaults(self) -> None:
        ctx = make_cluster(SPEC, HADOOP, responses=reporting(in_service(3)))
        run_operation(HADOOP, "launch", ctx)
        for site, defaults in (("core-site.xml", "core-default.xml"), ("yarn-site.xml", "yarn-default.xml"),
                               ("mapred-site.xml", "mapred-default.xml")):
            known = release_defaults(defaults)
            if known is None:
                self.skipTest("pyspark's hadoop-client-api jar is not installed (the spark-local extra)")
            for instance in (MASTER, "hd-worker-0"):
                written = set(properties(ctx.recorder.file(instance, f"{CONF}/{site}")))
                with self.subTest(site=site, instance=instance):
                    self.assertEqual(sorted(written - known), [])


class YarnTest(unittest.TestCase):
    def test_a_nodemanager_that_never_registers_fails_the_launch_before_the_history_server(self) -> None:
        missing = yarn_nodes({ip: "RUNNING" for ip in list(in_service(2))})
        launch_stops_at(self, reporting(in_service(3), {(8088, CLUSTER_NODES): missing}), "hadoop-wait-nodemanagers",
                        "3 NodeManager(s) running on the ResourceManager: not true")

    def test_no_nodemanager_at_all_is_waited_for_not_misread(self) -> None:
        ctx = make_cluster(SPEC, HADOOP, responses=reporting(in_service(3), {(8088, CLUSTER_NODES):
                                                                             captured("nodes-none.json")}))
        with self.assertRaisesRegex(StepsFailed, "hadoop-wait-nodemanagers"):
            run_operation(HADOOP, "launch", ctx)

    def test_a_stuck_yarn_decommission_stops_nothing(self) -> None:
        leaving = "hd-worker-3"
        stuck = yarn_nodes({**{ip: "RUNNING" for ip in in_service(3)}, WORKERS[leaving]: "DECOMMISSIONING"})
        ctx = make_cluster(workers(4), HADOOP, leaving=[leaving],
                           responses=reporting({**in_service(3), WORKERS[leaving]: "Decommissioned"},
                                               {(8088, CLUSTER_NODES): stuck}))
        with self.assertRaisesRegex(StepsFailed, "hadoop-wait-yarn-decommissioned.*1 NodeManager.s. decommissioned"):
            run_operation(HADOOP, "decommission", ctx)
        self.assertEqual(ctx.recorder.commands(leaving), [])

    def test_health_names_lost_unhealthy_and_unregistered_nodemanagers(self) -> None:
        def health(reply: Any) -> tuple[str, str]:
            ctx = make_cluster(SPEC, HADOOP, responses=Responses(http={(8088, CLUSTER_NODES): reply}))
            result = run_checks(ctx, HADOOP.health_checks()).checks["yarn-nodemanagers"]
            return result.status, result.message

        self.assertEqual(health(captured("nodes-running.json")), ("green", "3 of 3 NodeManagers running"))
        self.assertEqual(health(captured("nodes-lost-unhealthy.json")),
                         ("yellow", "1 of 3 NodeManagers running; lost 10.0.1.11; unhealthy 10.0.1.12"))
        self.assertEqual(health(yarn_nodes({"10.0.1.10": "RUNNING", "10.0.1.11": "RUNNING"})),
                         ("yellow", "2 of 3 NodeManagers running; never registered 10.0.1.12"))
        self.assertEqual(health(captured("nodes-none.json")), ("red", "no NodeManager is running"))
        self.assertEqual(health((503, b"")), ("red", "the ResourceManager does not answer"))


class SizingTest(unittest.TestCase):
    def problems(self, configs: str = "", group_configs: str = "", workers: int = 3) -> list[str]:
        spec = SPEC.replace("count: 3", f"count: {workers}")
        spec = spec.replace("network: private", f"network: private\nconfigs: {{{configs}}}") if configs else spec
        spec += f"    configs: {{{group_configs}}}\n" if group_configs else ""
        try:
            parse_test_spec(spec, HADOOP)
        except SpecError as exc:
            return [f"{p.path}: {p.message}" for p in exc.problems]
        return []

    def test_the_defaults_fit_a_default_nodemanager(self) -> None:
        self.assertEqual(self.problems(), [])

    def test_hadoops_own_am_size_fills_a_lone_default_nodemanager(self) -> None:
        # Three NodeManagers: the AM takes one, the tasks run on the others.
        self.assertEqual(self.problems("yarn.app.mapreduce.am.resource.mb: 1536"), [])
        [problem] = self.problems("yarn.app.mapreduce.am.resource.mb: 1536, dfs.replication: 1", workers=1)
        self.assertEqual(problem, (
            "configs.yarn.app.mapreduce.am.resource.mb: the ApplicationMaster (2048 MiB after rounding up to "
            "yarn.scheduler.minimum-allocation-mb 1024) and a task (1024 MiB) find no room together: the "
            "NodeManagers offer 2048 MiB (yarn.nodemanager.resource.memory-mb), so every job would wait forever; "
            "raise yarn.nodemanager.resource.memory-mb or lower yarn.app.mapreduce.am.resource.mb, "
            "mapreduce.map.memory.mb and mapreduce.reduce.memory.mb"))

    def test_a_nodemanager_smaller_than_a_container_and_no_cores(self) -> None:
        found = self.problems(group_configs="yarn.nodemanager.resource.memory-mb: 512, "
                                            "yarn.nodemanager.resource.cpu-vcores: 0")
        self.assertIn("node_groups[1].configs.yarn.nodemanager.resource.memory-mb: 512 MiB is less than "
                      "yarn.scheduler.minimum-allocation-mb (1024): the NodeManager could run no container; raise it "
                      "or lower the minimum", found)
        self.assertIn("node_groups[1].configs.yarn.nodemanager.resource.cpu-vcores: must be at least 1, not 0", found)
