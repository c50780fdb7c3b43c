"""Configuring, starting, scaling and decommissioning Hadoop 3 (HDFS and YARN) over SSH.

Daemons run as their own users (hdfs, yarn, mapred), from the installation
at the ``hadoop_home`` config, with
heatdeploy's configuration in its standard ``etc/hadoop`` folder so that the
files the distribution ships there (log4j, the capacity scheduler) still
apply. Cluster members are named by fixed IP in the include and exclude
lists, the way DataNodes register with the NameNode.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from heatdeploy import HeatdeployError, Instance, Remote, RemoteError, Step, StepContext, env_file, http_json
from heatdeploy.plugins.hadoop.java import Java, find_java

REPLICATION = "dfs.replication"
NAMENODE_RPC, NAMENODE_UI, SECONDARY_UI = 9000, 9870, 9868
RESOURCEMANAGER_UI = 8088
HISTORY_RPC, HISTORY_UI = 10020, 19888
# Ports YARN and MapReduce pick at random unless told; a security group can only open a port it knows.
# Every ApplicationMaster (one per running job, on some NodeManager) takes a free one of AM_PORTS.
NODEMANAGER_RPC, SHUFFLE_PORT = 8041, 13562
AM_PORTS = range(50100, 50200)
STATE_DIR = "/var/lib/heatdeploy/hadoop"
DAEMON = "/opt/heatdeploy/hadoop/daemon"
NAMENODE_INFO = "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
CLUSTER_INFO = "/ws/v1/cluster/info"
CLUSTER_NODES = "/ws/v1/cluster/nodes"
HISTORY_INFO = "/ws/v1/history/info"
START_TIMEOUT = 300.0
DECOMMISSION_TIMEOUT = 3600.0  # HDFS copies every block of the leaving DataNodes first
IN_SERVICE, DECOMMISSIONED = "In Service", "Decommissioned"
MIN_ALLOCATION = "yarn.scheduler.minimum-allocation-mb"
NODEMANAGER_MEMORY, VCORES = "yarn.nodemanager.resource.memory-mb", "yarn.nodemanager.resource.cpu-vcores"
AM_MEMORY, MAP_MEMORY, REDUCE_MEMORY = ("yarn.app.mapreduce.am.resource.mb", "mapreduce.map.memory.mb",
                                        "mapreduce.reduce.memory.mb")
CONTAINER_SIZES = (AM_MEMORY, MAP_MEMORY, REDUCE_MEMORY)

# Process to (launcher in $HADOOP_HOME/bin, daemon name).
DAEMONS = {
    "namenode": ("hdfs", "namenode"),
    "secondarynamenode": ("hdfs", "secondarynamenode"),
    "datanode": ("hdfs", "datanode"),
    "resourcemanager": ("yarn", "resourcemanager"),
    "nodemanager": ("yarn", "nodemanager"),
    "historyserver": ("mapred", "historyserver"),
}
PROCESSES = tuple(DAEMONS)

# A process to the folder it keeps its data in, on each volume.
DATA_DIRS = {"namenode": "hdfs/namenode", "datanode": "hdfs/datanode", "nodemanager": "yarn/local"}

# A master process to the workers it admits through include and exclude lists.
HOST_LISTS = {"namenode": ("datanode", "datanodes"), "resourcemanager": ("nodemanager", "nodemanagers")}

# Daemons run as their own users, never as root (least privilege; a NameNode run by root makes root HDFS's
# superuser, and YARN containers would run as root): users in group hadoop, without passwords.
USERS = {"hdfs": ("namenode", "secondarynamenode", "datanode"), "yarn": ("resourcemanager", "nodemanager"),
         "mapred": ("historyserver",)}
USER_OF = {process: user for user, processes in USERS.items() for process in processes}
GROUP = "hadoop"
USERS_SCRIPT = """set -e
getent group hadoop > /dev/null || groupadd --system hadoop
for user in "$@"; do
  getent passwd "$user" > /dev/null || useradd --system --gid hadoop --no-create-home \\
    --home-dir /var/lib/heatdeploy/hadoop --shell /usr/sbin/nologin "$user"
