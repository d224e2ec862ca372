"""Baselines in the same run: the ORM loop a Django developer writes first, and DuckDB over Parquet exports."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench.dataset import END
from tests.bench.scenarios import Bench, Result, Skip, customer_segment_body, load_now, repeat, timed


def scenario_naive_orm(bench: Bench, result: Result, share: float = 0.01) -> None:
    """The aggregate segment as a loop over customers with two aggregates each (N+1), on a sample of the customers;
    extrapolated linearly to all of them."""
    from django.db.models import Count, Sum

    from receipts.models import Customer, Receipt

    tz = bench.account.tz
    start = datetime.combine((END - timedelta(days=365)).date(), datetime.min.time(), tz)
    end = datetime.combine(END.date(), datetime.min.time(), tz)
    total = Customer.objects.filter(account=bench.account).count()
    sample = max(20, int(total * share))

    def loop() -> list[int]:
        members = []
        for customer in Customer.objects.filter(account=bench.account).order_by("id")[:sample]:
            receipts = Receipt.objects.filter(customer_pk=customer, is_purchase=True)
            in_year = receipts.filter(purchase_at__gte=start, purchase_at__lt=end).aggregate(n=Count("id"))["n"]
            lifetime = receipts.aggregate(n=Count("id"), net=Sum("net_amount"))
            if in_year >= 5 and lifetime["n"] and 20_000 * lifetime["n"] <= lifetime["net"] <= 80_000 * lifetime["n"]:
                members.append(customer.pk)
        return members

    before = load_now()
    ms, _ = timed(loop)
    result.add(ms * total / sample, before)  # one run: 1 % of the customers takes minutes at full scale
    result.extra.update(sample_customers=sample, customers=total, measured_ms=ms)
    result.note = f"EXTRAPOLATED: measured {ms:,.0f} ms on {sample:,} of {total:,} customers (1 % sample)"


# --- DuckDB --------------------------------------------------------------------------------------------------------


def _export(bench: Bench, folder: Path) -> dict[str, Path]:
    """Receipts and their item/group tags (one row per receipt and code, as the item facts hold them) to Parquet,
    once per dataset; the files are reused with it."""
    import duckdb
    from django.db import connection

    files = {name: folder / f"{name}.parquet" for name in ("receipts", "facts", "codes", "customers")}
    if all(path.exists() for path in files.values()):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    queries = {
        "receipts": "SELECT account_id, id, customer_pk, store_id, purchase_at, is_purchase, net_amount, gross_amount"
        " FROM receipts_receipt",
        # the item and group tags are what the customer_segment queries read
        "facts": "SELECT account_id, code, purchase_at, store_code, customer_pk, receipt_pk FROM receipts_itemfact"
        " WHERE code IN (SELECT id FROM receipts_itemcode WHERE kind IN ('item', 'group'))",
        "codes": "SELECT id, account_id, kind, value FROM receipts_itemcode",
        "customers": "SELECT id, account_id, customer_id FROM receipts_customer",
    }
    started = time.monotonic()
    raw = connection.cursor().connection  # psycopg connection under Django's wrapper
    for name, query in queries.items():
        csv_path = folder / f"{name}.csv"
        with open(csv_path, "wb") as out, raw.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)") as copy:
            for block in copy:
                out.write(block)
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * FROM read_csv_auto('{csv_path}', header=true)) TO '{files[name]}' (FORMAT parquet)"
        )
        con.close()
        csv_path.unlink()
    print(f"   exported to Parquet in {time.monotonic() - started:.0f}s", flush=True)
    return files


def duckdb_scenarios(bench: Bench, folder: Path) -> list[tuple[Result, Any]]:
    try:
        import duckdb
    except ImportError as exc:
        raise Skip("duckdb is not installed (pip install -e '.[bench]')") from exc
    files = _export(bench, folder)
    con = duckdb.connect()
    for name, path in files.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    account = bench.account.pk
    q = bench.q

    def segment(kind: str) -> list[tuple[str, int]]:
        body = customer_segment_body(q, kind)
        where = ["f.account_id = $account", "f.purchase_at >= $from::TIMESTAMPTZ", "f.purchase_at <= $to::TIMESTAMPTZ"]
        params: dict[str, Any] = {"account": account, "from": body["purchase_from"], "to": body["purchase_to"]}
        if body.get("store_ids"):
            where.append(
                "f.store_code IN (SELECT id FROM codes WHERE account_id = $account AND kind = 'store'"
                " AND value IN (SELECT unnest($stores)))"
            )
            params["stores"] = body["store_ids"]
        tags = [("item", i["id"]) for i in body["items"] if "id" in i] + [
            ("group", i["group"]) for i in body["items"] if "group" in i
        ]
        params["kinds"] = [t[0] for t in tags]
        params["values"] = [t[1] for t in tags]
        where.append(
            "f.code IN (SELECT c.id FROM codes c JOIN (SELECT unnest($kinds) AS kind, unnest($values) AS value) t"
            " ON c.kind = t.kind AND c.value = t.value WHERE c.account_id = $account)"
        )
        sql = f"""
            SELECT cu.customer_id, count(DISTINCT f.receipt_pk) AS purchases
            FROM facts f JOIN customers cu ON cu.id = f.customer_pk
            WHERE {" AND ".join(where)}
            GROUP BY cu.customer_id ORDER BY purchases DESC, cu.customer_id
        """
        return con.execute(sql, params).fetchall()

    tz = bench.account.tz
    start = datetime.combine((END - timedelta(days=365)).date(), datetime.min.time(), tz)
    end = datetime.combine(END.date(), datetime.min.time(), tz)

    def aggregate() -> list[tuple[int]]:
        return con.execute(
            """
            SELECT customer_pk FROM receipts
            WHERE account_id = $account AND is_purchase AND customer_pk IS NOT NULL
            GROUP BY customer_pk
            HAVING count(*) FILTER (WHERE purchase_at >= $start AND purchase_at < $end) >= 5
               AND sum(net_amount) BETWEEN 20000 * count(*) AND 80000 * count(*)
            """,
            {"account": account, "start": start, "end": end},
        ).fetchall()

    out = []
    for name, fn in (
        ("DuckDB customer_segment selective", lambda: segment("selective")),
        ("DuckDB customer_segment broad", lambda: segment("broad")),
        ("DuckDB aggregate segment", aggregate),
    ):
        result = Result(name, "ms")
        rows = repeat(result, fn, bench.repeats)
        result.note = (
            f"{len(rows):,} rows (Parquet, {con.execute('SELECT current_setting($$threads$$)').fetchone()[0]} threads)"
        )
        out.append((result, rows))
    return out
