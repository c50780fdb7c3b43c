"""heatdeploy framework plugin: an OpenStack Swift object store, built from roles that pass facts.

Storage nodes publish their devices; the ring builder builds the account,
container and object rings from them and publishes the rings' checksums;
every storage and proxy node fetches the rings and checks them; storage
services start; the proxy starts with credentials generated once and kept
as a secret fact; a PUT, GET and HEAD through it end the launch. Scaling
adds devices and rebalances; decommissioning gives the leaving devices
weight 0, rebalances and redistributes before the servers go.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Sequence

from heatdeploy import (
    ClusterSpec,
    ConfigOption,
    Daemon,
    Framework,
    Health,
    HealthCheck,
    ImageRequirements,
    Instance,
    Problem,
    Remote,
    RemoteError,
    Step,
    StepContext,
    at_least,
    exactly_one,
    hookimpl,
    members_health,
    wait_for_http,
)

PORTS = {"object": 6200, "container": 6201, "account": 6202}
PROXY_PORT, MEMCACHED_PORT = 8080, 11211
RINGS = ("account", "container", "object")
SWIFT_DIR = "/etc/swift"
STATE_DIR = "/var/lib/heatdeploy/objectstore"
USER = "admin:admin"

# Swift's programs as the image's Python runs them: the servers through run_wsgi, the replicator
# through run_daemon. Everything arrives as arguments.
RUN = """import sys
program, conf = sys.argv[1], sys.argv[2]
if program == "object-replicator":
    from swift.common.daemon import run_daemon
    from swift.obj.replicator import ObjectReplicator
    run_daemon(ObjectReplicator, conf)
else:
    from swift.common.wsgi import run_wsgi
    sys.exit(run_wsgi(conf, program))
"""

# Reads {"dir", "part_power", "replicas", "ports", "devices": [{ip, device, weight}]} on stdin: creates
# the builders once, removes devices no longer wanted, sets the others' weights (0 drains), adds new ones,
# rebalances, writes the rings and prints their sha256 checksums.
RING = """import hashlib, json, os, sys
from swift.common.ring import RingBuilder
want = json.load(sys.stdin)
sums = {}
for ring, port in want["ports"].items():
    path = os.path.join(want["dir"], ring + ".builder")
    builder = RingBuilder.load(path) if os.path.exists(path) else RingBuilder(want["part_power"], want["replicas"], 1)
    devices = {(d["ip"], d["device"]): d["weight"] for d in want["devices"]}
    for dev in [d for d in builder.devs if d is not None]:
        key = (dev["ip"], dev["device"])
        if key not in devices:
            builder.remove_dev(dev["id"])
            continue
        weight = devices.pop(key)
        if dev["weight"] != weight:
            builder.set_dev_weight(dev["id"], float(weight))
    for (ip, device), weight in devices.items():
        builder.add_dev({"region": 1, "zone": 1, "ip": ip, "port": port, "device": device, "weight": weight})
    # One replica of a partition moves per rebalance whatever the clock says; heatdeploy runs them only
    # when the cluster changes, so it need not wait out min_part_hours between a launch and a scale.
    builder.pretend_min_part_hours_passed()
    builder.rebalance()
    builder.save(path)
    builder.get_ring().save(os.path.join(want["dir"], ring + ".ring.gz"))
    with open(os.path.join(want["dir"], ring + ".ring.gz"), "rb") as f:
        sums[ring] = hashlib.sha256(f.read()).hexdigest()
