"""Heat's database: a private PostgreSQL cluster inside the state dir.

Heat needs PostgreSQL (SQLite locks up once resources are created in
parallel). PostgreSQL refuses to run as root, and the state dir may sit under
folders only root can enter, so the server runs in a user namespace where it
is the `postgres` user while its files stay owned by the caller on disk.
"""

from __future__ import annotations

import glob
import os
import pwd
from pathlib import Path

import psycopg2

from heatdeploy.local import processes
from heatdeploy.local.state import State


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL server not found: run scripts/install-system-deps")
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    """Wrap argv so it runs as a non-root user (PostgreSQL's requirement)."""
    if os.geteuid() != 0:
        return argv
    entry = pwd.getpwnam("postgres")
    return ["unshare", "--user", f"--map-user={entry.pw_uid}",
            f"--map-group={entry.pw_gid}", "--"] + argv


def data_dir(state: State) -> Path:
    return state.root / "postgres" / "data"


def init(state: State) -> None:
    """Create the cluster once (about 0.7 s)."""
    if (data_dir(state) / "PG_VERSION").exists():
        return
    state.dir("postgres").chmod(0o700)
    processes.run(_as_postgres([_bin("initdb"), "-D", str(data_dir(state)), "-U", "postgres",
                                "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]),
                  state.log("postgres-init"))


def start(state: State) -> int:
    """Start the server on a loopback port; fsync off because it is disposable."""
    sock_dir = state.dir("postgres/sock")
    argv = _as_postgres([
        _bin("postgres"), "-D", str(data_dir(state)), "-h", "127.0.0.1",
        "-p", str(state.ports["postgres"]), "-k", str(sock_dir),
        "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
        "-c", "max_connections=200", "-c", "shared_buffers=32MB",
    ])
    return processes.start(argv, state.log("postgres"))


def wait_ready(state: State, pid: int, timeout: float = 30.0) -> None:
    def ready() -> bool:
        if not processes.alive(pid):
            raise processes.NotReady(f"PostgreSQL exited; see {state.log('postgres')}")
        try:
            psycopg2.connect(host="127.0.0.1", port=state.ports["postgres"], user="postgres",
                             dbname="postgres", connect_timeout=1).close()
            return True
        except psycopg2.OperationalError:
            return False

    processes.wait_until(ready, timeout, interval=0.05, what="PostgreSQL accepting connections")


def heat_url(state: State, password: str) -> str:
    return f"postgresql+psycopg2://heat:{password}@127.0.0.1:{state.ports['postgres']}/heat"


def create_heat_database(state: State, password: str) -> None:
    """Role and database for Heat (idempotent). Local trust auth: the password
    only keeps Heat's connection URL in the usual shape."""
    conn = psycopg2.connect(host="127.0.0.1", port=state.ports["postgres"], user="postgres",
                            dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'heat'")
        if not cur.fetchone():
            cur.execute("CREATE ROLE heat LOGIN PASSWORD %s", (password,))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'heat'")
        if not cur.fetchone():
            cur.execute("CREATE DATABASE heat OWNER heat")
    conn.close()
