"""The scenarios: each drives the real code path (HTTP on gunicorn, the Celery worker, the import command)."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.bench.dataset import END, DatasetParams, dataset_checkpoint, generator_spec
from tests.bench.harness import PYTHON, ROOT, Http

THROWAWAY = "bx"  # receipt ids and customer ids of ingest samples start with this; they are deleted afterwards


@dataclass
class Result:
    name: str
    unit: str  # "ms" (lower is better) or "receipts/s" (higher is better)
    target: float | None = None
    samples: list[float] = field(default_factory=list)  # ms per operation
    # the 1-minute load average before and after each sample: a noisy sample can be told from a slow one
    loads: list[tuple[float, float]] = field(default_factory=list)
    rate: float | None = None  # for throughput scenarios: items per second over the whole sample
    note: str = ""
    error: str | None = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, ms: float, load_before: float) -> None:
        """One sample, with the load average read when it started (`load_now()`) and now."""
        self.samples.append(ms)
        self.loads.append((load_before, load_now()))

    @property
    def p50(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def p95(self) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def headline(self) -> float | None:
        return self.rate if self.unit != "ms" else self.p50

    @property
    def met(self) -> bool | None:
        if self.target is None or self.headline is None:
            return None
        return self.headline <= self.target if self.unit == "ms" else self.headline >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "target": self.target,
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "n": len(self.samples),
            "rate": self.rate,
            "headline": self.headline,
            "met": self.met,
            "note": self.note,
            "error": self.error,
            "skipped": self.skipped,
            "samples_ms": [round(s, 2) for s in self.samples],
            "load_avg_1m_per_sample": [list(pair) for pair in self.loads],
            **({"extra": self.extra} if self.extra else {}),
        }


def load_now() -> float:
    """The 1-minute load average (2 cores: above ~2 something else shares the box)."""
    return round(os.getloadavg()[0], 2)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


class Bench:
    """Shared state of one run: parameters, clients, query parameters, and the results so far."""

    def __init__(self, params: DatasetParams, env: dict[str, str], token: str, repeats: int):
        from loyalty.accounts.models import Account

        self.params = params
        self.env = env
        self.api = Http(token=token)
        self.token = token
        self.repeats = repeats
        self.account = Account.objects.get(aid=params.main.aid)
        self.aid = params.main.aid
        self.results: list[Result] = []
        self.q = query_parameters(params)
        self.segments: dict[str, str] = {}  # name -> segment uuid
        self.recalc_ms: float | None = None
        self.windows = 0  # purchase windows present while ingesting
        self.info: dict[str, Any] = {}

    def run(self, result: Result, fn: Callable[[Result], None]) -> Result:
        print(f"-- {result.name}", flush=True)
        # the box is shared: record how busy it was, so a slow number can be read against it
        result.extra["load_avg_1m_before"] = round(os.getloadavg()[0], 2)
        try:
            fn(result)
        except Skip as exc:
            result.skipped = str(exc)
        except Exception as exc:  # one scenario failing must not hide the others' numbers
            traceback.print_exc()
            result.error = f"{type(exc).__name__}: {exc}"[:500]
        result.extra["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        self.results.append(result)
        shown = (
            f"skipped: {result.skipped}"
            if result.skipped
            else f"ERROR {result.error}"
            if result.error
            else f"p50 {fmt(result.p50)} ms, p95 {fmt(result.p95)} ms"
            + (f", {result.rate:,.0f} {result.unit}" if result.rate else "")
        )
        print(f"   {shown}", flush=True)
        return result


class Skip(Exception):
    pass


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


# --- query parameters ----------------------------------------------------------------------------------------------


def query_parameters(params: DatasetParams) -> dict[str, Any]:
    """Ids the scenarios ask for, derived from the generator's (seeded) catalogue: item popularity is Zipf in item
    order, store sizes Zipf in store order; a group's popularity is the sum of its items' weights."""
    from receipts.services.generator import ReceiptGenerator

    spec = params.main
    generator = ReceiptGenerator(generator_spec(spec).__class__(**{**generator_spec(spec).__dict__, "customers": 0}))
    weights: dict[str, float] = {}
    for rank, item in enumerate(generator.items, start=1):
        weights[item["group"]["id"]] = weights.get(item["group"]["id"], 0.0) + 1.0 / rank**0.9
    groups = sorted(weights, key=weights.get, reverse=True)
    items = [item["id"] for item in generator.items]
    month_end = END - timedelta(days=31)
    return {
        "selective_items": [items[19], items[199], items[min(1999, len(items) - 1)]],
        "selective_group": groups[min(29, len(groups) - 1)],
        "selective_stores": [f"S{n:03d}" for n in range(11, 21)],
        "month_from": (month_end - timedelta(days=30)).strftime("%Y-%m-%dT00:00:00Z"),
        "month_to": month_end.strftime("%Y-%m-%dT00:00:00Z"),
        "top_group": groups[0],
        "all_from": (END - timedelta(days=730)).strftime("%Y-%m-%dT00:00:00Z"),
        "all_to": END.strftime("%Y-%m-%dT00:00:00Z"),
    }


def _day(offset_days: int) -> str:
    return (END - timedelta(days=offset_days)).date().isoformat()


def aggregate_part(shift: int = 0) -> list[dict[str, Any]]:
    """≥ 5 purchases in the 365 days before the dataset's end, and an average purchase of 200-800 NOK."""
    return [
        {
            "criteria": [
                {
                    "type": "transaction_count_in_period",
                    "min": 5,
                    "fromDate": _day(365 - shift),
                    "toDate": _day(1 - shift),
                }
            ]
        },
        {"criteria": [{"type": "average_transaction_amount", "fromAmount": 200, "toAmount": 800}]},
    ]