print(json.dumps(sums))
"""

# PUTs, GETs and HEADs one object through the proxy on this instance; credentials on stdin.
CHECK = """import json, sys, urllib.request
auth, url = json.load(sys.stdin), sys.argv[1]
def call(method, path, body=None, headers=()):
    request = urllib.request.Request(url + path, data=body, method=method, headers=dict(headers))
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.headers, answer.read()
headers, _ = call("GET", "/auth/v1.0", headers={"X-Auth-User": auth["user"], "X-Auth-Key": auth["key"]})
token, storage = headers["X-Auth-Token"], headers["X-Storage-Url"].replace(url, "")
call("PUT", storage + "/heatdeploy-check", headers={"X-Auth-Token": token})
call("PUT", storage + "/heatdeploy-check/probe", b"ok", {"X-Auth-Token": token})
assert call("GET", storage + "/heatdeploy-check/probe", headers={"X-Auth-Token": token})[1] == b"ok"
assert call("HEAD", storage + "/heatdeploy-check/probe", headers={"X-Auth-Token": token})[0]["Content-Length"] == "2"
"""


def python(ctx: StepContext) -> str:
    return str(ctx.config("python"))


def builder(ctx: StepContext) -> Instance:
    return ctx.running("ring-builder")[0]


def conf(program: str, ip: str, port: int, pipeline: str, extra: str = "") -> str:
    """A Swift server's configuration; every value is one heatdeploy computed (addresses, ports, paths)."""
    return (f"[DEFAULT]\nswift_dir = {SWIFT_DIR}\ndevices = {STATE_DIR}/devices\nmount_check = false\n"
            f"bind_ip = {ip}\nbind_port = {port}\nworkers = 0\nuser = root\n\n"
            f"[pipeline:main]\npipeline = healthcheck {pipeline}\n\n"
            "[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n"
            f"[app:{program}]\nuse = egg:swift#{program.split('-')[0]}\n{extra}")


def daemon(ctx: StepContext, program: str) -> Daemon:
    # A replicator reads its section of its server's configuration, as swift-object-replicator does.
    conf_file = f"{SWIFT_DIR}/{program.split('-')[0]}-server.conf"
    return Daemon(program, [python(ctx), "-c", RUN, program, conf_file], directory=STATE_DIR)


# -- the steps, in the order they run -----------------------------------------------------------------------


def generate_secrets(ctx: StepContext, remote: Remote) -> None:
    """Once per cluster: the hash path salts every node shares, and the proxy's admin key. Kept secret."""
    for name, value in (("swift-hash", {"prefix": secrets.token_hex(16), "suffix": secrets.token_hex(16)}),
                        ("auth", {"user": USER, "key": secrets.token_urlsafe(24)})):
        if not ctx.facts(name, complete=False):
            ctx.publish(name, value, secret=True)


def prepare_devices(ctx: StepContext, remote: Remote) -> None:
    """A storage node's devices: its volumes (mounted by heatdeploy) linked into the devices folder, else a folder."""
    volumes = ctx.group(remote.instance).volumes
    mounts = [f"{volumes.mount_prefix}{n}" for n in range(1, volumes.count + 1)] if volumes else []
    names = [f"d{n}" for n in range(1, max(len(mounts), 1) + 1)]
    remote.run(["mkdir", "-p", f"{STATE_DIR}/devices", SWIFT_DIR])
    for name, mount in zip(names, mounts, strict=False):
        remote.run(["ln", "-sfn", mount, f"{STATE_DIR}/devices/{name}"])
    if not mounts:
        remote.run(["mkdir", "-p", f"{STATE_DIR}/devices/d1"])
    ctx.publish("devices", {"ip": remote.instance.fixed_ip, "devices": names})


def build_rings(ctx: StepContext, remote: Remote) -> None:
    """Rings from every storage node's published devices; leaving nodes' devices get weight 0."""
    leaving = {i.name for i in ctx.leaving}
    devices = [{"ip": found["ip"], "device": device, "weight": 0 if name in leaving else 100}
               for name, found in sorted(ctx.facts("devices").items()) for device in found["devices"]]
    want = {"dir": SWIFT_DIR, "part_power": ctx.config("part_power"), "replicas": ctx.config("replicas"),
            "ports": PORTS, "devices": devices}
    remote.run(["mkdir", "-p", SWIFT_DIR])
    result = remote.run([python(ctx), "-c", RING], stdin=json.dumps(want).encode())
    ctx.publish("rings", json.loads(result.stdout.strip().splitlines()[-1]))


