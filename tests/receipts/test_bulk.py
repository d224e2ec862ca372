"""The generator and the COPY bulk loader keep every read model exact."""

import hashlib
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from loyalty.core.jsonutil import dumps
from receipts.models import Customer, IngestBatch, ItemFact, Receipt
from receipts.services import bulk, store
from receipts.services.generator import GeneratorSpec, ReceiptGenerator
from tests.helpers import hang_as_stuck, stuck_process_gone
from tests.receipts.factories import line, receipt

END = datetime(2025, 6, 1, tzinfo=UTC)


def spec(**overrides) -> GeneratorSpec:
    return GeneratorSpec(
        **(
            {"receipts": 600, "customers": 60, "stores": 5, "days": 90, "items": 80, "groups": 8, "seed": 3, "end": END}
            | overrides
        )
    )


def test_the_generator_is_deterministic_and_realistic():
    first = list(ReceiptGenerator(spec()))
    second = list(ReceiptGenerator(spec()))

    assert [r.document for r in first] == [r.document for r in second]
    assert [r.purchase_at for r in first] == sorted(r.purchase_at for r in first)
    anonymous = sum(r.customer_id is None for r in first) / len(first)
    assert 0.12 < anonymous < 0.3
    assert all(1 <= r.item_count <= 15 for r in first)
    assert {r.entry_status for r in first} >= {"Concluded"}
    assert first[0].purchase_at >= END.replace(month=3)
    other_seed = list(ReceiptGenerator(spec(seed=4)))
    assert [r.document for r in other_seed] != [r.document for r in first]


def test_generated_receipts_are_what_parsing_their_documents_gives():
    from receipts.documents import parse_receipt

    generated = list(ReceiptGenerator(spec(items=400, groups=30)))

    assert [parse_receipt(r.index, r.document) for r in generated] == generated
    assert any(r.profile for r in generated) and any(len(r.codes) > r.item_count + 1 for r in generated)


def test_the_generator_output_for_a_seed_does_not_change():
    # The benchmark dataset is reused by a key (tests/bench/dataset.py): a change here must bump DATASET_VERSION.
    digest = hashlib.sha256()
    for r in ReceiptGenerator(spec()):
        digest.update(dumps(r.document).encode())

    assert digest.hexdigest() == "91582da680ebd22e82157665c42c91dd62de669c621521b3cc24cd9959a030f3"


def test_shards_of_the_generator_cover_every_receipt_once_and_repeat_for_a_seed():
    big = spec(receipts=25_000, customers=300)

    def shards():
        return [[r for chunk in ReceiptGenerator(big).chunks(k, 2) for r in chunk] for k in (0, 1)]

    first, again = shards(), shards()
    numbers = sorted(r.index for shard in first for r in shard)
    assert numbers == list(range(1, 25_001))
    assert [r.index for r in first[0]][:3] == [1, 2, 3] and first[1][0].index == 10_001
    assert [[r.document for r in s] for s in first] == [[r.document for r in s] for s in again]
    assert [r.document for r in first[0][:10_000]] != [r.document for r in list(ReceiptGenerator(big))[:10_000]]


def _expected_counters(receipts):
    expected: dict[str, list] = {}
    for r in receipts:
        if r.customer_id is None:
            continue
        row = expected.setdefault(r.customer_id, [0, 0, 0])
        row[0] += 1
        if r.is_purchase:
            row[1] += 1
            row[2] += r.net_amount
    return expected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [1, 2])
def test_bulk_load_matches_what_the_receipts_say(account, workers):
    generated = list(ReceiptGenerator(spec()))

    result = bulk.receipts_bulk_load(
        account=account, receipts=generated, created_by="test", chunk_size=150, workers=workers
    )

    assert (result.received, result.stored, result.duplicates) == (600, 600, 0)
    assert Receipt.objects.filter(account=account).count() == 600
    counters = {
        c.customer_id: [c.receipts_count, c.purchases, c.net_total] for c in Customer.objects.filter(account=account)
    }
    assert counters == _expected_counters(generated)
    expected_facts = sum(len(r.codes) for r in generated if r.customer_id and r.is_purchase)
    assert ItemFact.objects.filter(account=account).count() == expected_facts
    assert Customer.objects.filter(account=account, first_name="").count() == 0
    assert IngestBatch.objects.filter(account=account).count() == 4


