"""Bulk loads whose read models are built when the load ends (receipts.services.deferred): the result is the same,
row for row, as a chunk-by-chunk load's; a bad line stops them at the same chunk; readers meanwhile see the read
models as they were before the load."""

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from django.core.management import CommandError
from django.db import transaction

from receipts.documents import ParsedReceipt, parse_receipt
from receipts.management.commands.import_receipts import Lines
from receipts.models import (
    CodeBuyer,
    Customer,
    IngestBatch,
    ItemCode,
    ItemFact,
    PurchaseWindow,
    Receipt,
    StagedChunk,
    WindowStat,
)
from receipts.readmodels.buyers import code_buyers_ensure
from receipts.readmodels.queries import ingest_watermark
from receipts.readmodels.windows import purchase_window_ensure
from receipts.services import bulk
from receipts.services.deferred import staged_read_models_build
from receipts.services.generator import GeneratorSpec, ReceiptGenerator
from tests.helpers import buyers_from_facts, buyers_kept
from tests.receipts.factories import line, receipt

END = datetime(2025, 6, 1, tzinfo=UTC)
TIE = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
CHUNK = 97


class ListChunks:
    """A ChunkSource of parsed receipts, `size` to a chunk."""

    def __init__(self, receipts: list[ParsedReceipt], size: int):
        self.receipts, self.size = receipts, size

    def tasks(self):
        return iter(range(0, len(self.receipts), self.size))

    def prepare(self, task, *, shard, shards):
        return self.receipts[task : task + self.size], []


def generated(**overrides) -> list[ParsedReceipt]:
    spec = {"receipts": 500, "customers": 50, "stores": 4, "days": 90, "items": 60, "groups": 6, "seed": 7, "end": END}
    return list(ReceiptGenerator(GeneratorSpec(**(spec | overrides))))


def ties() -> list[ParsedReceipt]:
    """Receipts whose customer objects compete at the same instant, inside a chunk and across chunks."""

    def at(customer_id: str, when: datetime, name: str, **extra) -> dict:
        return receipt(customer_id=customer_id, purchase_at=when, customer={"first_name": name}, **extra)

    documents = [
        at("tie-a", TIE, "first"),
        at("tie-a", TIE, "second"),  # later in the same chunk: wins
        at("tie-b", TIE, "early", items=[line("tie-item", groups=("G0001",))]),
        at("C0000001", END, "newest"),
        at("void", TIE, "voided", entry_status="Voided"),
        receipt(customer_id=None, purchase_at=TIE),
    ]
    return [parse_receipt(n, d) for n, d in enumerate(documents)]


def across_chunks() -> list[ParsedReceipt]:
    """tie-b again at the same instant, meant for a later chunk: it wins."""
    return [parse_receipt(0, receipt(customer_id="tie-b", purchase_at=TIE, customer={"first_name": "later"}))]


def snapshot(account) -> dict:
    """Every read model of the account (and its receipts and batches), with surrogate keys replaced by what they
    stand for."""
    customers = dict(Customer.objects.filter(account=account).values_list("id", "customer_id"))
    codes = {c.id: (c.kind, c.value) for c in ItemCode.objects.filter(account=account)}
    receipts = {
        r["id"]: (r["receipt_id"], r["store_id"])
        for r in Receipt.objects.filter(account=account).values("id", "receipt_id", "store_id")
    }
    skip = {"id", "account_id", "created_at", "updated_at", "uuid"}
    windows = {w.id: (str(w.starts_at), str(w.ends_at)) for w in PurchaseWindow.objects.filter(account=account)}
    return {
        "customers": sorted(
            (tuple(sorted((k, str(v)) for k, v in row.items() if k not in skip)))
            for row in Customer.objects.filter(account=account).values()
        ),
        "receipts": sorted(
            (
                row["receipt_id"],
                row["store_id"],
                customers.get(row.pop("customer_pk_id")),
                str(row.pop("document")),
                *sorted((k, str(v)) for k, v in row.items() if k not in skip),
            )
            for row in Receipt.objects.filter(account=account).values()
        ),
        "codes": sorted(
            (c.kind, c.value, c.name, c.buyers_since is not None) for c in ItemCode.objects.filter(account=account)
        ),
        "facts": sorted(
            (codes[f.code_id], f.purchase_at, codes[f.store_code], customers[f.customer_id], receipts[f.receipt_id])
            for f in ItemFact.objects.filter(account=account)
        ),
        "buyers": sorted(
            (codes[b.code_id], customers[b.customer_id], b.purchases) for b in CodeBuyer.objects.filter(account=account)
        ),
        "windows": sorted(
            (windows[s.window_id], customers[s.customer_id], s.purchases, s.net_total, s.gross_total)
            for s in WindowStat.objects.filter(window__account=account)
        ),
        "batches": sorted(
            (
                b.source,
                b.created_by,
                b.received,
                b.stored,
                b.duplicates,
                b.purchase_from,
                b.purchase_to,
                *sorted(customers[pk] for pk in b.customer_pks),
            )
            for b in IngestBatch.objects.filter(account=account)
        ),
    }