done
"""

# Hadoop's own "--daemon start" fails when the daemon already runs and
# "--daemon stop" when it does not; every step must be safe to run again.
# Status, start and stop run as the daemon's user: its pid file's name holds that user's name.
DAEMON_SCRIPT = """#!/bin/sh
# usage: daemon start|stop hdfs|yarn|mapred NAME USER
set -e
action=$1 launcher=$2 name=$3 user=$4
bin={home}/bin/"$launcher"
as_user() {{ if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi; }}
running() {{ as_user "$bin" --daemon status "$name" > /dev/null 2>&1; }}
case "$action" in
  start) running || as_user "$bin" --daemon start "$name" ;;
  stop) if running; then as_user "$bin" --daemon stop "$name"; fi ;;
  *) echo "usage: $0 start|stop hdfs|yarn|mapred NAME USER" >&2; exit 2 ;;
esac
"""

# HADOOP_OS_TYPE is set here, as the distribution's own hadoop-env.sh does: its scripts read it early.
ENV_PREAMBLE = """\
export HADOOP_OS_TYPE="${HADOOP_OS_TYPE:-$(uname -s)}"
"""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class DecommissionRefused(HeatdeployError):
    """Removing these instances would leave HDFS unable to keep its replicas."""


# --- where things are -----------------------------------------------------------------------------

def home(ctx: StepContext) -> str:
    return str(ctx.config("hadoop_home"))


def conf_dir(ctx: StepContext) -> str:
    return f"{home(ctx)}/etc/hadoop"


def launcher(ctx: StepContext, name: str) -> str:
    return f"{home(ctx)}/bin/{name}"


def single(ctx: StepContext, process: str) -> Instance | None:
    """The instance running a single-instance process, if the cluster has one."""
    found = ctx.running(process, include_leaving=True)
    return found[0] if found else None


def required(ctx: StepContext, process: str) -> Instance:
    found = single(ctx, process)
    if found is None:
        raise ValueError(f"the cluster has no {process}")
    return found


def data_dirs(ctx: StepContext, instance: Instance, name: str) -> list[str]:
    """Folders called ``name`` on each of the instance's volumes, else one under the state folder."""
    volumes = ctx.group(instance).volumes
    if volumes:
        return [f"{volumes.mount_prefix}{n}/{name}" for n in range(1, volumes.count + 1)]
    return [f"{STATE_DIR}/{name}"]


def host_list_paths(ctx: StepContext, workers: str) -> tuple[str, str]:
    """The include and exclude lists of ``workers`` (``datanodes`` or ``nodemanagers``)."""
    return f"{conf_dir(ctx)}/{workers}.include", f"{conf_dir(ctx)}/{workers}.exclude"


# --- configuration files --------------------------------------------------------------------------

def site_xml(properties: Mapping[str, Any]) -> str:
    """A Hadoop ``*-site.xml``; ElementTree escapes every name and value."""
    root = ET.Element("configuration")
    for name, value in properties.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if _NOT_XML.search(text):
            raise ValueError(f"{name}: {text!r} holds characters an XML file cannot carry")
        prop = ET.SubElement(root, "property")
        ET.SubElement(prop, "name").text = name
        ET.SubElement(prop, "value").text = text
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- Written by heatdeploy -->\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def _uris(paths: Iterable[str]) -> str:
    return ",".join(f"file://{p}" for p in paths)


def core_site(ctx: StepContext) -> dict[str, Any]:
    return {
        "fs.defaultFS": f"hdfs://{required(ctx, 'namenode').fixed_ip}:{NAMENODE_RPC}",
        "hadoop.tmp.dir": f"{STATE_DIR}/tmp",
    }