def distribute_rings(ctx: StepContext, remote: Remote) -> None:
    """swift.conf, then each ring fetched from the builder and checked against its published checksum."""
    salts = ctx.facts("swift-hash", complete=False)[builder(ctx).name]
    remote.write_file(f"{SWIFT_DIR}/swift.conf", f"[swift-hash]\nswift_hash_path_prefix = {salts['prefix']}\n"
                      f"swift_hash_path_suffix = {salts['suffix']}\n\n"
                      "[storage-policy:0]\nname = gold\ndefault = yes\n", 0o600)
    sums = ctx.facts("rings")[builder(ctx).name]
    source = ctx.remote(builder(ctx))
    for ring in RINGS:
        data = source.read_file(f"{SWIFT_DIR}/{ring}.ring.gz")
        if hashlib.sha256(data).hexdigest() != sums[ring]:
            raise RemoteError(remote.instance.name, f"the {ring} ring fetched from {builder(ctx).name} does "
                                                    "not match its published checksum")
        remote.write_file(f"{SWIFT_DIR}/{ring}.ring.gz", data)
    check = remote.run(["sha256sum", *(f"{SWIFT_DIR}/{ring}.ring.gz" for ring in RINGS)]).stdout.split()
    if check[0::2] != [sums[ring] for ring in RINGS]:
        raise RemoteError(remote.instance.name, "a ring written here does not match its published checksum")


def start_storage(ctx: StepContext, remote: Remote) -> None:
    ip = remote.instance.fixed_ip
    for kind, port in PORTS.items():
        program = f"{kind}-server"
        replication = "\n[object-replicator]\nsync_method = ssync\n" if kind == "object" else ""
        remote.write_file(f"{SWIFT_DIR}/{program}.conf", conf(program, ip, port, program, replication))
        server = daemon(ctx, program)
        server.start(remote)
        wait_for_http(ctx, remote, port, "/healthcheck", ctx.config("start_timeout"), what=f"the {program} answers",
                      probe=lambda server=server: server.check(remote))  # type: ignore[misc]
    daemon(ctx, "object-replicator").start(remote)


def start_proxy(ctx: StepContext, remote: Remote) -> None:
    # tempauth keeps its tokens in memcached: one beside each proxy, all of them shared, so that a token
    # one proxy gave works on every other.
    Daemon("memcached", ["memcached", "-u", "root", "-l", remote.instance.fixed_ip, "-p", str(MEMCACHED_PORT),
                         "-m", "64"], directory=STATE_DIR).start(remote)
    auth = ctx.facts("auth", complete=False)[builder(ctx).name]
    caches = ",".join(f"{i.fixed_ip}:{MEMCACHED_PORT}" for i in ctx.running("proxy"))
    extra = ("account_autocreate = true\n\n[filter:cache]\nuse = egg:swift#memcache\n"
             f"memcache_servers = {caches}\n\n[filter:tempauth]\nuse = egg:swift#tempauth\n"
             f"user_{USER.replace(':', '_')} = {auth['key']} .admin\n")
    pipeline = "cache tempauth proxy-server"
    remote.write_file(f"{SWIFT_DIR}/proxy-server.conf",
                      conf("proxy-server", remote.instance.fixed_ip, PROXY_PORT, pipeline, extra), 0o600)
    proxy = daemon(ctx, "proxy-server")
    proxy.start(remote)
    wait_for_http(ctx, remote, PROXY_PORT, "/healthcheck", ctx.config("start_timeout"),
                  what="the Swift proxy answers", probe=lambda: proxy.check(remote))


def check_proxy(ctx: StepContext, remote: Remote) -> None:
    """A PUT, GET and HEAD through the proxy, with the generated credentials (on stdin, never on a command line)."""
    auth = ctx.facts("auth", complete=False)[builder(ctx).name]
    remote.run([python(ctx), "-c", CHECK, f"http://{remote.instance.fixed_ip}:{PROXY_PORT}"],
               stdin=json.dumps(auth).encode())


def stop_storage(ctx: StepContext, remote: Remote) -> None:
    for program in ("object-replicator", *(f"{kind}-server" for kind in PORTS)):
        daemon(ctx, program).stop(remote)


def answering(remote: Remote, ports: Sequence[int]) -> bool:
    try:
        return all(remote.http("GET", port, "/healthcheck")[0] == 200 for port in ports)
    except RemoteError:
        return False


