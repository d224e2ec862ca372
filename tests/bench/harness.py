"""Processes and HTTP for the bench: gunicorn and a Celery worker on the bench database, a keep-alive client."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def _free_port() -> int:
    # A fixed port would let a run talk to another run's server (seen: two benches on one box, wrong database).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = _free_port()


def wait_until_healthy(deadline: float, failure: str) -> None:
    """Poll GET /healthz on PORT until it answers 200; raise RuntimeError(failure) after `deadline` (monotonic)."""
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.3)


@contextmanager
def embedded_server_held() -> Iterator[None]:
    """Hold the embedded PostgreSQL (when Django uses it) for the block, as a pytest session does
    (tests/pytest_env.py): started if needed, and stopped at the end unless another holder (`make run`, a test run)
    still uses it. Without it the bench left the server it started running, ~4 GB resident with its settings.
    Django must be set up."""
    from django.conf import settings

    if not getattr(settings, "LOYALTY_EMBEDDED_DATABASE", False):
        yield
        return
    from django.db import connections

    from loyalty.embedded_postgres import server as embedded

    data_dir = Path(settings.LOYALTY_DATA_DIR)
    embedded.hold(data_dir)
    try:
        yield
    finally:
        connections.close_all()
        embedded.release(data_dir)


class Servers:
    """gunicorn (2 workers x 2 threads: the 2-core box) and one Celery worker process (concurrency 2)."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.processes.append(process)
        return process

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        worker = self._start(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "loyalty",
                "worker",
                "-c",
                "2",
                "-l",
                "INFO",
                "-n",
                f"bench-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--purge",
            ],
        )
        self._start(
            "gunicorn",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "loyalty.wsgi",
                "-b",
                f"127.0.0.1:{PORT}",
                "-w",
                "2",
                "--threads",
                "2",
                "-k",
                "gthread",
                "--timeout",
                "300",
                # scenarios pause between requests while the worker runs; keep their connections open meanwhile
                "--keep-alive",
                "120",
                "--log-level",
                "warning",
            ],
        )
        deadline = time.monotonic() + 90
        wait_until_healthy(deadline, f"gunicorn did not come up; see {self.log_dir / 'gunicorn.log'}")
        worker_log = self.log_dir / "worker.log"
        while " ready." not in worker_log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the celery worker did not become ready; see {worker_log}")
            time.sleep(0.3)

    def stop(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@dataclass
class Http:
    token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        headers = {"Host": f"127.0.0.1:{PORT}", **(headers or {})}
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # the server closed an idle keep-alive connection before reading this request: send it again
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
                if attempt == 2:
                    raise
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
                raise
        if response.status not in expect:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
        return response.status, data

    def json(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,)) -> Any:
        return json.loads(self.call(method, path, body, expect=expect)[1])


def client_token(aid: str, scopes: str) -> str:
    """An API client of the account and a token for it, the way integrators get one (HTTP client credentials)."""
    from loyalty.accounts.models import Account
    from loyalty.accounts.services import api_client_create

    account = Account.objects.get(aid=aid)
    client, secret = api_client_create(account=account, name=f"bench-{time.time():.0f}", scopes=scopes.split(","))
    return request_token(aid, client.client_id, secret)


def request_token(aid: str, client_id: str, secret: str) -> str:
    """POST /auth/token with HTTP Basic client credentials to the server on PORT."""
    import base64

    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    body = json.dumps({"grant_type": "client_credentials", "audience": f"http://127.0.0.1:{PORT}/v1/accounts/{aid}"})
    conn.request(
        "POST",
        f"/v1/accounts/{aid}/auth/token",
        body=body,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json", "Host": f"127.0.0.1:{PORT}"},
    )
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"token request answered {response.status}: {data[:300]!r}")
    return json.loads(data)["access_token"]
