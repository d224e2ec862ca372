"""Helpers shared by test modules: polling with a deadline, a second database session, real worker processes, the
database restart. Test modules import from here (or from an app's `factories.py`), never from each other."""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# a definition: customers with at least two receipts
COUNT_2 = [{"criteria": [{"type": "transaction_count", "min": 2}]}]


def wait_until(condition: Callable[[], T], *, timeout: float = 30, interval: float = 0.05, message: str = "") -> T:
    """Poll `condition` (another process or thread is making it true) until it returns something truthy, which is
    returned; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)


def db_dsn() -> dict:
    """Connection arguments of the test database, for a second session (psycopg) beside Django's."""
    db = connection.settings_dict
    return {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
    }


def sessions_blocked_by(blocker: psycopg.Connection) -> int:
    """How many sessions wait for a lock `blocker` holds: the barrier for "the other side has reached the lock"."""
    with psycopg.connect(**db_dsn(), autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [blocker.info.backend_pid]
        ).fetchone()
    return row[0] if row else 0


def segment_member_ids(segment) -> set[str]:
    """The customer ids of the segment's current version."""
    from segments import selectors

    segment.refresh_from_db()
    return set(selectors.segment_members(segment=segment).values_list("customer_id", flat=True))


# a worker's INFO log line about a task: "Task name[id] received", "… succeeded in …", "… raised unexpected: …"
_TASK_EVENT = re.compile(r"Task [\w.]+\[([0-9a-f-]+)\] (received|succeeded|raised|failed|retry|rejected|revoked)")


class WorkerProcess:
    """A real `celery worker` subprocess consuming `queue` (default: this test run's), on the test database."""

    def __init__(self, db_name: str, log_path: Path, queue: str | None = None):
        self.db_name = db_name
        self.log_path = log_path
        self.queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "LOYALTY_DB_NAME": self.db_name, "CELERY_QUEUE": self.queue, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it until stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "loyalty",
                "worker",
                "-l",
                "INFO",
                "-c",
                "2",
                "-n",
                f"test-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                # messages left in the queue point at rows that are gone: start clean
                "--purge",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(self._ready, timeout=60, interval=0.2, message="the celery worker to be ready")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: signal.Signals = signal.SIGKILL, *, grace: float = 20) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def wait_idle(self, *, timeout: float = 20) -> bool:
        """Wait until every task the worker received has finished (or `timeout` passed; False then), so a test's
        teardown does not truncate tables under a task still writing to them (a deadlock, not a failure of the
        code under test). Tasks are told apart by id: a retried task is running until its last attempt ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received: set[str] = set()
            ended: set[str] = set()
            for task_id, event in _TASK_EVENT.findall(self.log()):
                (received if event == "received" else ended).add(task_id)
                if event == "retry":
                    ended.discard(task_id)
            if received <= ended:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """A warm shutdown, cut short: the tests are over, and an idle worker polling the embedded broker can take
        its whole poll interval to notice (20 s per module, most of the suite's teardown time)."""
        self.kill(signal.SIGTERM, grace=3)


def queue_purge(queue: str) -> None:
    """Drop the messages waiting in `queue` on the configured broker."""
    from loyalty.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def restart_database() -> None:
    """Restart the PostgreSQL server the tests use (embedded, or the machine's cluster in CI)."""
    if getattr(settings, "LOYALTY_EMBEDDED_DATABASE", False):
        from loyalty.embedded_postgres import server as embedded

        embedded.stop(Path(settings.LOYALTY_DATA_DIR))
        embedded.ensure_running(Path(settings.LOYALTY_DATA_DIR))
    else:
        versions = sorted(Path(p).name for p in glob.glob("/etc/postgresql/*"))
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart", "-m", "fast"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    connections.close_all()


def audit_events():
    """The audit log without the API clients the fixtures create (their creation is audited like any other)."""
    from loyalty.core.models import AuditEvent

    return AuditEvent.objects.exclude(action__startswith="api_client.")


class RecordingServer:
    """A tiny HTTP server on 127.0.0.1 in a thread that records every request (method, path, headers, body) and
    answers `status`; `hold` (a threading.Event) makes it wait before answering until set."""

    def __init__(self, status: int = 200):
        import http.server
        import threading

        self.status = status
        self.requests: list[dict] = []
        self.hold: threading.Event | None = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": self.rfile.read(length),
                    }
                )
                if outer.hold is not None:
                    outer.hold.wait(timeout=30)
                self.send_response(outer.status)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A local port nothing listens on (bound, then released): a target that is down."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hang_as_stuck(pid_file: Path) -> None:
    """In a forked child: record its pid in `pid_file`, then never return, as a child stuck on a lock would."""
    pid_file.write_text(str(os.getpid()))
    time.sleep(3600)


def stuck_process_gone(pid_file: Path) -> bool:
    """Whether the process `hang_as_stuck` recorded has exited and been reaped (killed, since it never returns)."""
    return not Path(f"/proc/{pid_file.read_text()}").exists()


def buyers_kept(account, codes) -> dict[tuple[int, int], int]:
    """(code, customer pk) → purchases, as the kept code buyers count them; each row must name its customer by the
    customer's own id."""
    from receipts.models import CodeBuyer

    rows = CodeBuyer.objects.filter(account=account, code__in=codes).values_list(
        "code", "customer", "purchases", "customer_external_id", "customer__customer_id"
    )
    assert all(external == own for *_, external, own in rows)
    return {(code, customer): n for code, customer, n, *_ in rows}


def buyers_from_facts(account, codes) -> dict[tuple[int, int], int]:
    """(code, customer pk) → purchases with the code, counted from the item facts (what the kept buyers must say)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, customer_pk, count(*) FROM receipts_itemfact WHERE account_id = %s AND code = ANY(%s)"
            " GROUP BY 1, 2",
            [account.pk, list(codes)],
        )
        return {(code, customer): n for code, customer, n in cursor.fetchall()}