def hdfs_site(ctx: StepContext, instance: Instance) -> dict[str, Any]:
    include, exclude = host_list_paths(ctx, "datanodes")
    settings: dict[str, Any] = {
        REPLICATION: ctx.config(REPLICATION),
        "dfs.blocksize": ctx.config("dfs.blocksize"),
        "dfs.namenode.name.dir": _uris(data_dirs(ctx, instance, DATA_DIRS["namenode"])),
        "dfs.datanode.data.dir": _uris(data_dirs(ctx, instance, DATA_DIRS["datanode"])),
        "dfs.hosts": include,
        "dfs.hosts.exclude": exclude,
        # The default 0.0.0.0 would send the secondary to itself for checkpoints.
        "dfs.namenode.http-address": f"{required(ctx, 'namenode').fixed_ip}:{NAMENODE_UI}",
        # Members are listed by IP; a reverse lookup adds nothing but a failure mode.
        "dfs.namenode.datanode.registration.ip-hostname-check": False,
    }
    secondary = single(ctx, "secondarynamenode")
    if secondary is not None:
        settings["dfs.namenode.secondary.http-address"] = f"{secondary.fixed_ip}:{SECONDARY_UI}"
    return settings


def yarn_site(ctx: StepContext, instance: Instance) -> dict[str, Any]:
    include, exclude = host_list_paths(ctx, "nodemanagers")
    memory, cores = NODEMANAGER_MEMORY, VCORES
    return {
        "yarn.resourcemanager.hostname": required(ctx, "resourcemanager").fixed_ip,
        "yarn.resourcemanager.nodes.include-path": include,
        "yarn.resourcemanager.nodes.exclude-path": exclude,
        memory: ctx.config(memory, instance),
        cores: ctx.config(cores, instance),
        "yarn.nodemanager.local-dirs": ",".join(data_dirs(ctx, instance, DATA_DIRS["nodemanager"])),
        "yarn.nodemanager.log-dirs": f"{STATE_DIR}/logs/userlogs",
        "yarn.nodemanager.aux-services": "mapreduce_shuffle",
        # A JVM reserves far more virtual memory than it uses; the check kills ordinary map tasks
        # (glibc's per-thread arenas alone pass 2.1 x the container's size). Physical memory stays checked.
        "yarn.nodemanager.vmem-check-enabled": False,
        MIN_ALLOCATION: ctx.config(MIN_ALLOCATION),
        "yarn.nodemanager.address": f"{instance.fixed_ip}:{NODEMANAGER_RPC}",
        "yarn.nodemanager.env-whitelist": "JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,"
                                          "CLASSPATH_PREPEND_DISTCACHE,HADOOP_YARN_HOME,HADOOP_HOME,PATH,"
                                          "LANG,TZ,HADOOP_MAPRED_HOME",
    }


def mapred_site(ctx: StepContext) -> dict[str, Any]:
    # Without HADOOP_MAPRED_HOME, Hadoop 3 containers cannot find the MapReduce classes.
    mapred_home = f"HADOOP_MAPRED_HOME={home(ctx)}"
    settings: dict[str, Any] = {
        "mapreduce.framework.name": "yarn",
        "mapreduce.shuffle.port": SHUFFLE_PORT,
        "yarn.app.mapreduce.am.job.client.port-range": f"{AM_PORTS.start}-{AM_PORTS.stop - 1}",
        "yarn.app.mapreduce.am.webapp.port-range": f"{AM_PORTS.start}-{AM_PORTS.stop - 1}",
        "yarn.app.mapreduce.am.env": mapred_home,
        **{name: ctx.config(name) for name in CONTAINER_SIZES},
        # Hadoop derives the tasks' heaps from their containers (0.8), not the ApplicationMaster's: its
        # default -Xmx1024m would fill a 1024 MiB container and get the AM killed by the memory check.
        "yarn.app.mapreduce.am.command-opts": f"-Xmx{int(0.8 * int(ctx.config(AM_MEMORY)))}m",
        "mapreduce.map.env": mapred_home,
        "mapreduce.reduce.env": mapred_home,
    }
    history = single(ctx, "historyserver")
    if history is not None:
        settings["mapreduce.jobhistory.address"] = f"{history.fixed_ip}:{HISTORY_RPC}"
        settings["mapreduce.jobhistory.webapp.address"] = f"{history.fixed_ip}:{HISTORY_UI}"
    return settings


