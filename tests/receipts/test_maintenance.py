"""The item facts' index is rebuilt when its estimated fill drifted low, and only then."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from receipts.models import ItemFact
from receipts.readmodels import maintenance
from receipts.services import bulk
from receipts.services.generator import GeneratorSpec, ReceiptGenerator


def test_an_entry_takes_its_aligned_columns_plus_header_and_line_pointer():
    # bigint, int, timestamptz: 8 header + 8, 4, (pad 4) 8 = 32, plus a 4-byte line pointer
    assert maintenance.entry_bytes([(8, "d"), (4, "i"), (8, "d")]) == 36
    assert maintenance.entry_bytes([(4, "i")]) == 16 + 4
    assert maintenance.entry_bytes([(4, "i"), (-1, "i")]) is None


def _analyze() -> None:
    with connection.cursor() as cur:
        cur.execute("ANALYZE receipts_itemfact")


@pytest.mark.django_db(transaction=True)
def test_a_loosely_filled_index_is_rebuilt_packed_and_keeps_every_fact(account):
    # given facts stored in many small batches, time-ordered: each code's entries split its last page in half
    spec = GeneratorSpec(
        receipts=4_000,
        customers=300,
        stores=5,
        days=60,
        items=300,
        groups=20,
        seed=5,
        end=datetime(2025, 6, 1, tzinfo=UTC),
    )
    bulk.receipts_bulk_load(
        account=account, receipts=ReceiptGenerator(spec), created_by="test", chunk_size=40, workers=1
    )
    _analyze()
    loose = maintenance.item_facts_index_fill()
    assert loose is not None and loose.rows == ItemFact.objects.count()
    facts = sorted(ItemFact.objects.values_list("code", "purchase_at", "customer", "receipt"))

    # when the maintenance task finds it under the threshold
    assert maintenance.item_facts_repack(below=loose.fill + 0.01, min_pages=1) == loose

    # then it is rebuilt packed, with the same facts, and the next check leaves it alone
    _analyze()
    packed = maintenance.item_facts_index_fill()
    assert packed is not None and packed.name == loose.name
    assert packed.pages < loose.pages and packed.fill > 0.8 > loose.fill
    assert sorted(ItemFact.objects.values_list("code", "purchase_at", "customer", "receipt")) == facts
    assert maintenance.item_facts_repack(min_pages=1) is None


@pytest.mark.django_db(transaction=True)
def test_small_or_well_filled_indexes_are_left_alone(account):
    spec = GeneratorSpec(receipts=300, customers=30, stores=2, days=10, items=40, groups=4, seed=5)
    bulk.receipts_bulk_load(account=account, receipts=ReceiptGenerator(spec), created_by="test", workers=1)
    _analyze()
    found = maintenance.item_facts_index_fill()
    assert found is not None

    assert maintenance.item_facts_repack(below=found.fill + 0.01) is None  # fewer pages than worth it
    assert maintenance.item_facts_repack(below=found.fill - 0.01, min_pages=1) is None  # full enough
    _analyze()
    assert maintenance.item_facts_index_fill() == found


@pytest.mark.django_db
def test_repacking_refuses_to_run_inside_a_transaction():
    with pytest.raises(RuntimeError, match="inside a transaction"):
        maintenance.item_facts_repack()
