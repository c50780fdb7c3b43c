"""`up`, `status` and `down` of the local cloud."""

from __future__ import annotations

import concurrent.futures
import functools
import glob
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from heatdeploy.local import (
    clouds,
    heat,
    instances,
    keystone,
    network,
    postgres,
    processes,
    registry,
    swift,
    volumes,
)
from heatdeploy.local.state import SERVICES, State, load_secrets

# URL path each HTTP service answers when healthy (below 500 counts).
HEALTH = {
    "keystone": "/v3", "heat": "/", "swift-proxy": "/healthcheck",
    "swift-account": "/", "swift-container": "/", "swift-object": "/",
}
STOP_SIGNAL = {"postgres": signal.SIGINT}  # PostgreSQL's fast shutdown


@dataclass
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    running: bool
    healthy: bool
    detail: str


def _allocate_ports(state: State) -> None:
    for name in SERVICES:
        if name not in state.ports:
            state.ports[name] = processes.free_port()


def service_status(state: State) -> list[ServiceStatus]:
    result = []
    for name in SERVICES:
        pid = state.pids.get(name)
        running = processes.alive(pid)
        port = state.ports.get(name)
        healthy, detail = False, "not running"
        if running and port:
            if name == "postgres":
                healthy = processes.port_open(state.address(name), port)
                detail = "accepting connections" if healthy else "not accepting connections"
            else:
                code = processes.http_status(state.address(name), port, HEALTH[name])
                healthy = code is not None and code < 500
                detail = f"HTTP {code}" if code else "no answer"
        result.append(ServiceStatus(name, f"{state.address(name)}:{port}" if port else "", pid, running,
                                    healthy, detail))
    return result


def instance_status(root: Path) -> list[dict[str, object]]:
    with registry.using(root):
        servers = registry.all_of("servers")
        return [{"id": s["id"], "name": s["name"], "addresses": s.get("addresses", []),
                 "pid": instances.recorded_pid(s["id"]), "running": instances.running(s["id"])}
                for s in servers]


def is_up(state: State) -> bool:
    return bool(state.pids) and all(s.healthy for s in service_status(state))


def preflight() -> None:
    """Fail early and clearly when the machine cannot run the local cloud."""
    if os.geteuid() != 0:
        raise RuntimeError("the local cloud needs root (namespaces and mounts of local instances)")
    missing = [tool for tool in ("/usr/sbin/sshd", "unshare", "nsenter", "curl", "ip", "nft", "losetup")
               if shutil.which(tool) is None]
    if not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        missing.append("postgres")
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run scripts/install-system-deps")


def up(root: Path, token_expiration: int | None = None,
       log: Callable[[str], None] = print) -> State:
    """Start the local cloud; a no-op when it already runs with these settings."""
    preflight()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    state = State.load(root)
    wanted = token_expiration or state.token_expiration
    if is_up(state):
        if wanted != state.token_expiration:
            _restart_keystone(state, wanted)
            log(f"Keystone restarted with token expiration {wanted} s")
        else:
            log(f"local cloud already running (state dir {root})")
        # The entries may point at another state dir's cloud since: rewrite them.
        clouds.write(state, load_secrets(root))
        return state
    if state.pids:
        # Half running or settings changed: restart cleanly rather than patch.
        _stop_services(state)
    state.token_expiration = wanted
    _allocate_ports(state)
    before = state.network
    chosen = network.claim(state)
    # A state dir made before networks existed has its catalog on 127.0.0.1: registered again below.
    renumbered = state.bootstrapped and chosen != before
    passwords = load_secrets(root)
    started = time.monotonic()
    lock = threading.Lock()

    def record(name: str, pid: int) -> None:
        with lock:
            state.pids[name] = pid
            state.save()

    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(_up_identity, state, passwords, record, renumbered),
                       pool.submit(_up_orchestration, state, passwords, record),
                       pool.submit(_up_storage, state, passwords, record)]
            for future in futures:
                future.result()
    except BaseException:
        _stop_services(state)
        raise
    state.bootstrapped = True
    state.save()
    with registry.using(root):
        network.sync(state.network)  # first: keyed by interface names, it holds before the ports exist
        restarted = instances.restart_stopped()
    if restarted:
        log(f"{len(restarted)} local instance(s) of existing servers started again")
    path = clouds.write(state, passwords)
    log(f"local cloud up in {time.monotonic() - started:.1f} s (state dir {root})")
    log(f"clouds.yaml entries {clouds.CLOUD} (user demo), {clouds.ADMIN_CLOUD}, "
        f"{clouds.TRUSTEE_CLOUD} written to {path}")
    log(f"try: OS_CLOUD={clouds.CLOUD} openstack stack list")
    return state