def hadoop_env(ctx: StepContext, instance: Instance, java: Java) -> str:
    """hadoop-env.sh for ``instance``: the image's own first (kept as hadoop-env.sh.dist), then heatdeploy's
    settings, with the JAVA_HOME chosen on the instance. Every value is shell-quoted."""
    dist = shlex.quote(f"{conf_dir(ctx)}/hadoop-env.sh.dist")
    values = {
        "JAVA_HOME": java.home,
        # An image made to run Hadoop as root may set these to root, and Hadoop's scripts then refuse
        # to run a daemon as anyone else: they name the users heatdeploy runs them as.
        **{f"{DAEMONS[p][0].upper()}_{p.upper()}_USER": USER_OF[p] for p in PROCESSES},
        "HADOOP_LOG_DIR": f"{STATE_DIR}/logs",
        "HADOOP_PID_DIR": f"{STATE_DIR}/run",
        "HDFS_NAMENODE_OPTS": f"-Xmx{ctx.config('namenode_heap_size')}m",
        "HDFS_DATANODE_OPTS": f"-Xmx{ctx.config('datanode_heap_size', instance)}m",
    }
    return env_file(values, preamble=f"if [ -f {dist} ]; then . {dist}; fi\n{ENV_PREAMBLE}")


def daemon_script(ctx: StepContext) -> str:
    return DAEMON_SCRIPT.format(home=shlex.quote(home(ctx)))


def host_list(instances: Iterable[Instance]) -> str:
    return "".join(f"{i.fixed_ip}\n" for i in instances)


# --- actions --------------------------------------------------------------------------------------

def configure(ctx: StepContext, remote: Remote) -> None:
    instance = remote.instance
    conf = conf_dir(ctx)
    # First: it keeps the image's hadoop-env.sh before ours replaces it, and fails early on a wrong Java.
    java = find_java(remote, f"{conf}/hadoop-env.sh", ctx.spec.version, str(ctx.config("java_home")))
    remote.write_file(f"{conf}/core-site.xml", site_xml(core_site(ctx)))
    remote.write_file(f"{conf}/hdfs-site.xml", site_xml(hdfs_site(ctx, instance)))
    remote.write_file(f"{conf}/yarn-site.xml", site_xml(yarn_site(ctx, instance)))
    remote.write_file(f"{conf}/mapred-site.xml", site_xml(mapred_site(ctx)))
    remote.write_file(f"{conf}/hadoop-env.sh", hadoop_env(ctx, instance, java), 0o755)
    remote.write_file(DAEMON, daemon_script(ctx), 0o755)
    # A master must find its lists before it starts: a missing dfs.hosts file stops the NameNode.
    write_host_lists(ctx, remote, draining=False)
    remote.run(["sh", "-c", USERS_SCRIPT, "users", *USERS])
    shared = [f"{STATE_DIR}/{d}" for d in ("logs", "run", "tmp")]
    owned: dict[str, list[str]] = {user: [] for user in USERS} | {"yarn": [f"{STATE_DIR}/logs/userlogs"]}
    for process, name in DATA_DIRS.items():
        if instance.runs(process):
            owned[USER_OF[process]] += data_dirs(ctx, instance, name)
    remote.run(["mkdir", "-p", *shared, *(d for dirs in owned.values() for d in dirs)])
    # Logs, pid files and hadoop.tmp.dir are every daemon user's: group hadoop, sticky like /tmp.
    remote.run(["chgrp", GROUP, *shared])
    remote.run(["chmod", "1775", *shared])
    for user, dirs in owned.items():
        if dirs:
            remote.run(["chown", "-R", f"{user}:{GROUP}", *dirs])