@pytest.mark.django_db(transaction=True)
def test_loading_again_stores_nothing_new(account):
    generated = list(ReceiptGenerator(spec(receipts=200)))
    bulk.receipts_bulk_load(account=account, receipts=generated, created_by="test", workers=1)
    before = list(Customer.objects.filter(account=account).order_by("id").values_list("purchases", "net_total"))

    again = bulk.receipts_bulk_load(account=account, receipts=generated, created_by="test", workers=1)

    assert (again.stored, again.duplicates) == (0, 200)
    assert list(Customer.objects.filter(account=account).order_by("id").values_list("purchases", "net_total")) == before


@pytest.mark.django_db(transaction=True)
def test_a_receipt_stored_by_someone_else_meanwhile_is_skipped(account, api, monkeypatch):
    # given a receipt the bulk loader has not seen when it checked for duplicates
    generated = list(ReceiptGenerator(spec(receipts=50)))
    clash = generated[10].document
    assert api.post("/v1/accounts/T00000001/receipts", [clash], format="json").status_code == 200
    monkeypatch.setattr(store, "_existing_keys", lambda cur, account_id, keys: [])

    result = bulk.receipts_bulk_load(account=account, receipts=generated, created_by="test", workers=1)

    assert (result.stored, result.duplicates) == (49, 1)
    assert Receipt.objects.filter(account=account).count() == 50
    assert Counter(Receipt.objects.values_list("receipt_id", flat=True)).most_common(1)[0][1] == 1
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_chunk_inside_its_transaction_does_not_hold_up_another_with_the_same_new_item(account, monkeypatch):
    # given two chunks of different customers that both bring a new item (and its new group)
    from receipts.documents import parse_receipt
    from receipts.models import ItemCode
    from receipts.services import read_models as rm

    def chunk(customer_id: str) -> list:
        items = [line("new-item", groups=("new-group",))]
        return [parse_receipt(0, receipt(customer_id=customer_id, items=items))]

    first, second = chunk("first"), chunk("second")
    # and the first chunk stopped inside its transaction, just before it updates its customer
    inside, release = threading.Event(), threading.Event()
    add_batch = rm.customers_add_batch

    def pausing(cur, stored):
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(30)
        return add_batch(cur, stored)

    monkeypatch.setattr(rm, "customers_add_batch", pausing)
    outcome: dict[str, int] = {}

    def load(name: str, receipts: list) -> None:
        try:
            outcome[name] = bulk._store_chunk(account, receipts, "test", {})
        finally:
            connection.close()

    paused = threading.Thread(target=load, args=("first", first), name="first")
    paused.start()
    try:
        assert inside.wait(30)
        # when the second chunk is stored meanwhile
        other = threading.Thread(target=load, args=("second", second), name="second")
        other.start()
        other.join(20)
        # then it did not wait for the first one's commit (the new codes were committed before either transaction)
        assert not other.is_alive() and outcome.get("second") == 1
    finally:
        release.set()
        paused.join(30)
    assert outcome == {"first": 1, "second": 1}
    assert ItemCode.objects.filter(account=account, value__in=["new-item", "new-group"]).count() == 2
    assert ItemFact.objects.filter(account=account, code__value="new-item").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_stored_receipt_in_a_chunk_is_skipped_exactly(account, api):
    # given a stored receipt in the middle of a chunk, stored with a customer of its own: the one on the generated
    # copy has no other receipt, so creating it would leave a customer without receipts
    generated = list(ReceiptGenerator(spec(receipts=50)))
    once = Counter(r.customer_id for r in generated)
    clash = next(r for r in generated[5:20] if r.customer_id and once[r.customer_id] == 1)
    other = clash.document | {"customer_id": "other"}
    assert api.post("/v1/accounts/T00000001/receipts", [other], format="json").status_code == 200
    probes = []
    existing_keys = store._existing_keys

    def counting(cur, account_id, keys):
        probes.append(len(keys))
        return existing_keys(cur, account_id, keys)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "_existing_keys", counting)
        result = bulk.receipts_bulk_load(account=account, receipts=generated, created_by="test", workers=1)

    assert (result.stored, result.duplicates) == (49, 1)
    assert probes == [50]  # one probe of every key of the chunk
    assert not Customer.objects.filter(customer_id=clash.customer_id).exists()
    assert Receipt.objects.get(receipt_id=clash.receipt_id).customer_id == "other"
    stored = [r for r in generated if r is not clash]
    counters = {
        c.customer_id: [c.receipts_count, c.purchases, c.net_total]
        for c in Customer.objects.filter(account=account).exclude(customer_id="other")
    }
    assert counters == _expected_counters(stored)


