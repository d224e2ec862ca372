"""An embedded PostgreSQL 16 (from the `pgserver` wheel) living in the project's data folder.

Used only when `DATABASE_URL` is unset, so a fresh machine needs nothing installed. The server listens on a unix
socket only, survives the process that started it, and is shared by every process of the checkout (web, worker,
beat, pytest). Starting it is idempotent and guarded by a file lock, so several processes can race to start it.

Only a *holder* (the `make run` supervisor, a pytest session) stops it again, when no other holder is still alive,
so `make run` and `make test` leave no server behind; child processes (runserver, workers) just use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
# Unix socket paths are limited to ~107 bytes; PostgreSQL appends "/.s.PGSQL.5432".
_MAX_SOCKET_DIR_LEN = 90


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path
    socket_dir: Path

    @property
    def host(self) -> str:
        return str(self.socket_dir)


def _bin_dir() -> Path:
    # Located without importing pgserver, whose import-time side effects (runtime dirs, locks) we don't need.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package is not installed; run `make run` or set DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root; pgserver's convention is a `pgserver` system user."""
    return "pgserver" if os.geteuid() == 0 else None


def socket_dir_for(pgdata: Path) -> Path:
    pgdata = pgdata.resolve()
    if len(str(pgdata)) <= _MAX_SOCKET_DIR_LEN:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"loyalty-pg-{digest}"


def server_for(data_dir: Path) -> EmbeddedServer:
    pgdata = (data_dir / "postgres").resolve()
    return EmbeddedServer(pgdata=pgdata, socket_dir=socket_dir_for(pgdata))


@contextmanager
def _lock(data_dir: Path):
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "postgres.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(args: list[str], *, user: str | None, timeout: float = 120) -> None:
    with tempfile.TemporaryFile("w+") as out:
        # pg_ctl keeps the postmaster attached to inherited pipes; files avoid a hang (as pgserver notes).
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, user=user, timeout=timeout, check=False)
        if result.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {out.read()[-2000:]}")


def _tuning() -> str:
    """Settings from the measured design notes: jit off, big enough buffers, cheap random I/O."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    mb = total // (1024 * 1024)
    shared = max(128, min(mb // 4, 4096))
    return "\n".join(
        [
            "# Written once by loyalty.embedded_postgres (see performance-notes).",
            "listen_addresses = ''",
            "max_connections = 200",
            f"shared_buffers = {shared}MB",
            f"effective_cache_size = {max(256, mb // 2)}MB",
            "work_mem = 64MB",
            "maintenance_work_mem = 512MB",
            "random_page_cost = 1.1",
            "jit = off",
            "max_wal_size = 8GB",
            "checkpoint_timeout = 15min",
            "timezone = 'UTC'",
            "log_min_messages = warning",
            "",
        ]
    )


def _is_running(server: EmbeddedServer) -> bool:
    pidfile = server.pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    lines = pidfile.read_text().splitlines()
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by the postgres system user
    return (server.socket_dir / ".s.PGSQL.5432").exists()


def _prepare_permissions(server: EmbeddedServer, user: str) -> None:
    """As root: the postgres system user must own PGDATA and reach it and the binaries."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/false", user], check=True, capture_output=True)
        entry = pwd.getpwnam(user)
    traverse = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    for target in (server.pgdata, _bin_dir()):
        for parent in target.parents:
            parent.chmod(parent.stat().st_mode | traverse)
    install = _bin_dir().parent
    for path in install.rglob("*"):
        path.chmod(path.stat().st_mode | traverse)
    os.chown(server.pgdata, entry.pw_uid, entry.pw_gid)
    if server.socket_dir != server.pgdata:
        server.socket_dir.mkdir(parents=True, exist_ok=True)
        server.socket_dir.chmod(0o777)


def ensure_running(data_dir: Path) -> tuple[EmbeddedServer, bool]:
    """Initialise (first time) and start the server if needed. Returns the server and whether we started it."""
    server = server_for(data_dir)
    if _is_running(server):
        return server, False
    with _lock(data_dir):
        if _is_running(server):
            return server, False
        user = _system_user()
        server.pgdata.mkdir(parents=True, exist_ok=True)
        if user:
            _prepare_permissions(server, user)
        if not (server.pgdata / "PG_VERSION").exists():
            logger.info("Initialising embedded PostgreSQL in %s", server.pgdata)
            _run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(server.pgdata),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                user=user,
            )
            conf = server.pgdata / "postgresql.conf"
            conf.write_text(conf.read_text() + "\n" + _tuning())
        # A crashed server leaves a stale pid file that pg_ctl handles itself.
        _run(
            [
                str(_bin_dir() / "pg_ctl"),
                "-D",
                str(server.pgdata),
                "-w",
                "-t",
                "60",
                "-o",
                f"-k {server.socket_dir}",
                "-l",
                str(server.pgdata / "server.log"),
                "start",
            ],
            user=user,
        )
        deadline = time.monotonic() + 30
        while not _is_running(server):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded PostgreSQL did not come up; see {server.pgdata / 'server.log'}")
            time.sleep(0.1)
        logger.info("Started embedded PostgreSQL (socket in %s)", server.socket_dir)
        return server, True


def stop(data_dir: Path) -> None:
    server = server_for(data_dir)
    with _lock(data_dir):
        if not _is_running(server):
            return
        _run(
            [str(_bin_dir() / "pg_ctl"), "-D", str(server.pgdata), "-w", "-t", "60", "-m", "fast", "stop"],
            user=_system_user(),
        )


def ensure_database(server: EmbeddedServer, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=server.host, user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            # Another process may win the race; its database is as good as ours.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- holders: who may stop the server when done --------------------------------------------------------------


def _holders_dir(data_dir: Path) -> Path:
    path = data_dir / "postgres-holders"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def hold(data_dir: Path) -> bool:
    """Register this process as a holder and start the server. Returns whether this call started it."""
    (_holders_dir(data_dir) / str(os.getpid())).touch()
    _, started = ensure_running(data_dir)
    return started


def release(data_dir: Path) -> bool:
    """Drop this process's hold; stop the server when no other holder is alive. Returns whether it stopped."""
    holders = _holders_dir(data_dir)
    (holders / str(os.getpid())).unlink(missing_ok=True)
    others = []
    for entry in holders.iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            others.append(entry.name)
        else:
            entry.unlink(missing_ok=True)
    if not others:
        stop(data_dir)
        return True
    return False


def remove(data_dir: Path) -> None:
    """Stop and delete the embedded cluster (used by tests on a throwaway data folder)."""
    stop(data_dir)
    server = server_for(data_dir)
    shutil.rmtree(server.pgdata, ignore_errors=True)
    if server.socket_dir != server.pgdata:
        shutil.rmtree(server.socket_dir, ignore_errors=True)