def write_host_lists(ctx: StepContext, remote: Remote, draining: bool) -> None:
    """Write the lists of the masters ``remote`` runs.

    While ``draining``, the leaving workers stay included and are also
    excluded: HDFS decommissions a DataNode only when it is in both lists,
    and simply drops it (with its replicas) when it is in neither.
    """
    for master, (worker, workers) in HOST_LISTS.items():
        if not remote.instance.runs(master):
            continue
        include, exclude = host_list_paths(ctx, workers)
        leaving = [i for i in ctx.leaving if i.runs(worker)] if draining else []
        remote.write_file(include, host_list(ctx.running(worker, include_leaving=draining)))
        remote.write_file(exclude, host_list(leaving))


def refresh_nodes(ctx: StepContext, remote: Remote, graceful: bool = False) -> None:
    """Make the masters ``remote`` runs reread their include and exclude lists.

    ``graceful`` decommissions NodeManagers the YARN way: no new containers
    on them, and the running ones (MapReduce ApplicationMasters included)
    get up to ``yarn_decommission_timeout`` seconds to finish; a plain
    refresh kills them at once. ``-server`` has the ResourceManager keep the
    time and returns at once (``-client`` would block this SSH command for
    the whole drain); heatdeploy waits through the REST API.
    """
    if remote.instance.runs("namenode"):
        remote.run(as_user("hdfs", launcher(ctx, "hdfs"), "dfsadmin", "-refreshNodes"))
    if remote.instance.runs("resourcemanager"):
        timeout = ["-g", str(ctx.config("yarn_decommission_timeout")), "-server"] if graceful else []
        remote.run(as_user("yarn", launcher(ctx, "yarn"), "rmadmin", "-refreshNodes", *timeout))


def admit_members(ctx: StepContext, remote: Remote) -> None:
    """Lists naming exactly the current members (leaving ones excluded), then refresh."""
    write_host_lists(ctx, remote, draining=False)
    refresh_nodes(ctx, remote)


def exclude_leaving(ctx: StepContext, remote: Remote) -> None:
    """Start decommissioning: the leaving workers go on the exclude lists, then refresh."""
    write_host_lists(ctx, remote, draining=True)
    refresh_nodes(ctx, remote, graceful=True)


def as_user(user: str, *command: str) -> list[str]:
    """``command`` run as ``user`` (util-linux's runuser: an argv, no shell)."""
    return ["runuser", "-u", user, "--", *command]


def start(remote: Remote, process: str) -> None:
    remote.run([DAEMON, "start", *DAEMONS[process], USER_OF[process]])


def stop(remote: Remote, process: str) -> None:
    remote.run([DAEMON, "stop", *DAEMONS[process], USER_OF[process]])


def format_namenode(ctx: StepContext, remote: Remote) -> None:
    """Format HDFS unless it already is: formatting again would orphan every block."""
    version = f"{data_dirs(ctx, remote.instance, DATA_DIRS['namenode'])[0]}/current/VERSION"
    if remote.run(["test", "-f", version], check=False).status == 0:
        return
    remote.run(as_user("hdfs", launcher(ctx, "hdfs"), "namenode", "-format", "-nonInteractive"))


def start_namenode(ctx: StepContext, remote: Remote) -> None:
    start(remote, "namenode")


def start_masters(ctx: StepContext, remote: Remote) -> None:
    """The secondary NameNode and the ResourceManager, whichever of them ``remote`` runs."""
    for process in ("secondarynamenode", "resourcemanager"):
        if remote.instance.runs(process):
            start(remote, process)


def start_workers(ctx: StepContext, remote: Remote) -> None:
    for process in ("datanode", "nodemanager"):
        if remote.instance.runs(process):
            start(remote, process)


def stop_workers(ctx: StepContext, remote: Remote) -> None:
    for process in ("nodemanager", "datanode"):
        if remote.instance.runs(process):
            stop(remote, process)


def start_historyserver(ctx: StepContext, remote: Remote) -> None:
    start(remote, "historyserver")