@pytest.mark.django_db(transaction=True)
def test_generate_receipts_command(account):
    out = StringIO()
    call_command(
        "generate_receipts",
        "--account",
        "T00000001",
        "--receipts",
        "300",
        "--customers",
        "40",
        "--stores",
        "3",
        "--days",
        "30",
        "--items",
        "50",
        "--groups",
        "5",
        stdout=out,
    )
    assert "300 receipts stored" in out.getvalue()
    assert Receipt.objects.values("store_id").distinct().count() == 3

    with pytest.raises(CommandError, match="T00000002 does not exist"):
        call_command("generate_receipts", "--account", "T00000002")


@pytest.mark.django_db
def test_api_ingest_and_bulk_load_agree(account, api):
    from receipts.documents import parse_receipt

    docs = [receipt(customer_id=f"c{i % 3}", net_amount=100 * i) for i in range(1, 10)]
    assert api.post("/v1/accounts/T00000001/receipts", docs[:5], format="json").status_code == 200
    bulk.receipts_bulk_load(
        account=account, receipts=[parse_receipt(i, d) for i, d in enumerate(docs)], created_by="t", workers=1
    )

    totals = dict(Customer.objects.values_list("customer_id", "net_total"))
    assert totals == {f"c{k}": sum(100 * i for i in range(1, 10) if i % 3 == k) for k in range(3)}


@pytest.mark.django_db(transaction=True)
def test_bulk_load_and_api_ingest_leave_the_same_customers(account, other_account, api):
    generated = list(ReceiptGenerator(spec()))
    for start in range(0, len(generated), 200):
        batch = [r.document for r in generated[start : start + 200]]
        assert api.post("/v1/accounts/T00000001/receipts", batch, format="json").status_code == 200

    bulk.receipts_bulk_load(account=other_account, receipts=generated, created_by="test", chunk_size=150, workers=1)

    def customers(of):
        rows = Customer.objects.filter(account=of).order_by("customer_id").values()
        return [
            {k: v for k, v in row.items() if k not in ("id", "account_id", "created_at", "updated_at")} for row in rows
        ]

    ingested, loaded = customers(account), customers(other_account)
    assert len(ingested) > 50 and all(c["profile_at"] and c["purchases"] for c in ingested)
    assert loaded == ingested


