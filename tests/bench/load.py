"""Load test: N concurrent clients for D seconds against the production-like server (gunicorn, several workers).

    python -m tests.bench.load [--clients 50] [--duration 60] [--receipts 50000]

Loopback only, stops by itself. Uses its own database (`loyalty_load`; on the embedded server, or next to
DATABASE_URL's), a real Celery worker, and gunicorn with 4 workers x 4 threads. The clients mix: posting receipt
batches (100 receipts), listing a customer's receipts, and running customer_segment, while a segment recalculates
over and over. Prints p50/p95/p99 latency and throughput per operation, and exits 1 on any error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict

from tests.bench.dataset import admin_connection
from tests.bench.harness import PORT, PYTHON, ROOT, embedded_server_held, request_token, wait_until_healthy

AID = "T00000042"


def _env(db_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "LOYALTY_DB_NAME": db_name,
        "PYTHONUNBUFFERED": "1",
        "CELERY_QUEUE": "loyalty-load",
        "AUTH_THROTTLE_RATE": "100000/minute",
    }


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def _prepare_database(name: str) -> None:
    """Create the load database (the embedded server only autocreates the configured one)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django
    from psycopg import sql

    django.setup()
    with admin_connection() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Client:
    def __init__(self, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Host": f"127.0.0.1:{PORT}",
        }

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            raise


def _receipts(n: int, seq: int) -> list[dict]:
    now = time.time()
    out = []
    for k in range(n):
        customer = f"C{random.randrange(1, 5000):07d}"
        out.append(
            {
                "store": {"id": f"S{random.randrange(1, 11):03d}"},
                "receipt_id": f"load-{seq}-{k}-{random.getrandbits(40)}",
                "purchase_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - random.randrange(0, 86400 * 30))),
                "currency": "NOK",
                "customer_id": customer,
                "gross_amount": 12000,
                "net_amount": 9600,
                "items": [
                    {
                        "id": f"I{random.randrange(1, 800):06d}",
                        "groups": [{"id": f"G{random.randrange(1, 40):04d}"}],
                        "quantity": 1,
                        "gross_amount": 12000,
                        "net_amount": 9600,
                    }
                ],
            }
        )
    return out


def run(clients: int, duration: float, receipts: int) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django

    django.setup()
    # the last step of `make bench`: the embedded server it (re)starts is stopped again unless someone holds it
    with embedded_server_held():
        return _run(clients, duration, receipts)


def _run(clients: int, duration: float, receipts: int) -> int:
    db_name = "loyalty_load"
    _prepare_database(db_name)
    env = _env(db_name)
    _manage(env, "migrate", "-v", "0")
    _manage(env, "create_account", AID, "--name", "Load test")
    credentials = json.loads(
        _manage(
            env,
            "create_api_client",
            "--account",
            AID,
            "--name",
            f"load-{time.time()}",
            "--scopes",
            "admin:receipts,admin:segments",
            "--json",
        )
    )
    if not int(
        _manage(
            env,
            "shell",
            "-v",
            "0",
            "-c",
            f"from receipts.models import Receipt; print(Receipt.objects.filter(account__aid='{AID}').count())",
        ).strip()
        or 0
    ):
        _manage(
            env,
            "generate_receipts",
            "--account",
            AID,
            "--receipts",
            str(receipts),
            "--customers",
            "5000",
            "--stores",
            "10",
            "--days",
            "90",
            "--items",
            "800",
            "--groups",
            "40",
            "--seed",
            "42",
        )

    processes = [
        subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "loyalty", "worker", "-c", "2", "-l", "ERROR", "--purge"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "loyalty.wsgi",
                "-b",
                f"127.0.0.1:{PORT}",
                "-w",
                "4",
                "--threads",
                "4",
                "-k",
                "gthread",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ),
    ]
    try:
        wait_until_healthy(time.monotonic() + 60, "gunicorn did not come up")
        token = request_token(AID, credentials["client_id"], credentials["client_secret"])
        return _drive(token, clients, duration)
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)


def _drive(token: str, clients: int, duration: float) -> int:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    setup = Client(token)
    _status, body = setup.call(
        "POST",
        f"/api/{AID}/segment",
        {
            "segment": {
                "name": f"load {time.time()}",
                "parts": [{"criteria": [{"type": "transaction_count", "min": 3}]}],
            }
        },
    )
    segment_id = json.loads(body)["segmentId"]

    def record(operation: str, started: float, status: int, body: bytes) -> None:
        elapsed = time.perf_counter() - started
        with lock:
            latencies[operation].append(elapsed)
            if status >= 400:
                errors.append(f"{operation}: {status} {body[:200]!r}")

    def worker(number: int) -> None:
        client = Client(token)
        seq = 0
        while time.monotonic() < stop:
            seq += 1
            choice = random.random()
            started = time.perf_counter()
            try:
                if choice < 0.3:
                    status, body = client.call(
                        "POST", f"/v1/accounts/{AID}/receipts", _receipts(100, number * 1_000_000 + seq)
                    )
                    record("post 100 receipts", started, status, body)
                elif choice < 0.8:
                    status, body = client.call(
                        "GET", f"/v1/accounts/{AID}/receipts/customers/C{random.randrange(1, 5000):07d}?limit=10"
                    )
                    record("customer receipts", started, status, body)
                elif choice < 0.95:
                    body_in = {
                        "items": [{"group": f"G{random.randrange(1, 40):04d}"}],
                        "store_ids": [f"S{random.randrange(1, 11):03d}"],
                    }
                    status, body = client.call("POST", f"/v1/accounts/{AID}/receipts/customer_segment", body_in)
                    record("customer_segment", started, status, body)
                else:
                    status, body = client.call("POST", f"/api/{AID}/segment/{segment_id}/refresh")
                    record("segment refresh", started, status, body)
            except (http.client.HTTPException, OSError) as exc:
                with lock:
                    errors.append(f"connection: {exc!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    print(f"{clients} clients for {elapsed:.0f} s against gunicorn (4 workers x 4 threads), loopback")
    print(f"{'operation':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    total = 0
    for operation, values in sorted(latencies.items()):
        values.sort()
        total += len(values)
        q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
        print(
            f"{operation:<22}{len(values):>10}{len(values) / elapsed:>9.1f}{values[len(values) // 2] * 1000:>9.0f}{q[94] * 1000:>9.0f}{q[98] * 1000:>9.0f}"
        )
    print(f"{'all':<22}{total:>10}{total / elapsed:>9.1f}")
    print(f"errors: {len(errors)}")
    for line in errors[:20]:
        print("  " + line)
    return 1 if errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--receipts", type=int, default=50_000)
    args = parser.parse_args()
    sys.exit(run(args.clients, args.duration, args.receipts))


if __name__ == "__main__":
    main()