def _restart_keystone(state: State, token_expiration: int) -> None:
    """New token lifetime: only Keystone needs to restart."""
    processes.stop_group(state.pids.get("keystone"))
    state.token_expiration = token_expiration
    keystone.write_config(state)
    pid = keystone.start(state)
    state.pids["keystone"] = pid
    state.save()
    keystone.wait_ready(state, pid)


def _up_identity(state: State, passwords: dict[str, str],
                 record: Callable[[str, int], None], renumbered: bool) -> None:
    keystone.write_config(state)
    if not state.bootstrapped:
        keystone.bootstrap(state, passwords["admin"])
    pid = keystone.start(state)
    record("keystone", pid)
    keystone.wait_ready(state, pid)
    if not state.bootstrapped or renumbered:
        keystone.setup_identities(state, passwords)


def _up_orchestration(state: State, passwords: dict[str, str],
                      record: Callable[[str, int], None]) -> None:
    postgres.init(state)
    pid = postgres.start(state)
    record("postgres", pid)
    postgres.wait_ready(state, pid)
    heat.write_config(state, passwords)
    if not state.bootstrapped:
        postgres.create_heat_database(state, passwords["postgres_heat"])
        heat.db_sync(state)
    pid = heat.start(state)
    record("heat", pid)
    heat.wait_ready(state, pid)


def _up_storage(state: State, passwords: dict[str, str],
                record: Callable[[str, int], None]) -> None:
    swift.build_rings(state)
    swift.write_config(state, passwords)
    pids = {}
    for kind in ("account", "container", "object", "proxy"):
        pids[kind] = swift.start(state, kind)
        record(f"swift-{kind}", pids[kind])
    for kind, pid in pids.items():
        swift.wait_ready(state, kind, pid)


def _stop_instances(root: Path) -> None:
    folder = root / "cloud" / "instances"
    if not folder.is_dir():
        return
    with registry.using(root):
        for idir in folder.iterdir():
            instances.kill(idir.name)
        for idir in folder.iterdir():
            processes.wait_until(functools.partial(instances.gone, idir.name), 5.0,
                                 raise_on_timeout=False)


def _stop_services(state: State) -> None:
    """Instances first, then Heat (which starts instances), then the rest."""
    _stop_instances(state.root)
    order = ["heat", "swift-proxy", "swift-object", "swift-container", "swift-account",
             "keystone", "postgres"]
    processes.stop_group(state.pids.get("heat"))
    _stop_instances(state.root)  # anything Heat started meanwhile
    volumes.detach_all(state.root)  # instances gone, so nothing holds them: like powered-off disks
    if state.network:
        network.remove(state.network)  # the ports' veths went with the instances' namespaces
    with concurrent.futures.ThreadPoolExecutor(len(order)) as pool:
        list(pool.map(lambda name: processes.stop_group(
            state.pids.get(name), sig=STOP_SIGNAL.get(name, signal.SIGTERM)), order))
    state.pids = {}
    state.save()


def down(root: Path, purge: bool = False, log: Callable[[str], None] = print) -> None:
    state = State.load(root)
    if root.exists():
        _stop_services(state)
        # Last resort for anything started from this state dir and not recorded.
        for pid in processes.pids_mentioning(f"{root}/"):
            processes.kill(pid)
        log(f"local cloud stopped (state dir {root})")
    if purge:
        if state.network:
            network.release(state)
        shutil.rmtree(root, ignore_errors=True)
        if "keystone" in state.ports:
            clouds.remove(state.url("keystone", "/v3"))
        log("state dir and clouds.yaml entries removed")


def status_dict(root: Path) -> dict[str, object]:
    state = State.load(root)
    services = service_status(state)
    return {
        "state_dir": str(root),
        "up": bool(state.pids) and all(s.healthy for s in services),
        "token_expiration": state.token_expiration,
        "services": [asdict(s) for s in services],
        "instances": instance_status(root) if root.exists() else [],
    }
