"""The benchmark dataset: parameters, its reuse key, its database, and parallel generation into it.

The dataset lives in its own database, `loyalty_bench_<key>` (on the embedded server, or next to DATABASE_URL's),
where the key hashes everything that shapes the data. A run with the same parameters reuses it; a completed
dataset is marked in `bench_dataset`, so an interrupted generation is dropped and redone rather than half-reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

# Bump when the generator, the loader or the parameters below change what ends up in the tables.
DATASET_VERSION = "2"
# A fixed end keeps the data (and every period in the scenarios) the same whenever the dataset is built.
END = datetime(2026, 11, 1, tzinfo=UTC)
MAIN_AID = "T00000500"
SECOND_AID = "T00000501"  # 10 % of the main account: every query must filter it out


@dataclass(frozen=True)
class AccountSpec:
    aid: str
    name: str
    receipts: int
    customers: int
    stores: int
    items: int
    groups: int
    days: int
    seed: int


@dataclass(frozen=True)
class DatasetParams:
    scale: float
    main: AccountSpec
    second: AccountSpec

    @classmethod
    def for_scale(cls, scale: float) -> DatasetParams:
        def spec(aid: str, name: str, share: float, seed: int) -> AccountSpec:
            return AccountSpec(
                aid=aid,
                name=name,
                receipts=max(1_000, int(5_000_000 * scale * share)),
                customers=max(200, int(200_000 * scale * share)),
                stores=200 if share == 1 else 20,
                # at small scales keep enough items and groups that the query parameters (ranks) exist
                items=max(2_500, int(50_000 * scale * share)),
                groups=max(50, int(500 * min(1.0, scale * 10) * share)),
                days=730,
                seed=seed,
            )

        return cls(
            scale=scale, main=spec(MAIN_AID, "Bench main", 1.0, 7), second=spec(SECOND_AID, "Bench other", 0.1, 8)
        )

    def key(self) -> str:
        payload = json.dumps({"v": DATASET_VERSION, "end": END.isoformat(), **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:10]

    @property
    def db_name(self) -> str:
        return f"loyalty_bench_{self.key()}"


def generator_spec(account: AccountSpec, *, prefix: str = "", end: datetime = END, days: int | None = None):
    from receipts.services.generator import GeneratorSpec

    return GeneratorSpec(
        receipts=account.receipts,
        customers=account.customers,
        stores=account.stores,
        days=days or account.days,
        seed=account.seed,
        items=account.items,
        groups=account.groups,
        end=end,
        prefix=prefix,
    )


# --- the database --------------------------------------------------------------------------------------------------


def admin_connection():
    """A connection to the server's `postgres` database (for CREATE/DROP DATABASE). Django must be set up."""
    import psycopg
    from django.conf import settings

    if settings.LOYALTY_EMBEDDED_DATABASE:
        from pathlib import Path

        from loyalty.embedded_postgres import server as embedded

        server, _ = embedded.ensure_running(Path(settings.LOYALTY_DATA_DIR))
        return psycopg.connect(host=server.host, user=embedded.SUPERUSER, dbname="postgres", autocommit=True)
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
        **{k: v for k, v in db.get("OPTIONS", {}).items() if k in ("sslmode",)},
    )


def database_prepare(name: str) -> bool:
    """Create the bench database if needed. Returns True when it holds a completed dataset (reuse it)."""
    from psycopg import sql

    with admin_connection() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            if _completed(name):
                return True
            print(f"dataset database {name} is incomplete (an interrupted run): dropping it")
            from django.db import connections

            connections.close_all()  # DROP ... WITH (FORCE) would cut our own connection
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return False


def _completed(name: str) -> bool:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('bench_dataset') IS NOT NULL")
        if not cur.fetchone()[0]:
            return False
        cur.execute("SELECT count(*) FROM bench_dataset WHERE completed_at IS NOT NULL")
        return bool(cur.fetchone()[0])


