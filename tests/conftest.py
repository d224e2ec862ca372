"""Shared fixtures. The database is always a real PostgreSQL and the broker a real one (see README)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """A real `celery worker` subprocess consuming this test run's queue, on the test database."""

    def __init__(self, db_name: str, log_path: Path, queue: str | None = None):
        self.db_name = db_name
        self.log_path = log_path
        self.queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "LOYALTY_DB_NAME": self.db_name,
            "CELERY_QUEUE": self.queue,
            "PYTHONUNBUFFERED": "1",
        }
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
                # messages other tests left in the queue point at rows that are gone: start clean
                "--purge",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@pytest.fixture
def celery_worker(django_db_setup, tmp_path_factory) -> Iterator[WorkerProcess]:
    """A worker for one test only: a worker left running would race the other tests for their tasks."""
    from django.db import connection

    worker = WorkerProcess(connection.settings_dict["NAME"], tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def wait_for() -> Callable[..., object]:
    """Poll a condition (the worker is another process) until it holds or the timeout passes."""

    def _wait(condition: Callable[[], object], *, timeout: float = 30, interval: float = 0.1, message: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")

    return _wait


# --- accounts and tokens ----------------------------------------------------------------------------------------

BASE_URL = "http://testserver"


@pytest.fixture
def account(db):
    from tests.accounts.factories import AccountFactory

    return AccountFactory(aid="T00000001", name="Demo Shop")


@pytest.fixture
def other_account(db):
    from tests.accounts.factories import AccountFactory

    return AccountFactory(aid="T00000099", name="Someone Else")


@pytest.fixture
def make_client_token(db):
    """A real, signed access token for a real API client of `account` with the given scopes."""
    from loyalty.accounts import tokens
    from loyalty.accounts.services import api_client_create

    def _make(account, scopes: list[str]) -> str:
        client, _ = api_client_create(account=account, name="test", scopes=scopes or ["read:receipts"])
        token, _ = tokens.client_access_token(
            base_url=BASE_URL, aid=account.aid, client_id=client.client_id, scopes=scopes
        )
        return token

    return _make


@pytest.fixture
def api_for(make_client_token):
    """A DRF test client authenticated as an API client of `account` with `scopes` (default: all of them)."""
    from rest_framework.test import APIClient

    from loyalty.accounts.scopes import SCOPES

    def _make(account, scopes: list[str] | None = None) -> APIClient:
        client = APIClient()
        token = make_client_token(account, list(SCOPES) if scopes is None else scopes)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return _make


@pytest.fixture
def api(api_for, account):
    return api_for(account)


def restart_database() -> None:
    """Restart the PostgreSQL server the tests use (embedded, or the machine's cluster in CI)."""
    import glob
    from pathlib import Path

    from django.db import connections

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