def definitions(q: dict[str, Any], shift: int = 0) -> dict[str, list[dict[str, Any]]]:
    """The three segment definitions; `shift` moves every period by that many days (a new day's definition)."""
    skus = {
        "type": "bought_items",
        "items": [{"id": sku} for sku in q["selective_items"]],
        "purchaseFrom": f"{_day(90 - shift)}T00:00:00Z",
        "purchaseTo": f"{_day(-shift)}T00:00:00Z",
    }
    aggregate = aggregate_part(shift)
    # (bought one of the SKUs in the last 90 days) OR (the aggregate): parts AND, criteria OR, so the OR of an
    # AND needs distribution: (skus OR count) AND (skus OR average)
    or_parts = [{"criteria": [dict(skus), *part["criteria"]]} for part in aggregate]
    mixed = [
        {"criteria": [aggregate[0]["criteria"][0]]},
        {"criteria": [aggregate[1]["criteria"][0]]},
        {
            "criteria": [
                {"type": "bought_labels", "labels": [{"key": "group", "value": q["top_group"]}]},
                {"type": "bought_skus", "skuIds": q["selective_items"]},
                {"type": "bought_through_channel", "channelIds": q["selective_stores"][:5]},
            ]
        },
        {"criteria": [{"type": "city", "cities": ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø"]}]},
        {
            "criteria": [
                {"type": "marketing_consent", "channel": "email", "consent": True},
                {"type": "transaction_amount", "fromAmount": 5000},
            ]
        },
        {"criteria": [{"type": "purchase_period", "fromDate": _day(180 - shift), "toDate": _day(1 - shift)}]},
        {"criteria": [{"type": "gender", "genders": ["female", "male"]}]},
    ]
    return {"aggregate": aggregate, "or": or_parts, "mixed": mixed}


# --- ingest --------------------------------------------------------------------------------------------------------


def _throwaway_receipts(bench: Bench, count: int, tag: str) -> list[Any]:
    """Receipts like the dataset's (same catalogue and stores, the last 30 days) for customers of their own, so they
    can be deleted exactly afterwards: parsed, their documents and customer ids already carrying the throwaway
    marks (receipt ids start with f"{THROWAWAY}-{tag}-")."""
    from receipts.services.generator import ReceiptGenerator

    gen_spec = generator_spec(bench.params.main, prefix=f"{THROWAWAY}-{tag}-", days=30)
    gen_spec = gen_spec.__class__(**{**gen_spec.__dict__, "receipts": count, "customers": max(500, count // 10)})
    parsed = list(ReceiptGenerator(gen_spec))
    for receipt in parsed:
        if receipt.customer_id:
            receipt.customer_id = THROWAWAY.upper() + receipt.customer_id
            receipt.document["customer_id"] = receipt.customer_id
    return parsed


def _throwaway_documents(bench: Bench, count: int, tag: str) -> list[dict[str, Any]]:
    return [receipt.document for receipt in _throwaway_receipts(bench, count, tag)]


def _median_rate(result: Result, rates: list[float]) -> str:
    """Record the median of several runs' rates; → how the note says it."""
    result.rate = statistics.median(rates)
    result.extra["rates"] = [round(rate) for rate in rates]
    return f"median of {len(rates)} runs ({', '.join(f'{rate:,.0f}' for rate in rates)}/s)"


def throwaway_cleanup(account_ids: list[int]) -> int:
    """Delete the ingest samples and everything derived from them, set-based: their customers exist only for
    them, so counters and window stats of everyone else stay exact."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM receipts_customer WHERE account_id = ANY(%s) AND customer_id >= %s AND customer_id < %s",
            [account_ids, THROWAWAY.upper(), THROWAWAY.upper()[0] + chr(ord(THROWAWAY.upper()[1]) + 1)],
        )
        customers = [row[0] for row in cur.fetchall()]
        cur.execute(
            "DELETE FROM receipts_receipt WHERE account_id = ANY(%s) AND receipt_id >= %s AND receipt_id < %s",
            [account_ids, THROWAWAY, THROWAWAY[0] + chr(ord(THROWAWAY[1]) + 1)],
        )
        deleted = cur.rowcount
        if customers:
            cur.execute(
                "DELETE FROM receipts_itemfact WHERE account_id = ANY(%s) AND customer_pk = ANY(%s)",
                [account_ids, customers],
            )
            cur.execute("DELETE FROM receipts_windowstat WHERE customer_pk = ANY(%s)", [customers])
            cur.execute(
                "DELETE FROM receipts_codebuyer WHERE account_id = ANY(%s) AND customer_pk = ANY(%s)",
                [account_ids, customers],
            )
            cur.execute("DELETE FROM segments_segmentmember WHERE customer_pk = ANY(%s)", [customers])
            cur.execute("DELETE FROM segments_membershipspan WHERE customer_pk = ANY(%s)", [customers])
            # a holdout link of the impact scenario may have assigned them a side
            cur.execute("DELETE FROM discounts_pushassignment WHERE customer_id = ANY(%s)", [customers])
            cur.execute("DELETE FROM receipts_customer WHERE id = ANY(%s)", [customers])
        # every batch in the bench database that the generator did not write is an ingest sample's
        cur.execute(
            "DELETE FROM receipts_ingestbatch WHERE account_id = ANY(%s) AND created_by <> 'generator'", [account_ids]
        )
    return deleted


def scenario_ingest_http(bench: Bench, result: Result, batches: int, clients: int = 2) -> None:
    documents = _throwaway_documents(bench, batches * 1_000, f"h{int(time.time())}")
    payloads = [json.dumps(documents[i : i + 1_000]).encode() for i in range(0, len(documents), 1_000)]
    lock = threading.Lock()
    errors: list[str] = []
    pending = list(payloads)

    def client() -> None:
        http = Http(token=bench.token)
        while True:
            with lock:
                if not pending:
                    return
                payload = pending.pop()
            before = load_now()
            try:
                ms, _ = timed(
                    lambda payload=payload: http.call(
                        "POST", f"/v1/accounts/{bench.aid}/receipts", payload, expect=(200, 201)
                    )
                )
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
                return
            with lock:
                result.add(ms, before)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(errors[0])
    result.rate = len(documents) / seconds
    result.note = (
        f"{batches} batches of 1,000 from {clients} concurrent clients into the full tables, "
        f"{bench.windows} purchase windows kept current"
    )


def _event_body(tag: str, n: int) -> tuple[str, bytes]:
    """Every other event a token_add, the others a receipt_add: both kinds of work the sink does."""
    customer = f"{THROWAWAY}{tag}-c{n % 500}"
    if n % 2:
        token = {"token_id": f"t{n}", "type": "sha1:email", "value": f"{THROWAWAY}{tag}-{n}", "customer_id": customer}
        return "token_add", json.dumps({"token": token}).encode()
    receipt = {
        "id": str(uuid.UUID(int=(int(time.time()) << 64) + n)),
        "customer_id": customer,
        "store": {"id": "S001"},
        "receipt_id": f"{THROWAWAY}{tag}-{n}",
        "purchase_at": "2025-05-01T12:00:00Z",
        "gross_amount": 10_000 + n,
        "currency": "NOK",
    }
    return "receipt_add", json.dumps({"receipt": receipt}).encode()


def scenario_events(bench: Bench, result: Result, events: int, clients: int = 4) -> None:
    """POST /discounts/events from `clients` clients, then every event once more (a hook's retries): each must
    be stored exactly once."""
    from discounts.models import AutomationEvent, CustomerToken

    tag = f"e{int(time.time())}"
    work = [(f"{tag}-{n}", *_event_body(tag, n)) for n in range(events)]
    lock = threading.Lock()
    errors: list[str] = []

    def send(batch: list[tuple[str, str, bytes]]) -> None:
        http = Http(token=bench.token)
        path = f"/v1/accounts/{bench.aid}/discounts/events"
        for delivery, kind, body in batch:
            try:
                ms, _ = timed(
                    lambda d=delivery, k=kind, b=body: http.call(
                        "POST", path, b, expect=(204,), headers={"event": k, "event-delivery": d}
                    )
                )
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
                return
            with lock:
                result.samples.append(ms)

    def run_all() -> float:
        started = time.perf_counter()
        threads = [threading.Thread(target=send, args=(work[i::clients],)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(errors[0])
        return time.perf_counter() - started

    seconds = run_all()
    result.rate = events / seconds
    repeat_seconds = run_all()
    stored = AutomationEvent.objects.filter(account=bench.account, key__startswith=f"delivery:{tag}-").count()
    tokens = CustomerToken.objects.filter(account=bench.account, value__startswith=f"{THROWAWAY}{tag}-").count()
    AutomationEvent.objects.filter(account=bench.account, key__startswith=f"delivery:{tag}-").delete()
    CustomerToken.objects.filter(account=bench.account, value__startswith=f"{THROWAWAY}{tag}-").delete()
    if stored != events or tokens != events // 2:
        raise RuntimeError(f"{events} events sent twice, {stored} stored and {tokens} tokens kept")
    result.note = (
        f"{events:,} events (half token_add, half receipt_add) from {clients} clients, then all again as repeats "
        f"({events / repeat_seconds:,.0f}/s, no second effect): {stored:,} stored once"
    )


def scenario_import(bench: Bench, result: Result, receipts: int, runs: int = 1, options: tuple[str, ...] = ()) -> None:
    rates = []
    for run in range(runs):
        documents = _throwaway_documents(bench, receipts, f"i{int(time.time())}{run}")
        with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as handle:
            for document in documents:
                handle.write(json.dumps(document).encode() + b"\n")
            path = handle.name
        before = load_now()
        try:
            ms, completed = timed(
                lambda path=path: subprocess.run(
                    [PYTHON, "manage.py", "import_receipts", path, "--account", bench.aid, *options],
                    cwd=ROOT,
                    env=bench.env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            )
        finally:
            Path(path).unlink(missing_ok=True)
        if completed.returncode != 0:
            raise RuntimeError(f"import_receipts failed: {completed.stderr[-500:]}")
        match = re.search(r"\(([\d,]+) receipts/s\)", completed.stdout)
        rates.append(float(match.group(1).replace(",", "")) if match else receipts / (ms / 1000))
        result.add(ms, before)
    # the command's own rate (load only); the wall time in samples adds process start-up and JSONL reading
    result.note = (
        f"{receipts:,} receipts per run, {_median_rate(result, rates)}, JSONL file, "
        "`manage.py import_receipts` into the full tables, "
        f"{bench.windows} purchase windows kept current; wall time incl. start-up "
        f"{receipts / (statistics.median(result.samples) / 1000):,.0f} receipts/s"
    )
    result.extra["wall_rate"] = receipts / (statistics.median(result.samples) / 1000)


CEILING_LAYERS = {  # what is stored → (scenario name, what the note says)
    "receipts": ("ingest ceiling: receipts", "the receipts (JSONB documents, 4 indexes)"),
    "facts": ("ingest ceiling: receipts + facts", "the receipts and their item facts"),
    "customers": (
        "ingest ceiling: receipts + facts + customers",
        "the receipts, their item facts and the customers' counters and profiles",
    ),
}


def scenario_ingest_ceiling(
    bench: Bench, result: Result, receipts: int, layers: str, sessions: int = 2, runs: int = 3
) -> None:
    """What the server alone takes to store receipts: rows formatted beforehand, then COPYed from `sessions`
    connections in chunks of 10,000, one transaction each, into the full tables. Nothing is decoded, validated or
    formatted while timed, so no ingest path (the import command does all of that and more) can be faster. Each run
    stores the same receipts under new receipt ids, for the same customers; the rate is the median."""
    tag = f"c{int(time.time())}{layers[0]}"
    stamp = f"{THROWAWAY}-{tag}"
    parsed = _throwaway_receipts(bench, receipts, tag)
    rates = []
    for run in range(runs):
        prefix = f"{stamp}{run}-"
        for receipt in parsed:
            receipt.receipt_id = prefix + receipt.receipt_id[receipt.receipt_id.index("-", len(stamp)) + 1 :]
            receipt.document["receipt_id"] = receipt.receipt_id
        before = load_now()
        ms = _ceiling_run(bench.account, parsed, layers, sessions)
        stored = _count_throwaway(bench.account.id, prefix)
        if stored != receipts:
            raise RuntimeError(f"stored {stored:,} of {receipts:,} receipts")
        result.add(ms, before)
        rates.append(receipts / (ms / 1000))
    result.note = (
        f"{receipts:,} receipts per run, {_median_rate(result, rates)}: COPY of {CEILING_LAYERS[layers][1]}, "
        f"formatted beforehand, from {sessions} sessions; no decoding, "
        "validation, duplicate probe, windows or buyers while timed (an upper bound for any ingest path)"
    )


def _ceiling_run(account: Any, parsed: list[Any], layers: str, sessions: int) -> float:
    """One timed COPY of `parsed` (see scenario_ingest_ceiling); → ms."""
    from django.db import connection, transaction

    from loyalty.core.sql import raw_cursor
    from receipts.services import read_models as rm
    from receipts.services.generator import CHUNK
    from receipts.services.store import FACT_COLUMNS, RECEIPT_COLUMNS, _fact_lines, _receipt_lines, stored_rows

    with transaction.atomic():
        cur = raw_cursor()
        customers = rm.customers_ensure(cur, account.id, (r.customer_id for r in parsed if r.customer_id))
        codes = rm.codes_resolve(cur, account.id, (code for r in parsed for code in r.codes))
        now, rows = stored_rows(cur, parsed, customers, None)
    chunks = []
    for first in range(0, len(rows), CHUNK):
        part = rows[first : first + CHUNK]
        chunks.append(
            (
                _receipt_lines(account.id, part, "bench", now),
                _fact_lines(account.id, part, codes) if layers != "receipts" else "",
                sorted({row.customer_pk for row in part if row.customer_pk}),
                rm.customer_deltas_text((row.receipt, row.customer_pk) for row in part)
                if layers == "customers"
                else "",
            )
        )
    lock = threading.Lock()

    def session() -> None:
        try:
            while True:
                with lock:
                    if not chunks:
                        return
                    receipt_text, fact_text, customer_pks, deltas = chunks.pop(0)
                with transaction.atomic():
                    cur = raw_cursor()
                    with cur.copy(f"COPY receipts_receipt ({RECEIPT_COLUMNS}) FROM STDIN") as copy:
                        copy.write(receipt_text)
                    if fact_text:
                        with cur.copy(f"COPY receipts_itemfact ({FACT_COLUMNS}) FROM STDIN") as copy:
                            copy.write(fact_text)
                    if deltas:
                        rm.customers_lock(cur, customer_pks)
                        rm.customers_apply_deltas(cur, deltas)
        finally:
            connection.close()

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    ms, _ = timed(lambda: ([thread.start() for thread in threads], [thread.join() for thread in threads]))
    return ms


def _count_throwaway(account_id: int, prefix: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM receipts_receipt WHERE account_id = %s AND receipt_id >= %s AND receipt_id < %s",
            [account_id, prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)],
        )
        return cur.fetchone()[0]


# --- reads ---------------------------------------------------------------------------------------------------------


def repeat(result: Result, fn: Callable[[], Any], repeats: int, warmup: int = 1) -> Any:
    value = None
    for _ in range(warmup):
        value = fn()
    for _ in range(repeats):
        before = load_now()
        ms, value = timed(fn)
        result.add(ms, before)
    return value


def customer_segment_body(q: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "selective":
        return {
            "purchase_from": q["month_from"],
            "purchase_to": q["month_to"],
            "store_ids": q["selective_stores"],
            "items": [{"id": sku} for sku in q["selective_items"]] + [{"group": q["selective_group"]}],
        }
    return {"purchase_from": q["all_from"], "purchase_to": q["all_to"], "items": [{"group": q["top_group"]}]}


def scenario_customer_segment(bench: Bench, result: Result, kind: str) -> None:
    body = customer_segment_body(bench.q, kind)
    path = f"/v1/accounts/{bench.aid}/receipts/customer_segment"
    # the sample ends when the last byte arrived: decoding a 7 MB answer is the client's work, not the server's
    # (~70 ms for the broad one), and DuckDB's baseline is not charged for it either
    raw = repeat(result, lambda: bench.api.call("POST", path, body)[1], bench.repeats)
    answer = json.loads(raw)
    result.extra["customers"] = len(answer["customers"])
    result.extra["receipts"] = sum(c["purchases"] for c in answer["customers"])
    result.note = f"{len(answer['customers']):,} customers answered"


# --- segments ------------------------------------------------------------------------------------------------------


def segments_cleanup(account_ids: list[int]) -> None:
    """Remove what earlier bench runs left: segments, their runs and members, bench discount rules and their refs,
    and purchase windows nobody uses (each costs every ingest)."""
    from django.db import connection, transaction

    from receipts.readmodels.windows import purchase_windows_forget_unused
    from segments.models import Segment

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM discounts_discountrule WHERE account_id = ANY(%s) AND name LIKE 'bench%%'", [account_ids]
        )
        rules = [row[0] for row in cur.fetchall()]
        if rules:
            cur.execute("DELETE FROM discounts_discountusage WHERE rule_id = ANY(%s)", [rules])
            cur.execute("DELETE FROM discounts_discountref WHERE rule_id = ANY(%s)", [rules])
            cur.execute("DELETE FROM discounts_pushrun WHERE rule_id = ANY(%s)", [rules])
            cur.execute(
                "DELETE FROM discounts_pushassignment WHERE link_id IN "
                "(SELECT id FROM discounts_pushlink WHERE rule_id = ANY(%s))",
                [rules],
            )
            cur.execute("DELETE FROM discounts_pushlink WHERE rule_id = ANY(%s)", [rules])
            cur.execute("DELETE FROM discounts_simulation WHERE rule_id = ANY(%s)", [rules])
            cur.execute("DELETE FROM discounts_discountrule WHERE id = ANY(%s)", [rules])
        segments = list(Segment.objects.filter(account_id__in=account_ids).values_list("id", flat=True))
        if segments:
            cur.execute("DELETE FROM segments_segmentmember WHERE segment_id = ANY(%s)", [segments])
            cur.execute("DELETE FROM segments_membershipspan WHERE segment_id = ANY(%s)", [segments])
            Segment.objects.filter(id__in=segments).delete()
    purchase_windows_forget_unused(older_than=timedelta(minutes=30))


def _wait_finished(model: Any, pk: str, label: str, timeout: float = 600) -> Any:
    """Poll a SegmentRun or PushRun until it leaves queued/running (and its duration is written); raise unless it
    succeeded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = model.objects.filter(pk=pk).first()
        if run is not None and run.status not in (model.Status.QUEUED, model.Status.RUNNING):
            if run.status != model.Status.SUCCEEDED:
                raise RuntimeError(
                    f"{label} {pk} ended {run.status}: {getattr(run, 'error_code', '')} {run.error_message}"
                )
            if run.duration_ms is not None:  # written just after the status flips
                return run
        time.sleep(0.01)
    raise RuntimeError(f"{label} {pk} did not finish within {timeout}s")


def _wait_run(run_id: str) -> Any:
    from segments.models import SegmentRun

    return _wait_finished(SegmentRun, run_id, "segment run")


def _latest_run_id(segment_uuid: str) -> str:
    from segments.models import SegmentRun

    return str(
        SegmentRun.objects.filter(segment__uuid=segment_uuid).order_by("-created_at").values_list("id", flat=True)[0]
    )


def segment_create(bench: Bench, name: str, parts: list[dict[str, Any]]) -> tuple[str, Any]:
    """Create over HTTP with refreshes left to us (no new-receipt or scheduled runs), wait for the first run."""
    body = {"segment": {"name": f"bench {name}", "parts": parts, "refreshPolicy": {"onNewReceipts": False}}}
    segment = bench.api.json("POST", f"/api/{bench.aid}/segment", body, expect=(200, 201))["segmentId"]
    run = _wait_run(_latest_run_id(segment))
    bench.segments[name] = segment
    return segment, run


def scenario_recalculate(bench: Bench, result: Result, name: str, parts: list[dict[str, Any]]) -> None:
    """Steady state: the definition is unchanged and its purchase windows exist; POST refresh, the worker computes,
    diffs and publishes. Samples are the run's own duration; `e2e` adds the queue and our polling."""
    segment, first = segment_create(bench, name, parts)
    result.extra["first_run_ms"] = first.duration_ms
    e2e = []
    for attempt in range(bench.repeats + 1):
        before = load_now()
        started = time.perf_counter()
        run_id = bench.api.json("POST", f"/api/{bench.aid}/segment/{segment}/refresh", expect=(200, 202))["runId"]
        run = _wait_run(run_id)
        if attempt == 0:
            continue  # warm-up
        e2e.append((time.perf_counter() - started) * 1000)
        result.add(run.duration_ms, before)
        result.extra.setdefault("timings", []).append(run.timings)
    result.extra["members"] = run.members
    result.extra["e2e_p50_ms"] = statistics.median(e2e)
    result.note = f"{run.members:,} members; end to end incl. queue p50 {statistics.median(e2e):,.0f} ms"


def scenario_new_day(bench: Bench, result: Result, name: str, shifts: int) -> None:
    """The first run of a new day: the definition's periods moved by a day, so its windows are derived."""
    from receipts.models import PurchaseWindow

    segment = bench.segments[name]
    before = set(PurchaseWindow.objects.values_list("pk", flat=True))
    try:
        for shift in range(1, shifts + 1):
            parts = definitions(bench.q, shift)[name]
            body = {"segment": {"name": f"bench {name}", "parts": parts, "refreshPolicy": {"onNewReceipts": False}}}
            load = load_now()
            bench.api.json("PUT", f"/api/{bench.aid}/segment/{segment}", body)
            run = _wait_run(_latest_run_id(segment))
            result.add(run.duration_ms, load)
            result.extra.setdefault("timings", []).append(run.timings)
    finally:
        # shifted windows would otherwise cost every later ingest until they expire
        _forget_windows(set(PurchaseWindow.objects.values_list("pk", flat=True)) - before)
    result.note = "definition periods moved by 1..n days: each run derives its purchase window"


def window_count() -> int:
    from receipts.models import PurchaseWindow

    return PurchaseWindow.objects.count()


def _forget_windows(ids: set[int]) -> None:
    from django.db import connection, transaction

    if not ids:
        return
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM receipts_windowstat WHERE window_id = ANY(%s)", [list(ids)])
        cur.execute("DELETE FROM receipts_purchasewindow WHERE id = ANY(%s)", [list(ids)])


def scenario_preview(bench: Bench, result: Result, parts: list[dict[str, Any]]) -> None:
    path = f"/api/{bench.aid}/segment/preview"
    answer = repeat(result, lambda: bench.api.json("POST", path, {"segment": {"parts": parts}}), bench.repeats)
    result.note = f"{answer['customersCount']:,} customers"


# --- pushes --------------------------------------------------------------------------------------------------------


def _count_threshold(account, target: int) -> tuple[int, int, list[tuple[int, int]]]:
    """The lifetime purchase count k for which about `target` customers have ≥ k purchases, and the cumulative
    counts (k, customers with ≥ k)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT purchases, sum(count(*)) OVER (ORDER BY purchases DESC)
            FROM receipts_customer WHERE account_id = %s AND purchases > 0 GROUP BY purchases ORDER BY purchases
            """,
            [account.pk],
        )
        cumulative = [(int(k), int(n)) for k, n in cur.fetchall()]
    best = min(cumulative, key=lambda row: abs(row[1] - target))
    return best[0], best[1], cumulative


def _rule(bench: Bench, label: str):
    from discounts import services

    document = {
        "name": f"bench {label}",
        "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"},
        "reward": {"type": "discount_amount", "value": 10000},
    }
    return services.rule_create(account=bench.account, document=document, actor="bench")


def _wait_push(push_id: str) -> Any:
    from discounts.models import PushRun

    return _wait_finished(PushRun, push_id, "push")


def scenario_push_once(bench: Bench, result: Result, members: int) -> None:
    k, count, _ = _count_threshold(bench.account, members)
    segment, _ = segment_create(bench, "push", [{"criteria": [{"type": "transaction_count", "min": k}]}])
    e2e = []
    for attempt in range(bench.repeats + 1):
        rule = _rule(bench, f"push once {attempt}")  # a fresh rule: every push gives every member the rule
        before = load_now()
        started = time.perf_counter()
        push = bench.api.json(
            "POST",
            f"/api/{bench.aid}/segment/{segment}/push",
            {"discountId": str(rule.pk), "mode": "once"},
            expect=(202,),
        )["pushId"]
        run = _wait_push(push)
        if attempt == 0:
            continue
        e2e.append((time.perf_counter() - started) * 1000)
        result.add(run.duration_ms, before)
    result.extra["members"] = count
    result.note = f"{count:,} members, a new rule each time; end to end p50 {statistics.median(e2e):,.0f} ms"


def scenario_push_sync(bench: Bench, result: Result, members: int) -> None:
    """A rule kept in sync with removeDeparted; the definition alternates between "≥ k purchases" and that plus
    a lifetime amount the lowest-spending 2 % of those members miss, so every recalculation publishes a ~2 % diff
    and the worker pushes it."""
    from django.db import connection

    from discounts.models import PushRun

    k, count, _ = _count_threshold(bench.account, members)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT percentile_disc(0.02) WITHIN GROUP (ORDER BY net_total) FROM receipts_customer"
            " WHERE account_id = %s AND purchases >= %s",
            [bench.account.pk, k],
        )
        floor = (cur.fetchone()[0] or 0) / 100  # minor units to NOK
    definitions_by_turn = [
        [
            {"criteria": [{"type": "transaction_count", "min": k}]},
            {"criteria": [{"type": "transaction_amount", "fromAmount": floor}]},
        ],
        [{"criteria": [{"type": "transaction_count", "min": k}]}],
    ]
    segment, _ = segment_create(bench, "sync", [{"criteria": [{"type": "transaction_count", "min": k}]}])
    rule = _rule(bench, "push sync")
    push = bench.api.json(
        "POST",
        f"/api/{bench.aid}/segment/{segment}/push",
        {"discountId": str(rule.pk), "mode": "sync", "removeDeparted": True},
        expect=(202,),
    )["pushId"]
    _wait_push(push)
    diffs = []
    for attempt in range(bench.repeats + 1):
        body = {
            "segment": {
                "name": "bench sync",
                "parts": definitions_by_turn[attempt % 2],
                "refreshPolicy": {"onNewReceipts": False},
            }
        }
        known = set(PushRun.objects.filter(rule=rule).values_list("pk", flat=True))
        before = load_now()
        bench.api.json("PUT", f"/api/{bench.aid}/segment/{segment}", body)
        _wait_run(_latest_run_id(segment))
        deadline = time.monotonic() + 120
        while not (fresh := PushRun.objects.filter(rule=rule).exclude(pk__in=known).first()):
            if time.monotonic() > deadline:
                raise RuntimeError("the sync push did not start after the published recalculation")
            time.sleep(0.01)
        run = _wait_push(str(fresh.pk))
        diffs.append(run.added + run.removed)
        if attempt:
            result.add(run.duration_ms, before)
    result.extra["diff"] = diffs
    result.note = (
        f"{count:,} members, diffs of {statistics.median(diffs):,.0f} customers (added + removed) per sync push"
    )


# --- holdouts: the impact report, and dry runs ---------------------------------------------------------------------


def scenario_impact(bench: Bench, result: Result, members: int) -> None:
    """A link with a 10 % holdout whose members all entered 90 days before the dataset ends; the report over those
    90 days (sides, CUPED's pre-period, usage, the daily series) through the API, end to end."""
    from discounts.models import PushAssignment, PushLink

    k, count, _ = _count_threshold(bench.account, members)
    segment, _ = segment_create(bench, "impact", [{"criteria": [{"type": "transaction_count", "min": k}]}])
    rule = _rule(bench, "impact")
    push = bench.api.json(
        "POST",
        f"/api/{bench.aid}/segment/{segment}/push",
        {"discountId": str(rule.pk), "mode": "sync", "holdoutPercent": 10},
        expect=(202,),
    )["pushId"]
    _wait_push(push)
    entered = END - timedelta(days=90)
    link = PushLink.objects.get(rule=rule)
    PushAssignment.objects.filter(link=link).update(assigned_at=entered)
    PushLink.objects.filter(pk=link.pk).update(created_at=entered)
    path = (
        f"/api/{bench.aid}/segment/{segment}/push-links/{rule.pk}/impact"
        f"?from={entered.isoformat().replace('+00:00', 'Z')}&to={END.isoformat().replace('+00:00', 'Z')}"
    )
    report = repeat(result, lambda: bench.api.json("GET", path), bench.repeats)
    result.extra["members"] = count
    result.note = (
        f"{count:,} members ({report['treatment']['customers']:,} treatment, {report['holdout']['customers']:,} "
        "held out), 90 days"
    )


def scenario_dry_run(bench: Bench, result: Result) -> None:
    """A rule replayed over the last 90 days of the dataset for every customer, queued as the API queues it and run
    by the bench's worker (its partitions forked from the pool process): receipts replayed per second of the run's
    own duration (queueing excluded)."""
    from discounts.models import Simulation
    from discounts.services.simulations import simulation_start

    rule = _rule(bench, "dry run")
    rates = []
    for _ in range(min(bench.repeats, 2)):
        simulation = simulation_start(
            account=bench.account,
            rule=rule,
            document=None,
            period_from=END - timedelta(days=90),
            period_to=END,
            customers="*",
            actor="bench",
        )
        done = _wait_finished(Simulation, str(simulation.pk), "dry run")
        result.samples.append(float(done.duration_ms))
        rates.append(done.result["receipts_evaluated"] / (done.duration_ms / 1000))
    result.rate = statistics.median(rates)
    result.note = f"{done.result['receipts_evaluated']:,} receipts, {done.result['receipts_applied']:,} applied"


# --- pages ---------------------------------------------------------------------------------------------------------


def page_paths(bench: Bench) -> dict[str, str]:
    from django.urls import NoReverseMatch, reverse

    from receipts.models import Customer, Receipt

    try:
        reverse("web:receipts", kwargs={"aid": bench.aid})
    except NoReverseMatch as exc:
        raise Skip("pages not installed") from exc
    customer = Customer.objects.filter(account=bench.account).order_by("-purchases").first()
    receipt = Receipt.objects.filter(account=bench.account, customer_pk=customer).order_by("-purchase_at").first()
    q = bench.q
    filtered = (
        reverse("web:receipts", kwargs={"aid": bench.aid})
        + f"?store={q['selective_stores'][0]}&from={q['month_from'][:10]}&to={q['month_to'][:10]}"
    )
    paths = {
        "receipts list": reverse("web:receipts", kwargs={"aid": bench.aid}),
        "receipts list, filtered": filtered,
        "receipt": reverse("web:receipt", kwargs={"aid": bench.aid, "pk": receipt.pk}),
        "customer": reverse("web:customer", kwargs={"aid": bench.aid, "pk": customer.pk}),
    }
    if "aggregate" in bench.segments:
        paths["segment"] = reverse("web:segment", kwargs={"aid": bench.aid, "segment_id": bench.segments["aggregate"]})
    return paths


def staff_session(bench: Bench) -> dict[str, str]:
    """Signed in as a staff member of the account: a session row and its cookie, as a login would leave them."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from loyalty.accounts.services import staff_user_upsert

    user, _ = staff_user_upsert(account=bench.account, username="bench-staff", role="owner")
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {settings.SESSION_COOKIE_NAME: session.session_key}


def scenario_page(bench: Bench, result: Result, path: str, cookies: dict[str, str]) -> None:
    http = Http(cookies=cookies)
    repeat(result, lambda: http.call("GET", path), bench.repeats)
    result.note = path


# --- available_for_receipt -----------------------------------------------------------------------------------------

TILL_CUSTOMER = "bench-till-customer"


def _till_documents(items: list[dict[str, Any]], rules: int) -> list[dict[str, Any]]:
    """Rules of every kind the till meets: receipt percentages, item and group rules on the catalogue (about half
    on items the bench receipt holds), hours, minimums, stamps, exclusive ones."""
    window = {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"}
    kinds = [
        lambda n: {"reward": {"type": "discount_percent", "value": 1 + n % 20}},
        lambda n: {
            "requirement": {"item": {"items": [{"group_id": items[n % len(items)]["group"]["id"]}]}},
            "reward": {"type": "discount_percent", "value": 10},
        },
        lambda n: {
            "requirement": {"item": {"items": [{"id": items[(n * 7) % len(items)]["id"]}]}},
            "reward": {"type": "discount_amount", "value": 500},
            "limitation": {"discount_reward_usage": 1},
        },
        lambda n: {
            "reward": {"type": "discount_amount", "value": 2000},
            "limitation": {"discount_hours": {"hours": [{"day": "mon", "start": "10:00", "end": "12:00"}]}},
        },
        lambda n: {
            "requirement": {"gross_amount": 100_000 * (n % 5)},
            "reward": {"type": "discount_amount", "value": 5000},
        },
        lambda n: {"requirement": {"stamp": 5}, "reward": {"type": "discount_item_percent", "value": 100}},
        lambda n: {"reward": {"type": "discount_percent", "value": 15}, "limitation": {"discount_combination": 0}},
    ]
    documents = []
    for n in range(rules):
        body = kinds[n % len(kinds)](n)
        documents.append({"name": f"bench till {n}", **body, "requirement": {**window, **body.get("requirement", {})}})
    return documents


def till_setup(bench: Bench, *, rules: int, refs: int, own: int = 50, shared: int = 10) -> dict[str, Any]:
    """`rules` active rules and `refs` refs (set-based: one INSERT … SELECT), of which `own` belong to one customer
    and `shared` rules are given to `*`; and a 20-line receipt of the catalogue's most popular items."""
    from django.db import connection, transaction

    from discounts.documents import rule_type
    from discounts.models import DiscountRule
    from receipts.services.generator import ReceiptGenerator

    if "till" in bench.info:
        return bench.info["till"]
    gen_spec = generator_spec(bench.params.main)
    catalogue = ReceiptGenerator(gen_spec.__class__(**{**gen_spec.__dict__, "customers": 0})).items
    documents = _till_documents(catalogue[:40], rules)
    with transaction.atomic():
        made = DiscountRule.objects.bulk_create(
            DiscountRule(
                account=bench.account, document=d, name=d["name"], type=rule_type(d), created_by="bench",
                purchase_from="2024-01-01T00:00:00Z", purchase_to="2099-01-01T00:00:00Z",
            )
            for d in documents
        )  # fmt: skip
        ids = [str(rule.pk) for rule in made]
        with connection.cursor() as cur:
            # everyone else's refs: ref i holds rule i mod rules for customer i div rules (unique per rule)
            cur.execute(
                """
                INSERT INTO discounts_discountref (id, account_id, rule_id, customer_id, created_at, created_by)
                SELECT gen_random_uuid(), %s, (%s::uuid[])[1 + i %% %s], 'bench-till-' || (i / %s), now(), 'bench'
                FROM generate_series(0, %s - 1) AS i
                """,
                [bench.account.pk, ids, rules, rules, max(0, refs - own - shared)],
            )
            cur.execute(
                """
                INSERT INTO discounts_discountref (id, account_id, rule_id, customer_id, created_at, created_by)
                SELECT gen_random_uuid(), %s, rule_id, holder, now(), 'bench'
                FROM unnest(%s::uuid[], %s::text[]) AS given(rule_id, holder)
                """,
                [bench.account.pk, ids[: own + shared], [TILL_CUSTOMER] * own + ["*"] * shared],
            )
            cur.execute("ANALYZE discounts_discountref")
    # as after the ingest samples: left to autovacuum and the checkpointer, the 1,000,000 refs just written would be
    # vacuumed and flushed while the till's samples run, sharing the two cores with them
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) discounts_discountref")
    dataset_checkpoint()
    lines = [
        {
            "id": entry["id"], "line_id": n + 1, "groups": [{"id": entry["group"]["id"]}], "quantity": 1 + n % 3,
            "gross_amount": 4990 + 1000 * n, "eligible_for_discount": True,
        }
        for n, entry in enumerate(catalogue[:20])
    ]  # fmt: skip
    receipt = {
        "store": {"id": "S001"}, "receipt_id": "bench-till", "purchase_at": "2026-06-03T12:00:00Z",
        "currency": "NOK", "customer_id": TILL_CUSTOMER, "items": lines,
        "gross_amount": sum(line["gross_amount"] for line in lines),
    }  # fmt: skip
    bench.info["till"] = {"receipt": receipt, "rules": rules, "refs": refs}
    return bench.info["till"]


def scenario_available(bench: Bench, result: Result, *, rules: int, refs: int, explain: bool) -> None:
    till = till_setup(bench, rules=rules, refs=refs)
    path = f"/v1/accounts/{bench.aid}/discounts/available_for_receipt" + ("?explain=true" if explain else "")
    body = json.dumps(till["receipt"]).encode()
    # as for customer_segment, a sample ends when the answer's last byte arrived: encoding the receipt and decoding
    # the ~75 kB answer are the till's work, not the server's
    raw = repeat(result, lambda: bench.api.call("POST", path, body)[1], max(bench.repeats, 20), warmup=3)
    answer = json.loads(raw)
    applied = len(answer["discounts"])
    result.extra.update(rules=rules, refs=refs, applied=applied, candidates=len(answer.get("explain", [])))
    result.note = f"{rules:,} rules, {refs:,} refs; 20 lines, 50 own + 10 * refs; {applied} rules applied"