def datanode_states(remote: Remote) -> dict[str, str] | None:
    """The NameNode's DataNodes as transfer IP to admin state; None while it does not answer.

    Live nodes carry their state (``In Service``, ``Decommission In
    Progress``, ``Decommissioned``); dead ones are ``Decommissioned`` or
    ``Dead``.
    """
    try:
        status, body = remote.http("GET", NAMENODE_UI, NAMENODE_INFO)
    except RemoteError:
        return None  # a NameNode still starting refuses connections
    if status != 200:
        return None
    try:
        beans = json.loads(body).get("beans") or [{}]
        live = json.loads(beans[0].get("LiveNodes") or "{}")
        dead = json.loads(beans[0].get("DeadNodes") or "{}")
        states = {_ip(n): "Dead" for n in dead.values()}
        states.update({_ip(n): DECOMMISSIONED for n in dead.values() if n.get("decommissioned")})
        states.update({_ip(n): str(n.get("adminState", "")) for n in live.values()})
    except (ValueError, AttributeError, KeyError, TypeError):
        return None  # answered before it was ready to describe its DataNodes
    return states


def _ip(node: Mapping[str, Any]) -> str:
    return str(node["xferaddr"]).rsplit(":", 1)[0]


def in_service(states: Mapping[str, str] | None) -> set[str]:
    return {ip for ip, state in (states or {}).items() if state == IN_SERVICE}


def wait_datanodes(ctx: StepContext, remote: Remote) -> None:
    """Wait until every current DataNode is live and in service, and HDFS is out of safe mode."""
    expected = {i.fixed_ip for i in ctx.running("datanode")}
    ctx.wait_until(f"{len(expected)} DataNode(s) live on the NameNode",
                   lambda: expected <= in_service(datanode_states(remote)), START_TIMEOUT)
    remote.run(as_user("hdfs", launcher(ctx, "hdfs"), "dfsadmin", "-safemode", "wait"))


def check_replication(ctx: StepContext, remote: Remote) -> None:
    """Refuse a decommission that would leave fewer DataNodes than blocks have replicas."""
    leaving = [i.name for i in ctx.leaving if i.runs("datanode")]
    replication = int(ctx.config(REPLICATION))
    remaining = len(ctx.running("datanode"))
    if leaving and remaining < replication:
        raise DecommissionRefused(
            f"refusing to decommission {', '.join(leaving)}: {remaining} DataNode(s) would remain, "
            f"fewer than {REPLICATION} ({replication}); remove fewer DataNodes")


def wait_decommissioned(ctx: StepContext, remote: Remote) -> None:
    """Wait until HDFS has copied the leaving DataNodes' blocks elsewhere."""
    leaving = {i.fixed_ip for i in ctx.leaving if i.runs("datanode")}

    def done() -> bool:
        states = datanode_states(remote)
        # A DataNode the NameNode never heard of holds no blocks.
        return states is not None and all(states.get(ip, DECOMMISSIONED) == DECOMMISSIONED for ip in leaving)

    ctx.wait_until(f"{len(leaving)} DataNode(s) decommissioned", done, DECOMMISSION_TIMEOUT)


def nodemanager_states(ctx: StepContext, remote: Remote) -> dict[str, str] | None:
    """The ResourceManager's NodeManagers as fixed IP to state (``RUNNING``, ``LOST``, ``DECOMMISSIONED``...);
    None while it does not answer.

    A NodeManager names itself by the canonical host name of the address it
    binds (a reverse lookup: the instance's name, from /etc/hosts), whatever
    ``yarn.nodemanager.address`` says; the cluster's instances map names back
    to addresses, and a node id that is an address stays one.
    """
    try:
        reply = http_json(remote, RESOURCEMANAGER_UI, CLUSTER_NODES)
    except RemoteError:
        return None
    if "nodes" not in reply:  # no answer yet, or not the ResourceManager's (it always says "nodes")
        return None
    address = ctx.memo("hadoop-node-addresses", lambda: {i.name: i.fixed_ip for i in ctx.instances})
    try:
        nodes = (reply["nodes"] or {}).get("node") or []  # no node at all: "nodes": null
        hosts = {str(node["id"]).rsplit(":", 1)[0]: str(node.get("state", "")) for node in nodes}
    except (AttributeError, KeyError, TypeError):
        return None
    states: dict[str, str] = {}
    for host, state in hosts.items():  # a node listed under an old name and a new one: RUNNING wins
        ip = address.get(host, address.get(host.split(".")[0], host))
        if states.get(ip) != "RUNNING":
            states[ip] = state
    return states