def _mark_completed(params: DatasetParams, seconds: float) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_dataset (key text PRIMARY KEY, params jsonb, completed_at timestamptz,"
            " seconds float8)"
        )
        cur.execute(
            "INSERT INTO bench_dataset VALUES (%s, %s, now(), %s) ON CONFLICT (key) DO NOTHING",
            [params.key(), json.dumps(asdict(params)), seconds],
        )


def dataset_info() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT key, completed_at, seconds FROM bench_dataset")
        key, completed_at, seconds = cur.fetchone()
    return {"key": key, "generated_at": completed_at.isoformat(), "generation_seconds": round(seconds, 1)}


# --- generation ----------------------------------------------------------------------------------------------------


def _every_30s(aid: str):
    last = time.monotonic()

    def progress(result) -> None:
        nonlocal last
        if time.monotonic() - last > 30:
            last = time.monotonic()
            print(f"  {aid}: {result.stored:,} stored, {result.rate:,.0f}/s", flush=True)

    return progress


def dataset_generate(params: DatasetParams, *, processes: int = 2) -> float:
    """Generate both accounts with `processes` loader processes (each: generate, encode, COPY); returns seconds."""

    from loyalty.accounts.models import Account
    from loyalty.accounts.services import account_upsert
    from receipts.services.bulk import receipts_load_parallel
    from receipts.services.generator import GeneratedChunks

    started = time.monotonic()
    for spec in (params.main, params.second):
        account = account_upsert(aid=spec.aid, name=spec.name, currency="NOK", timezone_name="Europe/Oslo")
        assert account.pk
    total = params.main.receipts + params.second.receipts
    print(f"generating {total:,} receipts with {processes} processes ...", flush=True)
    for spec in (params.main, params.second):
        result = receipts_load_parallel(
            account=Account.objects.get(aid=spec.aid),
            source=GeneratedChunks(generator_spec(spec)),
            created_by="generator",
            processes=processes,
            progress=_every_30s(spec.aid),
        )
        print(f"  {spec.aid}: {result.stored:,} receipts in {result.seconds:.0f}s ({result.rate:,.0f}/s)", flush=True)
    loaded = time.monotonic() - started
    print(f"loaded in {loaded:.0f}s ({total / loaded:,.0f} receipts/s); VACUUM ANALYZE ...", flush=True)
    dataset_vacuum()
    dataset_checkpoint()
    seconds = time.monotonic() - started
    _mark_completed(params, seconds)
    print(f"dataset ready in {seconds:.0f}s", flush=True)
    return seconds


def dataset_vacuum() -> None:
    """VACUUM ANALYZE what receipts are stored in: index-only scans over item facts need the visibility map, the
    planner needs statistics.

    The suite runs it again after deleting its ingest samples: their inserts cleared the visibility map of every
    page they touched and their deletes left millions of dead facts, so the read scenarios would visit the heap
    again, and autovacuum would pick the tables up in the middle of them and share the two cores with them.
    """
    from django.db import connection

    with connection.cursor() as cur:
        for table in (
            "receipts_receipt",
            "receipts_itemfact",
            "receipts_customer",
            "receipts_codebuyer",
            "receipts_windowstat",
        ):
            cur.execute(f"VACUUM (ANALYZE) {table}")


def dataset_checkpoint() -> None:
    """Write what was just written out now. Left to the checkpointer, a new dataset's ~17 GB of dirty pages (or the
    ingest samples' few GB) were flushed while the next scenarios ran (load 1.9 instead of 1.1, `customer_segment`
    selective 18-20 ms instead of 10-13)."""
    import psycopg
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")
    except DatabaseError as exc:  # Django's wrapper of psycopg's error
        if not isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
            raise
        print("no CHECKPOINT (needs superuser or pg_checkpoint): the first scenarios share the box with it")


def env_for(db_name: str, queue: str) -> dict[str, str]:
    """Environment of the processes the bench starts (server, worker, import command)."""
    return {
        **os.environ,
        "LOYALTY_DB_NAME": db_name,
        "CELERY_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
        "AUTH_THROTTLE_RATE": "100000/minute",
    }
