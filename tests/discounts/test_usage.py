"""Usage from receipts posted to the Receipts API: exactly once, a claim and its receipt as one purchase, through
the outbox (service, task on a real worker, sweep)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from discounts import selectors
from discounts.models import DiscountRef, DiscountUsage, UsageCursor
from discounts.services.usage import receipts_arrived, receipts_sweep
from receipts.models import IngestBatch
from tests.discounts.factories import discount, give, rule
from tests.receipts.factories import receipt

RECEIPTS = "/v1/accounts/T00000001/receipts"
CLAIMS = "/v1/accounts/T00000001/discounts/available_for_receipt/claims"


def held(account, customer="c1", **limitation):
    made = rule(account, discount(limitation=limitation) if limitation else discount())
    give(account, made, customer)
    return made, DiscountRef.objects.get(rule=made, customer_id=customer)


def with_refs(made, *refs: dict) -> dict:
    """A receipt's `discounts[]` entry as available_for_receipt answers it: the rule and the refs it used."""
    return {**selectors.rule_to_api(made), "refs": list(refs)}


def post_receipts(api, *documents) -> dict:
    response = api.post(RECEIPTS, list(documents), format="json")
    assert response.status_code == 200, response.content
    return response.json()


def rows(ref) -> list[tuple]:
    return sorted(
        DiscountUsage.objects.filter(ref=ref).values_list(
            "source", "customer_id", "purchase_key", "usage", "amount", "bonus", "stamp"
        )
    )