def nothing_staged() -> bool:
    return not StagedChunk.objects.exists()


def prepare_read_models(account) -> None:
    """Purchase windows (bounded and open) and kept code buyers, so the load has them to keep current."""
    purchase_window_ensure(account=account, starts_at=END - timedelta(days=30), ends_at=END)
    purchase_window_ensure(account=account, starts_at=None, ends_at=None)
    kept = ItemCode.objects.filter(account=account, kind="group").order_by("value").values_list("id", flat=True)[:3]
    assert code_buyers_ensure(account=account, codes=list(kept))


@pytest.mark.django_db(transaction=True)
def test_building_the_read_models_after_the_load_gives_what_chunk_by_chunk_loading_gives(account, other_account):
    # given the same data already in both accounts, with windows and kept code buyers, and a load that repeats some
    # of it, has customer objects competing at one instant, voided and anonymous receipts
    data = generated()
    before, rest = data[:150], data[150:]
    load = ties() + rest[: 2 * CHUNK] + across_chunks() + rest[2 * CHUNK :] + before[:20]
    for target in (account, other_account):
        bulk.receipts_bulk_load(account=target, receipts=before, created_by="test", chunk_size=CHUNK, workers=1)
        prepare_read_models(target)

    # when one account loads it chunk by chunk and the other builds its read models after the load
    by_chunk = bulk.receipts_load_parallel(
        account=account, source=ListChunks(load, CHUNK), created_by="test", processes=1, read_models_after=False
    )
    after = bulk.receipts_load_parallel(
        account=other_account, source=ListChunks(load, CHUNK), created_by="test", processes=2
    )

    # then both stored the same and every read model is the same, row by row
    assert (after.stored, after.duplicates) == (by_chunk.stored, by_chunk.duplicates) == (len(load) - 20, 20)
    expected, got = snapshot(account), snapshot(other_account)
    assert got == expected
    assert len(expected["facts"]) > 1_000 and len(expected["windows"]) > 40 and len(expected["buyers"]) > 20
    assert len(expected["batches"]) == 2 + -(-len(load) // CHUNK)
    assert Customer.objects.get(account=other_account, customer_id="tie-a").first_name == "second"
    assert Customer.objects.get(account=other_account, customer_id="tie-b").first_name == "later"
    assert nothing_staged()


@pytest.mark.django_db(transaction=True)
def test_a_bad_line_stops_the_load_at_the_same_chunk_with_everything_before_it_complete(account, other_account):
    # given 6 chunks of 40 lines whose only bad line is in the fourth
    documents = [d.document for d in generated(receipts=240)]
    lines = [json.dumps(d) for d in documents]
    lines[130] = lines[130].replace('"purchase_at"', '"purchase_at_typo"')
    text = ("\n".join(lines) + "\n").encode()
    for target in (account, other_account):
        prepare_read_models(target)

    def load(target, read_models_after):
        return bulk.receipts_load_parallel(
            account=target,
            source=Lines(BytesIO(text), 40),
            created_by="import",
            processes=2,
            read_models_after=read_models_after,
        )

    # when it is loaded chunk by chunk, and with the read models built after the load
    by_chunk, after = load(account, False), load(other_account, True)

    # then both stop at the same line with the same report, and what they stored has every read model
    assert by_chunk.stopped and after.stopped
    assert after.problems == by_chunk.problems == ["line 131: purchase_at is required"]
    assert after.stored == by_chunk.stored == 120
    assert snapshot(other_account) == snapshot(account)
    assert ItemFact.objects.filter(account=other_account).exists() and nothing_staged()


def window_truth(account, starts_at, ends_at) -> list[tuple]:
    """A window's stats aggregated from the receipts in Python."""
    totals: dict[int, list[int]] = {}
    for r in Receipt.objects.filter(account=account, is_purchase=True, customer_pk__isnull=False):
        if (starts_at is None or r.purchase_at >= starts_at) and (ends_at is None or r.purchase_at < ends_at):
            row = totals.setdefault(r.customer_pk_id, [0, 0, 0])
            row[0] += 1
            row[1] += r.net_amount or 0
            row[2] += r.gross_amount or 0
    return sorted((pk, *row) for pk, row in totals.items())


def window_stats(window_id: int) -> list[tuple]:
    return sorted(
        WindowStat.objects.filter(window_id=window_id).values_list("customer", "purchases", "net_total", "gross_total")
    )


@pytest.mark.django_db(transaction=True)
def test_until_the_load_ends_readers_see_the_read_models_as_they_were(account):
    # given stored data with a window, and a load whose chunks are stored but whose read models are not built yet
    data = generated()
    bulk.receipts_bulk_load(account=account, receipts=data[:200], created_by="test", workers=1)
    month = (END - timedelta(days=30), END)
    purchase_window_ensure(account=account, starts_at=month[0], ends_at=month[1])
    before = snapshot(account)
    watermark = ingest_watermark(account=account)
    known: dict = {}
    for number, start in enumerate(range(200, 500, 100)):
        bulk._store_chunk(account, data[start : start + 100], "test", known, staged_as=number)
    assert Receipt.objects.filter(account=account).count() == 500

    # then the read models, the batches and the segment engine's watermark are as before the load (new customers
    # exist, without purchases, as while a chunk-by-chunk load creates them)
    during = snapshot(account)
    assert {k: v for k, v in during.items() if k not in ("customers", "receipts")} == {
        k: v for k, v in before.items() if k not in ("customers", "receipts")
    }
    assert set(before["customers"]) <= set(during["customers"])
    earlier = {r.customer_id for r in data[:200]}
    new = Customer.objects.filter(account=account).exclude(customer_id__in=earlier)
    assert new.exists() and not new.exclude(receipts_count=0).exists()
    assert ingest_watermark(account=account) == watermark

    # and a window built meanwhile, from scratch or derived from the month's, leaves the load's purchases out
    derived = (month[0] + timedelta(days=1), month[1] + timedelta(days=1))
    built = (END - timedelta(days=80), END - timedelta(days=20))
    derived_id = purchase_window_ensure(account=account, starts_at=derived[0], ends_at=derived[1])
    built_id = purchase_window_ensure(account=account, starts_at=built[0], ends_at=built[1])
    first_200 = {r.receipt_id for r in data[:200]}
    assert sum(p for _, p, _, _ in window_stats(built_id)) == sum(
        1
        for r in Receipt.objects.filter(account=account, receipt_id__in=first_200, is_purchase=True)
        if r.customer_pk_id and built[0] <= r.purchase_at < built[1]
    )

    # when the load ends, every window has every purchase, and the batches announce the load
    assert staged_read_models_build(account=account) == 3
    for window_id, (start, end) in [(derived_id, derived), (built_id, built)] + [
        (w.id, (w.starts_at, w.ends_at)) for w in PurchaseWindow.objects.filter(account=account, starts_at=month[0])
    ]:
        assert window_stats(window_id) == window_truth(account, start, end)
    assert ingest_watermark(account=account) != watermark
    assert IngestBatch.objects.filter(account=account).count() == 1 + 3
    assert nothing_staged()
    assert staged_read_models_build(account=account) == 0


@pytest.mark.django_db(transaction=True)
def test_the_next_load_builds_what_a_load_that_died_staged(account):
    # given a chunk stored with its read models staged, by a load that never ended
    data = generated(receipts=300)
    bulk._store_chunk(account, data[:100], "test", {}, staged_as=0)
    assert not ItemFact.objects.filter(account=account).exists()

    # when the account's next load ends
    result = bulk.receipts_load_parallel(
        account=account, source=ListChunks(data[100:], 100), created_by="test", processes=2
    )

    # then every receipt, that chunk's too, is in the read models
    assert result.stored == 200
    expected_facts = sum(len(r.codes) for r in data if r.customer_id and r.is_purchase)
    assert ItemFact.objects.filter(account=account).count() == expected_facts
    assert sum(Customer.objects.filter(account=account).values_list("receipts_count", flat=True)) == sum(
        1 for r in data if r.customer_id
    )
    assert IngestBatch.objects.filter(account=account).count() == 3 and nothing_staged()


@pytest.mark.django_db(transaction=True)
def test_import_receipts_can_keep_the_read_models_current_per_chunk(account, tmp_path, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    # given an import whose chunks could not be staged (the loader processes fork this process, patch included)
    def refuse(**kwargs):
        raise AssertionError("staged")

    monkeypatch.setattr(bulk, "receipts_stage", refuse)
    path = tmp_path / "receipts.jsonl"
    path.write_text("".join(json.dumps(r.document) + "\n" for r in generated(receipts=120)))

    # when it is imported with --read-models-per-chunk, then every chunk kept the read models current itself
    out = StringIO()
    call_command(
        "import_receipts",
        str(path),
        "--account",
        account.aid,
        "--chunk-size",
        "50",
        "--read-models-per-chunk",
        stdout=out,
    )
    assert "120 receipts stored" in out.getvalue()
    assert (
        IngestBatch.objects.filter(account=account).count() == 3 and ItemFact.objects.filter(account=account).exists()
    )

    # and without it the chunks are staged
    path.write_text("".join(json.dumps(r.document) + "\n" for r in generated(receipts=60, seed=8)))
    with pytest.raises(CommandError, match="staged"):
        call_command("import_receipts", str(path), "--account", account.aid, stdout=StringIO())


def segment_members(account, parts) -> set[str]:
    """Who a segment definition matches now, as the segment engine computes it (its windows built if missing)."""
    from segments import engine
    from segments.criteria import validate_definition

    normalized = validate_definition(parts)
    ctx = engine.compile_context(engine.definition_prepare(account=account, parts=normalized, now=END), account=account)
    return set(
        engine.matching_customers(account=account, parts=normalized, ctx=ctx).values_list("customer_id", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_a_segment_evaluated_while_a_load_is_pending_sees_the_account_as_before_the_load(account):
    from receipts.readmodels.windows import purchase_windows_forget_unused

    # given a segment's members before a load, its windows then dropped (so they are built while the load is pending)
    data = generated()
    bulk.receipts_bulk_load(account=account, receipts=data[:250], created_by="test", workers=1)
    parts = [
        {
            "criteria": [
                {"type": "transaction_count_in_period", "min": 3, "fromDate": "2025-04-01", "toDate": "2025-05-31"}
            ]
        },
        {"criteria": [{"type": "transaction_count", "min": 2}]},
    ]
    before = segment_members(account, parts)
    assert purchase_windows_forget_unused(older_than=timedelta(0)) >= 1
    known: dict = {}
    for number, start in enumerate(range(250, 500, 125)):
        bulk._store_chunk(account, data[start : start + 125], "test", known, staged_as=number)

    # then the segment engine sees the account as it was, windows built meanwhile included
    assert segment_members(account, parts) == before

    # and once the load ends, as a fresh evaluation over every receipt does
    staged_read_models_build(account=account)
    after = segment_members(account, parts)
    assert after != before
    purchase_windows_forget_unused(older_than=timedelta(0))
    assert segment_members(account, parts) == after


@pytest.mark.django_db(transaction=True)
def test_a_receipt_of_a_pending_load_moved_to_another_customer_leaves_the_buyers_as_the_facts_say(account):
    # given kept buyers of every group, and a load whose chunk is stored but whose read models are not built yet
    from receipts.services import changes

    data = generated()
    bulk.receipts_bulk_load(account=account, receipts=data[:200], created_by="test", workers=1)
    groups = list(ItemCode.objects.filter(account=account, kind="group").values_list("id", flat=True))
    assert code_buyers_ensure(account=account, codes=groups)
    bulk._store_chunk(account, data[200:300], "test", {}, staged_as=0)

    # when one of its purchases moves to another customer before the load ends, and then the load ends
    pending = [r.receipt_id for r in data[200:300] if r.customer_id and r.is_purchase]
    with transaction.atomic():
        moved = Receipt.objects.select_for_update().filter(account=account, receipt_id__in=pending).first()
        changes.receipt_change_customer(account=account, receipt=moved, new_customer_id="someone-new", actor="t")
    staged_read_models_build(account=account)

    # then the buyers' counts are what the facts say (which give the purchase to its first customer: the known limit)
    kept = buyers_kept(account, groups)
    assert kept == buyers_from_facts(account, groups) and len(kept) > 20