def running_nodemanagers(states: Mapping[str, str] | None) -> set[str]:
    return {ip for ip, state in (states or {}).items() if state == "RUNNING"}


# Run as hdfs, HDFS's superuser: /tmp for everyone (MapReduce's staging and history live under it) and a
# home for the user heatdeploy connects as, who submits jobs. Safe to repeat.
# MapReduce's staging and history folders are made here too, as Hadoop's secure-mode table has them: the
# history server would otherwise make them 0770 with HDFS's supergroup, which neither the users submitting
# jobs nor mapred (group hadoop) are in, and every job would fail at submission.
HDFS_DIRS_SCRIPT = """set -e
hdfs=$1 owner=$2
staging=/tmp/hadoop-yarn/staging history=/tmp/hadoop-yarn/staging/history
"$hdfs" dfs -mkdir -p /tmp "/user/$owner" "$history/done" "$history/done_intermediate"
"$hdfs" dfs -chmod 1777 /tmp /tmp/hadoop-yarn "$staging" "$history/done_intermediate"
"$hdfs" dfs -chown "$owner" "/user/$owner"
"$hdfs" dfs -chown -R mapred:hadoop "$history"
"$hdfs" dfs -chmod 755 "$history"
"$hdfs" dfs -chmod 770 "$history/done"
"""


def hdfs_dirs(ctx: StepContext, remote: Remote) -> None:
    owner = remote.run(["id", "-un"]).stdout.strip()
    remote.run(as_user("hdfs", "sh", "-c", HDFS_DIRS_SCRIPT, "hdfs-dirs", launcher(ctx, "hdfs"), owner))


def wait_nodemanagers(ctx: StepContext, remote: Remote) -> None:
    """Wait until every current NodeManager is RUNNING on the ResourceManager."""
    expected = {i.fixed_ip for i in ctx.running("nodemanager")}
    ctx.wait_until(f"{len(expected)} NodeManager(s) running on the ResourceManager",
                   lambda: expected <= running_nodemanagers(nodemanager_states(ctx, remote)), START_TIMEOUT)


def wait_historyserver(ctx: StepContext, remote: Remote) -> None:
    ctx.wait_until("the MapReduce history server answers",
                   lambda: remote.http("GET", HISTORY_UI, HISTORY_INFO)[0] == 200, START_TIMEOUT)


def wait_nodemanagers_decommissioned(ctx: StepContext, remote: Remote) -> None:
    """Wait until YARN has let the leaving NodeManagers' containers finish (graceful decommission)."""
    leaving = {i.fixed_ip for i in ctx.leaving if i.runs("nodemanager")}

    def done() -> bool:
        states = nodemanager_states(ctx, remote)
        # A NodeManager the ResourceManager does not list runs no container.
        return states is not None and all(states.get(ip, "DECOMMISSIONED") == "DECOMMISSIONED" for ip in leaving)

    # YARN forces the decommission itself at its timeout; a little longer here lets it report so.
    ctx.wait_until(f"{len(leaving)} NodeManager(s) decommissioned", done,
                   int(ctx.config("yarn_decommission_timeout")) + 60)


# --- operations -----------------------------------------------------------------------------------

# After the DataNodes: both masters often share an instance, and one wait after the other reads plainly.
WAIT_NODEMANAGERS = Step("hadoop-wait-nodemanagers", wait_nodemanagers, processes=("resourcemanager",), scope="all",
                         after=("hadoop-wait-datanodes",), description="wait until every NodeManager is running")


