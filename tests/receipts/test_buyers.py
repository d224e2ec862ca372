"""Code buyers: who ever bought a code and how often, kept once a criterion asks about it, always what the item
facts say."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from receipts.models import CodeBuyer, ItemCode, Receipt
from receipts.readmodels.buyers import code_buyers_ensure, code_buyers_forget_unused
from receipts.readmodels.windows import windows_lock_key
from receipts.services import changes
from receipts.services.bulk import receipts_bulk_load
from receipts.services.generator import GeneratorSpec, ReceiptGenerator
from tests.helpers import buyers_from_facts, buyers_kept, db_dsn, sessions_blocked_by, wait_until
from tests.receipts.factories import line, receipt

END = datetime(2025, 6, 1, tzinfo=UTC)


def codes_of(account, kind: str, values: list[str]) -> list[int]:
    return list(ItemCode.objects.filter(account=account, kind=kind, value__in=values).values_list("id", flat=True))


@pytest.fixture
def history(account):
    spec = GeneratorSpec(receipts=1500, customers=200, stores=4, days=60, items=40, groups=5, seed=4, end=END)
    receipts_bulk_load(account=account, receipts=ReceiptGenerator(spec), created_by="t", workers=1)
    return account


@pytest.mark.django_db(transaction=True)
def test_buyers_are_built_on_first_use_and_kept_current_by_every_ingest(history, other_account, api):
    # given the buyers of two groups, an item and a store, built from the facts
    account = history
    codes = codes_of(account, "group", ["G0001", "G0002"]) + codes_of(account, "item", ["I000003"])
    codes += codes_of(account, "store", ["S001"])
    code_buyers_ensure(account=account, codes=codes)
    assert buyers_kept(account, codes) == buyers_from_facts(account, codes) and len(buyers_kept(account, codes)) > 100
    assert ItemCode.objects.filter(id__in=codes, buyers_since__isnull=False).count() == 4

    # when more receipts arrive, by bulk load (new customers among them) and through the API
    more = GeneratorSpec(receipts=900, customers=300, stores=4, days=20, items=40, groups=5, seed=5, end=END)
    receipts_bulk_load(account=account, receipts=ReceiptGenerator(more), created_by="t", chunk_size=200, workers=2)
    posted = [
        receipt(customer_id=f"new-{n}", store_id="S001", items=[line("I000003", groups=("G0002",))]) for n in (1, 2)
    ]
    posted.append(receipt(customer_id="new-3", store_id="S001", entry_status="Voided"))  # not a purchase
    assert api.post("/v1/accounts/T00000001/receipts", posted, format="json").status_code == 200

    # then the kept buyers are still exactly what the facts say, for this account only
    assert buyers_kept(account, codes) == buyers_from_facts(account, codes)
    assert {customer for _, customer in buyers_kept(account, codes_of(account, "item", ["I000003"]))} >= set(
        account.customers.filter(customer_id__in=["new-1", "new-2"]).values_list("id", flat=True)
    )
    assert not account.customers.filter(customer_id="new-3", id__in=CodeBuyer.objects.values("customer")).exists()
    assert not CodeBuyer.objects.exclude(account=account).exists()


@pytest.mark.django_db(transaction=True)
def test_a_claimed_receipt_adds_its_buyer_and_a_moved_one_moves_it(account):
    # given receipts with the same item and group (one anonymous, two of kari's), whose buyers are kept
    from receipts.services.ingest import receipt_ingest

    docs = [
        receipt(receipt_id="anon", customer_id=None, items=[line("sku-9", groups=("g-9",))]),
        receipt(receipt_id="kari-1", customer_id="kari", items=[line("sku-9", groups=("g-9",))]),
        receipt(receipt_id="kari-2", customer_id="kari", items=[line("sku-2", groups=("g-9",))]),
        receipt(receipt_id="ola", customer_id="ola", items=[line("sku-1")]),
    ]
    receipt_ingest(account=account, documents=docs, created_by="t")
    item, group = codes_of(account, "item", ["sku-9"]), codes_of(account, "group", ["g-9"])
    codes = item + group + codes_of(account, "item", ["sku-2"])
    code_buyers_ensure(account=account, codes=codes)
    assert buyers_kept(account, codes) == buyers_from_facts(account, codes)
    kari, ola = (account.customers.get(customer_id=c).pk for c in ("kari", "ola"))

    # when the anonymous one is given to a customer, the buyers follow at once
    with transaction.atomic():
        anon = Receipt.objects.get(receipt_id="anon")
        changes.receipt_update_anonymous(account=account, receipt=anon, customer_id="ola", discounts=None, actor="t")
    assert buyers_kept(account, codes) == buyers_from_facts(account, codes)
    assert {c for _, c in buyers_kept(account, item)} == {kari, ola}

    # when one of kari's receipts moves to ola, kari no longer bought sku-9 but still bought from g-9
    with transaction.atomic():
        moved = Receipt.objects.get(receipt_id="kari-1")
        changes.receipt_change_customer(account=account, receipt=moved, new_customer_id="ola", actor="t")
    assert buyers_kept(account, codes) == buyers_from_facts(account, codes)
    assert {c for _, c in buyers_kept(account, item)} == {ola} and {c for _, c in buyers_kept(account, group)} == {
        kari,
        ola,
    }
    assert buyers_kept(account, group) == {(group[0], kari): 1, (group[0], ola): 2}
    assert ItemCode.objects.filter(id__in=codes, buyers_since__isnull=False).count() == 3


@pytest.mark.django_db(transaction=True)
def test_buyers_nobody_used_lately_are_dropped(history):
    account = history
    used, idle = codes_of(account, "group", ["G0001"]), codes_of(account, "group", ["G0002"])
    code_buyers_ensure(account=account, codes=used + idle)
    ItemCode.objects.filter(id__in=idle).update(buyers_used_at=timezone.now() - timedelta(days=2))

    assert code_buyers_forget_unused() == 1

    assert buyers_kept(account, idle) == {} and buyers_kept(account, used) == buyers_from_facts(account, used)
    assert ItemCode.objects.get(id=idle[0]).buyers_since is None


@pytest.mark.django_db
def test_inside_a_transaction_buyers_are_not_built_and_criteria_read_the_facts(history):
    # given a code whose buyers are not kept, and a transaction around everything (as a test's)
    from segments import engine
    from segments.criteria import validate_definition

    codes = codes_of(history, "group", ["G0001"])
    parts = validate_definition(
        [{"criteria": [{"type": "bought_labels", "labels": [{"key": "group", "value": "G0001"}]}]}]
    )

    # when a lifetime criterion is evaluated, then nothing is built and the members come from the facts
    assert code_buyers_ensure(account=history, codes=codes) is False
    members = set(engine.matching_customers(account=history, parts=parts).values_list("id", flat=True))
    assert members == {customer for _, customer in buyers_from_facts(history, codes)} and members
    assert not CodeBuyer.objects.exists() and not ItemCode.objects.filter(buyers_since__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_forgetting_waits_for_an_ingest_that_saw_the_code_kept(history):
    # given a code nobody used lately, and an ingest in flight (it holds the windows' lock shared, as every write of
    # receipts does, and may have read the code as kept)
    account = history
    idle = codes_of(account, "group", ["G0001"])
    code_buyers_ensure(account=account, codes=idle)
    ItemCode.objects.filter(id__in=idle).update(buyers_used_at=timezone.now() - timedelta(days=2))
    ingest = psycopg.connect(**db_dsn(), autocommit=False)
    ingest.execute("SELECT pg_advisory_xact_lock_shared(%s)", [windows_lock_key(account.pk)])
    outcome: dict = {}

    def forget():
        try:
            outcome["forgotten"] = code_buyers_forget_unused()
        finally:
            connection.close()

    # when the buyers are forgotten meanwhile
    forgetting = threading.Thread(target=forget)
    forgetting.start()
    try:
        wait_until(lambda: sessions_blocked_by(ingest), message="the forget to wait for the ingest")
        # then nothing is forgotten until the ingest has committed its buyer rows
        assert buyers_kept(account, idle) == buyers_from_facts(account, idle)
    finally:
        ingest.commit()
        ingest.close()
        forgetting.join(timeout=60)
    assert outcome["forgotten"] == 1
    assert buyers_kept(account, idle) == {} and ItemCode.objects.get(id=idle[0]).buyers_since is None
