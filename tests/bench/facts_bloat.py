"""How full the item facts' index is after loading receipts in several batches, each way, and after a rebuild.

    python -m tests.bench.facts_bloat [--receipts 200000] [--loads 4]

In a database of its own (`loyalty_facts_bloat`), for each way of loading, from empty tables: `--loads` time-ordered
loads (each the next period's receipts, as an import of the latest data is) of `--receipts / --loads` generated
receipts; then the primary key's size, the fill the maintenance task estimates, the size after
`item_facts_repack` rebuilds it (REINDEX CONCURRENTLY) and the fill then. Prints one JSON object with the load
average, the date and the machine.

Ways: chunk by chunk in chunks of 10,000 (how `import_receipts`, the generator and the bench dataset loaded before
they built read models after the load), in API-sized batches of 1,000, and with the read models built after each
load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime, timedelta
from pathlib import Path

DB_NAME = "loyalty_facts_bloat"
END = datetime(2026, 11, 1, tzinfo=UTC)
TABLES = (
    "receipts_itemfact",
    "receipts_receipt",
    "receipts_customer",
    "receipts_itemcode",
    "receipts_ingestbatch",
    "receipts_codebuyer",
    "receipts_windowstat",
    "receipts_purchasewindow",
)


def loadavg() -> list[float]:
    return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=200_000)
    parser.add_argument("--loads", type=int, default=4)
    parser.add_argument("--only", default="", help="ways whose name contains this")
    args = parser.parse_args()
    os.environ["LOYALTY_DB_NAME"] = DB_NAME
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django

    django.setup()
    from tests.bench.harness import embedded_server_held

    with embedded_server_held():
        measure(args)


def _database() -> None:
    from django.core.management import call_command
    from psycopg import sql

    from tests.bench.dataset import admin_connection

    with admin_connection() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    call_command("migrate", verbosity=0)


def _analyze() -> None:
    """Row estimates for the fill (and the visibility map, as the dataset's VACUUM ANALYZE leaves it)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE receipts_itemfact")


def measure(args: argparse.Namespace) -> None:
    from django.db import connection

    from loyalty.accounts.services import account_upsert
    from receipts.readmodels.maintenance import item_facts_index_fill, item_facts_repack
    from receipts.services.bulk import receipts_bulk_load, receipts_load_parallel
    from receipts.services.generator import GeneratedChunks, GeneratorSpec, ReceiptGenerator

    _database()
    account = account_upsert(aid="T00000701", name="facts bloat", currency="NOK", timezone_name="Europe/Oslo")
    per_load = args.receipts // args.loads
    days = 90

    def spec(load: int) -> GeneratorSpec:
        end = END - timedelta(days=days * (args.loads - 1 - load))
        return GeneratorSpec(
            receipts=per_load, customers=20_000, stores=50, days=days, items=10_000, groups=200, seed=load + 1, end=end
        )

    def chunks_of(size: int, after: bool):
        def load(number: int) -> None:
            if size == 10_000:
                receipts_load_parallel(
                    account=account, source=GeneratedChunks(spec(number)), created_by="bloat", read_models_after=after
                )
            else:
                receipts_bulk_load(
                    account=account, receipts=ReceiptGenerator(spec(number)), created_by="bloat", chunk_size=size
                )

        return load

    ways = {
        "chunk by chunk, 10,000 per chunk": chunks_of(10_000, False),
        "chunk by chunk, 1,000 per batch (API-sized)": chunks_of(1_000, False),
        "read models built after each load": chunks_of(10_000, True),
    }
    figures = {}
    for name, load in ways.items():
        if args.only not in name:
            continue
        with connection.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        before = loadavg()
        for number in range(args.loads):
            load(number)
        _analyze()
        found = item_facts_index_fill()
        assert found is not None
        repacked = item_facts_repack(below=1.01, min_pages=1)
        assert repacked == found
        _analyze()
        after = item_facts_index_fill()
        assert after is not None
        figures[name] = {
            "facts": int(found.rows),
            "index_mb": round(found.pages * 8192 / 2**20, 1),
            "estimated_fill": round(found.fill, 3),
            "after_reindex_mb": round(after.pages * 8192 / 2**20, 1),
            "estimated_fill_after_reindex": round(after.fill, 3),
            "loadavg_before": before,
            "loadavg_after": loadavg(),
        }
        print(name, figures[name], flush=True)
    print(
        json.dumps(
            {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.node()}, {os.cpu_count()} cores",
                "receipts": args.receipts,
                "loads": args.loads,
                "ways": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