def storage_health(ctx: StepContext) -> Health:
    seen = {i.fixed_ip for i in ctx.running("storage") if answering(ctx.remote(i), list(PORTS.values()))}
    health = members_health(seen, ctx.running("storage"), "storage nodes serving")
    proxies = ctx.running("proxy")
    down = [i.name for i in proxies if not answering(ctx.remote(i), [PROXY_PORT])]
    if down:
        return Health("red", f"proxy {', '.join(down)} not answering; {health.message}")
    return health


def steps(ring_after: tuple[str, ...]) -> list[Step]:
    """Launch and scale-up: the same steps, each on what it selects (new instances, or all for the rings)."""
    return [
        Step("objectstore-secrets", generate_secrets, processes=("ring-builder",), scope="all", once=True,
             publishes=("swift-hash", "auth")),
        Step("objectstore-devices", prepare_devices, processes=("storage",), after=("volumes",),
             publishes=("devices",)),
        Step("objectstore-rings", build_rings, processes=("ring-builder",), scope="all",
             after=("objectstore-devices", *ring_after), publishes=("rings",)),
        Step("objectstore-distribute", distribute_rings, processes=("storage", "proxy"), scope="all",
             after=("objectstore-rings", "objectstore-secrets")),
        Step("objectstore-start-storage", start_storage, processes=("storage",), after=("objectstore-distribute",)),
        Step("objectstore-start-proxy", start_proxy, processes=("proxy",), after=("objectstore-start-storage",)),
        Step("objectstore-check", check_proxy, processes=("proxy",), scope="all", once=True,
             after=("objectstore-start-proxy",)),
    ]


class ObjectStore(Framework):
    def validate(self, spec: ClusterSpec) -> Iterator[Problem]:
        yield from exactly_one(spec, "ring-builder")
        yield from at_least(spec, "proxy", 1)
        replicas = int(spec.configs.get("replicas", 3))
        yield from at_least(spec, "storage", replicas, f"one per replica: replicas is {replicas}")

    def image_requirements(self, spec: ClusterSpec) -> ImageRequirements:
        python = str(self.config_value(spec, "python"))
        return ImageRequirements(commands=(python, "setsid", "sha256sum", "memcached"))

    def launch_steps(self) -> Sequence[Step]:
        return steps(())

    def scale_up_steps(self) -> Sequence[Step]:
        return steps(())

    def decommission_steps(self) -> Sequence[Step]:
        return [Step("objectstore-rings", build_rings, processes=("ring-builder",), scope="all", publishes=("rings",)),
                Step("objectstore-distribute", distribute_rings, processes=("storage", "proxy"), scope="all",
                     after=("objectstore-rings",)),
                Step("objectstore-stop-storage", stop_storage, processes=("storage",),
                     after=("objectstore-distribute",))]

    def health_checks(self) -> Sequence[HealthCheck]:
        return [HealthCheck("objectstore", storage_health)]

    def endpoints(self, instances: Sequence[Instance]) -> dict[str, str]:
        proxy = next((i for i in instances if i.runs("proxy")), None)
        return {"auth": f"http://{proxy.floating_ip or proxy.fixed_ip}:{PROXY_PORT}/auth/v1.0"} if proxy else {}


OBJECTSTORE = ObjectStore(
    name="objectstore", title="Object store (Swift)", versions=("2",),
    processes={"storage": "account, container and object servers on the node's devices",
               "ring-builder": "builds the rings from the storage nodes' devices",
               "proxy": "the Swift proxy clients talk to, with its own (tempauth) credentials"},
    configs=(ConfigOption("python", str, "python3", "The Python that has Swift installed, on the image."),
             ConfigOption("replicas", int, 3, "Copies of every object; at least this many storage nodes."),
             ConfigOption("part_power", int, 8, "The rings' partition power (2**N partitions)."),
             ConfigOption("start_timeout", int, 60, "Seconds to wait for each server to answer.")),
    ports={"proxy": (PROXY_PORT,)},
    cluster_ports={"storage": tuple(sorted(PORTS.values())), "proxy": (MEMCACHED_PORT,)},
)


@hookimpl
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    register(OBJECTSTORE)