def launch_steps() -> list[Step]:
    return [
        Step("hadoop-configure", configure, processes=PROCESSES, after=("hosts", "volumes"),
             description="write the site files, hadoop-env.sh and the include lists"),
        Step("hadoop-format", format_namenode, processes=("namenode",), after=("hadoop-configure",),
             description="format HDFS unless it already is"),
        Step("hadoop-start-namenode", start_namenode, processes=("namenode",), after=("hadoop-format",),
             description="start the NameNode"),
        Step("hadoop-start-masters", start_masters, processes=("secondarynamenode", "resourcemanager"),
             after=("hadoop-start-namenode",), description="start the secondary NameNode and the ResourceManager"),
        Step("hadoop-start-workers", start_workers, processes=("datanode", "nodemanager"),
             after=("hadoop-start-masters",), description="start the DataNodes and NodeManagers"),
        Step("hadoop-wait-datanodes", wait_datanodes, processes=("namenode",), scope="all",
             after=("hadoop-start-workers",), description="wait until every DataNode is live"),
        Step("hadoop-hdfs-dirs", hdfs_dirs, processes=("namenode",), scope="all", after=("hadoop-wait-datanodes",),
             description="create HDFS's /tmp (1777) and the user's home"),
        dataclasses.replace(WAIT_NODEMANAGERS, after=("hadoop-hdfs-dirs",)),
        Step("hadoop-start-historyserver", start_historyserver, processes=("historyserver",),
             after=("hadoop-wait-nodemanagers",), description="start the MapReduce history server"),
        Step("hadoop-wait-historyserver", wait_historyserver, processes=("historyserver",),
             after=("hadoop-start-historyserver",), description="wait until the history server answers"),
    ]


def scale_up_steps() -> list[Step]:
    return [
        Step("hadoop-configure", configure, processes=PROCESSES, after=("hosts", "volumes"),
             description="configure the new instances"),
        Step("hadoop-admit", admit_members, processes=tuple(HOST_LISTS), scope="all", after=("hosts",),
             description="add the new workers to the include lists and refresh"),
        Step("hadoop-start-workers", start_workers, processes=("datanode", "nodemanager"),
             after=("hadoop-configure", "hadoop-admit"), description="start the new DataNodes and NodeManagers"),
        Step("hadoop-wait-datanodes", wait_datanodes, processes=("namenode",), scope="all",
             after=("hadoop-start-workers",), description="wait until every DataNode is live"),
        WAIT_NODEMANAGERS,
    ]


def decommission_steps() -> list[Step]:
    return [
        Step("hadoop-check-replication", check_replication, processes=("namenode",), scope="all", once=True,
             description=f"refuse to leave fewer DataNodes than {REPLICATION}"),
        Step("hadoop-exclude", exclude_leaving, processes=tuple(HOST_LISTS), scope="all",
             after=("hadoop-check-replication",), description="exclude the leaving workers and refresh"),
        Step("hadoop-wait-decommissioned", wait_decommissioned, processes=("namenode",), scope="all",
             after=("hadoop-exclude",), description="wait until HDFS has moved the leaving DataNodes' blocks"),
        # YARN drains its containers meanwhile (it started at the refresh): waiting on it second costs nothing.
        Step("hadoop-wait-yarn-decommissioned", wait_nodemanagers_decommissioned, processes=("resourcemanager",),
             scope="all", after=("hadoop-wait-decommissioned",),
             description="wait until the leaving NodeManagers' containers have finished"),
        Step("hadoop-stop-workers", stop_workers, processes=("datanode", "nodemanager"),
             after=("hadoop-wait-yarn-decommissioned",), description="stop the leaving DataNodes and NodeManagers"),
        Step("hadoop-admit", admit_members, processes=tuple(HOST_LISTS), scope="all",
             after=("hadoop-stop-workers",), description="drop the leaving workers from the lists and refresh"),
    ]