@pytest.mark.django_db(transaction=True)
def test_import_receipts_validates_and_reports(account, tmp_path):
    import json

    good = [receipt(customer_id="c1"), receipt(customer_id=None)]
    bad = receipt()
    bad["purchase_at"] = "soon"
    path = tmp_path / "receipts.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in [good[0], bad, good[1]]) + "\n{broken\n")

    with pytest.raises(CommandError, match="line 2: purchase_at must be a date-time"):
        call_command("import_receipts", str(path), "--account", "T00000001", stdout=StringIO())
    assert Receipt.objects.count() == 0

    out, err = StringIO(), StringIO()
    call_command("import_receipts", str(path), "--account", "T00000001", "--skip-invalid", stdout=out, stderr=err)
    assert "2 receipts stored" in out.getvalue() and "2 invalid skipped" in out.getvalue()
    assert "line 4: (receipt) not JSON" in err.getvalue()
    assert Receipt.objects.count() == 2 and Customer.objects.get().purchases == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("processes", [1, 2, 3])
def test_import_stops_at_the_first_bad_chunk_whatever_the_loaders_timing(account, tmp_path, processes):
    # given 5 chunks of 3 lines, the only bad line in the third chunk (line 8)
    import json

    documents = [receipt(customer_id=f"c{n % 4}") for n in range(15)]
    lines = [json.dumps(d) for d in documents]
    lines[7] = lines[7].replace('"purchase_at"', '"purchase_at_typo"')
    path = tmp_path / "receipts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    args = [str(path), "--account", "T00000001", "--chunk-size", "3", "--processes", str(processes)]

    # when it is imported, then the chunks before the bad one are stored and nothing from it on
    with pytest.raises(
        CommandError,
        match=r"line 8: purchase_at is required \(stopped: 6 receipts of the chunks before it were stored\)",
    ):
        call_command("import_receipts", *args, stdout=StringIO())
    stored = set(Receipt.objects.values_list("receipt_id", flat=True))
    assert stored == {d["receipt_id"] for d in documents[:6]}
    assert sum(Customer.objects.values_list("receipts_count", flat=True)) == 6

    # and with --skip-invalid every other line of every chunk is stored, the stored ones as duplicates
    out = StringIO()
    call_command("import_receipts", *args, "--skip-invalid", stdout=out, stderr=StringIO())
    assert "8 receipts stored, 6 duplicates, 1 invalid skipped" in out.getvalue()
    assert Receipt.objects.count() == 14
    assert IngestBatch.objects.filter(account=account).count() == 2 + 3  # one per chunk that stored something


@pytest.mark.django_db(transaction=True)
def test_a_failing_loader_process_fails_the_load(account, tmp_path):
    # given a source whose third chunk cannot be prepared
    from receipts.services.generator import GeneratedChunks

    class Broken(GeneratedChunks):
        def prepare(self, task, *, shard, shards):
            if task == 2:
                raise ValueError("chunk 2 is broken")
            return super().prepare(task, shard=shard, shards=shards)

    source = Broken(spec(receipts=40_000, customers=100))

    with pytest.raises(bulk.LoaderFailed, match="chunk 2 is broken"):
        bulk.receipts_load_parallel(account=account, source=source, created_by="test", processes=2)
    # the chunks before it (10,000 each) may be stored; nothing of the broken one or after it
    assert Receipt.objects.count() in (0, 10_000, 20_000)
    assert not Receipt.objects.filter(receipt_id__in=[f"3-{n}" for n in (20_001, 30_001)]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunk_handed_out_past_the_stop_is_skipped_though_one_before_it_never_was(account, monkeypatch):
    # given three loaders, where chunk 0 stores slowly, so loader 1 finishes chunk 1 and is handed chunk 4 while
    # chunk 3 waits for loader 0; then chunk 2 has a problem, which stops the load before chunk 3 is handed out
    from receipts.services import generator
    from receipts.services.generator import GeneratedChunks

    class BadThird(GeneratedChunks):
        def prepare(self, task, *, shard, shards):
            receipts, problems = super().prepare(task, shard=shard, shards=shards)
            if task == 2:
                time.sleep(1.0)
                return receipts, ["chunk 2 has a bad line"]
            return receipts, problems

    store_chunk = bulk._store_chunk

    def chunk_0_slowly(account, chunk, created_by, known_codes, staged_as=None):
        if staged_as == 0:
            time.sleep(2.0)
        return store_chunk(account, chunk, created_by, known_codes, staged_as)

    monkeypatch.setattr(bulk, "_store_chunk", chunk_0_slowly)
    monkeypatch.setattr(generator, "CHUNK", 100)  # five chunks
    monkeypatch.setattr(bulk, "LOADER_SILENCE_LIMIT", 20.0)
    source = BadThird(spec(receipts=500, customers=50))

    # when it is loaded, the load stops at chunk 2 (chunk 4 is skipped, not waited for)
    result = bulk.receipts_load_parallel(account=account, source=source, created_by="t", processes=3)

    # then chunks 0 and 1 are stored, and nothing after them
    assert result.stopped and result.problems == ["chunk 2 has a bad line"]
    assert Receipt.objects.count() == 200


@pytest.mark.django_db(transaction=True)
def test_a_stuck_loader_process_fails_the_load_instead_of_holding_it(account, tmp_path, monkeypatch):
    # given a source whose second chunk never finishes preparing (a child stuck on a lock it inherited, say)
    from receipts.services.generator import GeneratedChunks

    class Stuck(GeneratedChunks):
        def prepare(self, task, *, shard, shards):
            if task == 1:
                hang_as_stuck(tmp_path / "stuck.pid")
            return super().prepare(task, shard=shard, shards=shards)

    monkeypatch.setattr(bulk, "LOADER_SILENCE_LIMIT", 1.0)

    # when it is loaded, the load fails once no loader has answered for the limit
    with pytest.raises(bulk.LoaderFailed, match="no loader process answered for 1 s"):
        bulk.receipts_load_parallel(account=account, source=Stuck(spec(receipts=40_000, customers=100)), created_by="t")

    # and the stuck process is gone
    assert stuck_process_gone(tmp_path / "stuck.pid")


@pytest.mark.django_db
def test_loader_processes_refuse_to_run_inside_a_transaction(account):
    from receipts.services.generator import GeneratedChunks

    with pytest.raises(RuntimeError, match="must not run inside a transaction"):
        bulk.receipts_load_parallel(account=account, source=GeneratedChunks(spec()), created_by="test")
    assert not Receipt.objects.exists()