@pytest.mark.django_db
class TestReceiptsArrived:
    def test_a_receipts_refs_become_usage_once(self, api, account):
        made, ref = held(account)
        document = receipt(
            receipt_id="R-1",
            customer_id="c1",
            discounts=[with_refs(made, {"id": str(ref.id), "amount": 2500, "bonus": 10, "stamp": 1, "usage": 1})],
        )
        post_receipts(api, document)

        assert receipts_arrived(account_id=account.pk) == 1
        assert rows(ref) == [("receipt_add", "c1", "R-1", 1, 2500, 10, 1)]
        # the batch read again, and the receipt posted again (stored once), add nothing
        assert receipts_arrived(account_id=account.pk) == 0
        assert post_receipts(api, document)["duplicates"] == 1
        assert receipts_arrived(account_id=account.pk) == 0
        UsageCursor.objects.filter(account=account).update(last_batch=0, recent=[])
        assert receipts_arrived(account_id=account.pk) == 0
        assert len(rows(ref)) == 1

    def test_a_claimed_purchase_counts_once(self, api, account):
        made, ref = held(account, discount_repeat_usage=2)
        claim = {
            "ref": "R-7",
            "purchase_at": "2024-05-01T12:00:00Z",
            "customer_id": "c1",
            "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": 2500, "usage": 1}]}],
        }
        assert api.post(CLAIMS, claim, format="json").status_code == 200
        post_receipts(
            api,
            receipt(
                receipt_id="R-7",
                customer_id="c1",
                discounts=[with_refs(made, {"id": str(ref.id), "amount": 2500, "usage": 1})],
            ),
        )
        receipts_arrived(account_id=account.pk)

        assert [r[0] for r in rows(ref)] == ["claim", "receipt_add"]
        statistics = api.get(f"/v1/accounts/T00000001/discounts/rules/{made.id}").json()["statistics"]
        assert (statistics["usage"], statistics["amount"]) == (1, 2500)
        # one purchase so far: the ref has one more
        claim2 = {**claim, "ref": "R-8"}
        assert api.post(CLAIMS, claim2, format="json").status_code == 200

    def test_refs_the_receipts_customer_does_not_hold_are_not_theirs_to_use(self, api, account, other_account):
        made, ref = held(account, "c1")
        everyone, star = held(account, "*")
        anonymous, slash = held(account, "/")
        foreign_rule, foreign = held(other_account, "c2")
        entries = [
            with_refs(made, {"id": str(ref.id), "amount": 100}),  # c1's: not c2's to use
            with_refs(everyone, {"id": str(star.id), "amount": 200}),
            with_refs(anonymous, {"id": str(slash.id), "amount": 300}),
            with_refs(foreign_rule, {"id": str(foreign.id), "amount": 400}),  # another account's
            with_refs(made, {"id": "not-a-ref", "amount": 500}),
            {**with_refs(everyone, {"id": str(star.id), "amount": 600}), "id": str(made.id)},  # wrong rule
        ]
        post_receipts(api, receipt(receipt_id="R-2", customer_id="c2", discounts=entries))

        receipts_arrived(account_id=account.pk)

        assert rows(ref) == [] and rows(foreign) == []
        assert rows(star) == [("receipt_add", "c2", "R-2", 1, 200, 0, 0)]
        assert rows(slash) == [("receipt_add", "c2", "R-2", 1, 300, 0, 0)]

    def test_an_anonymous_receipt_uses_slash_refs_only(self, api, account):
        everyone, star = held(account, "*")
        anonymous, slash = held(account, "/")
        entries = [with_refs(everyone, {"id": str(star.id)}), with_refs(anonymous, {"id": str(slash.id), "usage": 2})]
        post_receipts(api, receipt(receipt_id="R-3", customer_id=None, discounts=entries))

        receipts_arrived(account_id=account.pk)

        assert rows(star) == []
        assert rows(slash) == [("receipt_add", None, "R-3", 2, 0, 0, 0)]

    def test_voided_receipts_record_no_usage(self, api, account):
        made, ref = held(account)
        document = receipt(customer_id="c1", discounts=[with_refs(made, {"id": str(ref.id), "amount": 100})])
        document["entry_status"] = "Voided"
        post_receipts(api, document)

        receipts_arrived(account_id=account.pk)

        assert rows(ref) == []

    def test_discounts_added_to_an_anonymous_receipt_later_count(self, api, account):
        made, ref = held(account)
        post_receipts(api, receipt(receipt_id="R-4", customer_id=None))
        receipts_arrived(account_id=account.pk)

        response = api.put(
            f"{RECEIPTS}/all/R-4",
            {"customer_id": "c1", "discounts": [with_refs(made, {"id": str(ref.id), "amount": 700})]},
            format="json",
        )
        assert response.status_code == 200, response.content
        receipts_arrived(account_id=account.pk)

        assert rows(ref) == [("receipt_add", "c1", "R-4", 1, 700, 0, 0)]

    def test_the_cursor_moves_past_settled_batches_only(self, api, account):
        made, ref = held(account)
        post_receipts(api, receipt(customer_id="c1", discounts=[with_refs(made, {"id": str(ref.id)})]))
        receipts_arrived(account_id=account.pk)
        batch = IngestBatch.objects.get(account=account)
        cursor = UsageCursor.objects.get(account=account)
        assert (cursor.last_batch, cursor.recent) == (0, [batch.pk])

        IngestBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(hours=1))
        receipts_arrived(account_id=account.pk)

        cursor.refresh_from_db()
        assert (cursor.last_batch, cursor.recent) == (batch.pk, [])

    def test_the_sweep_catches_up_every_account(self, api, api_for, account, other_account):
        made, ref = held(account)
        theirs, their_ref = held(other_account, "c9")
        post_receipts(api, receipt(customer_id="c1", discounts=[with_refs(made, {"id": str(ref.id)})]))
        their_receipts = api_for(other_account).post(
            "/v1/accounts/T00000099/receipts",
            [receipt(customer_id="c9", discounts=[with_refs(theirs, {"id": str(their_ref.id)})])],
            format="json",
        )
        assert their_receipts.status_code == 200, their_receipts.content

        assert receipts_sweep() == 2

        assert len(rows(ref)) == 1 and len(rows(their_ref)) == 1
        assert receipts_sweep() == 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_posted_receipt_is_recorded_by_the_worker(api, account, celery_worker, wait_for):
    made, ref = held(account)

    post_receipts(api, receipt(customer_id="c1", discounts=[with_refs(made, {"id": str(ref.id), "amount": 900})]))

    wait_for(lambda: DiscountUsage.objects.filter(ref=ref).exists(), timeout=60, message="usage from the receipt")
    assert rows(ref)[0][4] == 900
    assert UsageCursor.objects.get(account=account).recent == [IngestBatch.objects.get(account=account).pk]


def test_the_sweep_runs_every_minute_in_beat():
    from django.conf import settings

    from loyalty.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["discounts.usage_sweep"] == 60.0
    app.loader.import_default_modules()
    assert {"discounts.usage_sweep", "discounts.receipts_arrived"} <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_loaded_receipt_records_its_usage_too(account):
    """A bulk load builds its batch rows when it ends; they name the receipts that used discounts like an API batch."""
    from receipts.documents import parse_receipt
    from receipts.services.bulk import receipts_bulk_load

    made, ref = held(account)
    used = receipt(receipt_id="B-1", customer_id="c1", discounts=[with_refs(made, {"id": str(ref.id), "amount": 700})])
    plain = receipt(receipt_id="B-2", customer_id="c1")
    receipts_bulk_load(
        account=account, receipts=[parse_receipt(0, used), parse_receipt(1, plain)], created_by="t", workers=1
    )

    assert receipts_arrived(account_id=account.pk) == 1
    assert rows(ref) == [("receipt_add", "c1", "B-1", 1, 700, 0, 0)]
