"""Membership history for integrators: GET /api/{storeCode}/customer/{customerId}/segments, from the ledger, driven
through real runs for every reason a customer enters or leaves a segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segments.models import Segment, SegmentRun
from segments.services import segments as services
from segments.services.freshness import receipts_arrived
from segments.services.runs import segment_recalculate
from tests.receipts.factories import receipt

RECEIPTS = "/v1/accounts/T00000001/receipts"
HISTORY = "/api/T00000001/customer/{}/segments"
RECENT_3 = [{"criteria": [{"type": "last_purchase_n_days_before", "days": 3}]}]
AT_MOST_ONE = [{"criteria": [{"type": "transaction_count", "max": 1}]}]
AT_LEAST_5 = [{"criteria": [{"type": "transaction_count", "min": 5}]}]


def buy(api, customer_id: str, at: datetime) -> None:
    response = api.post(RECEIPTS, [receipt(customer_id=customer_id, purchase_at=at.isoformat())], format="json")
    assert response.status_code == 200, response.content


def run_queued(now: datetime) -> None:
    for run in SegmentRun.objects.filter(status="queued").order_by("created_at"):
        segment_recalculate(run_id=run.id, now=now)


def refresh(segment: Segment, now: datetime, trigger=SegmentRun.Trigger.MANUAL) -> None:
    segment.refresh_from_db()  # a run is for the definition version it is queued with
    services.segment_refresh(segment=segment, actor="t", trigger=trigger)
    run_queued(now)


def redefine(segment: Segment, parts, now: datetime) -> None:
    segment.refresh_from_db()
    services.segment_update(segment=segment, data={"name": segment.name, "parts": parts}, actor="t")
    run_queued(now)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def history(account, api):
    """Customer `a` enters and leaves `Recent` for each reason, and `Single` by definition and by new receipts."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    buy(api, "a", base - timedelta(days=2))
    recent = services.segment_create(account=account, data={"name": "Recent", "parts": RECENT_3}, actor="t")
    services.segment_create(account=account, data={"name": "Single", "parts": AT_MOST_ONE}, actor="t")
    run_queued(base)  # a enters both: definition_change
    refresh(recent, base + timedelta(days=2), SegmentRun.Trigger.SCHEDULED)  # a leaves Recent: time_window
    buy(api, "a", base + timedelta(days=2))
    assert receipts_arrived(account_id=account.pk) == 2
    run_queued(base + timedelta(days=2))  # a enters Recent, leaves Single: new_receipts
    redefine(recent, AT_LEAST_5, base + timedelta(days=3))  # a leaves Recent: definition_change
    redefine(recent, RECENT_3, base + timedelta(days=4))  # a enters Recent: definition_change
    refresh(recent, base + timedelta(days=10))  # a leaves Recent: manual
    buy(api, "a", base + timedelta(days=10))
    refresh(recent, base + timedelta(days=10))  # a enters Recent: manual
    return base


@pytest.mark.django_db(transaction=True)  # runs publish in transactions of their own
class TestCustomerSegments:
    def test_every_membership_newest_first_with_reasons(self, api, history):
        base = history

        response = api.get(HISTORY.format("a"))

        assert response.status_code == 200, response.content
        body = response.json()
        rows = [(i["name"], i["enteredAt"], i["enteredReason"], i["leftAt"], i["leftReason"]) for i in body["items"]]
        assert rows == [
            ("Recent", iso(base + timedelta(days=10)), "manual", None, None),
            ("Recent", iso(base + timedelta(days=4)), "definition_change", iso(base + timedelta(days=10)), "manual"),
            (
                "Recent",
                iso(base + timedelta(days=2)),
                "new_receipts",
                iso(base + timedelta(days=3)),
                "definition_change",
            ),
            ("Single", iso(base), "definition_change", iso(base + timedelta(days=2)), "new_receipts"),
            ("Recent", iso(base), "definition_change", iso(base + timedelta(days=2)), "time_window"),
        ]
        recent = Segment.objects.get(name="Recent")
        assert body["items"][0]["segmentId"] == str(recent.uuid)
        assert body["total"] == {"all": 5, "filtered": 5, "estimated": False}

    def test_current_lists_only_open_memberships(self, api, history):
        body = api.get(HISTORY.format("a"), {"current": "true"}).json()
        assert [(i["name"], i["leftAt"]) for i in body["items"]] == [("Recent", None)]
        assert body["total"] == {"all": 5, "filtered": 1, "estimated": False}
        assert len(api.get(HISTORY.format("a"), {"current": "false"}).json()["items"]) == 5

    def test_pages(self, api, history):
        first = api.get(HISTORY.format("a"), {"_itemsOnPage": 2}).json()
        third = api.get(HISTORY.format("a"), {"_itemsOnPage": 2, "_page": 3}).json()
        every = api.get(HISTORY.format("a")).json()["items"]
        assert first["items"] == every[:2] and third["items"] == every[4:]
        assert third["total"]["filtered"] == 5


@pytest.mark.django_db
class TestErrors:
    def test_an_unknown_customer_is_404_in_open_loyaltys_shape(self, api):
        response = api.get(HISTORY.format("nobody"))
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == 404 and body["message"]

    def test_another_accounts_customer_is_404(self, api, api_for, other_account):
        theirs = api_for(other_account)
        other_receipts = f"/v1/accounts/{other_account.aid}/receipts"
        assert theirs.post(other_receipts, [receipt(customer_id="theirs")], format="json").status_code == 200

        assert api.get(HISTORY.format("theirs")).status_code == 404
        assert api.get(f"/api/{other_account.aid}/customer/theirs/segments").status_code in (403, 404)

    def test_a_customer_without_memberships_is_an_empty_list(self, api):
        buy(api, "b", datetime.now(UTC))
        body = api.get(HISTORY.format("b")).json()
        assert body == {"items": [], "total": {"all": 0, "filtered": 0, "estimated": False}}

    @pytest.mark.parametrize(
        ("query", "path"), [({"current": "maybe"}, "current"), ({"_itemsOnPage": 51}, "_itemsOnPage")]
    )
    def test_bad_parameters_are_400_naming_them(self, api, query, path):
        buy(api, "b", datetime.now(UTC))
        response = api.get(HISTORY.format("b"), query)
        assert response.status_code == 400
        assert response.json()["errors"][0]["path"] == path

    def test_needs_a_segments_read_scope(self, api_for, account):
        client = api_for(account, ["read:receipts"])
        assert client.get(HISTORY.format("a")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_query_count_does_not_grow_with_the_memberships(api, history):
    with CaptureQueriesContext(connection) as few:
        assert api.get(HISTORY.format("a"), {"_itemsOnPage": 1}).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert api.get(HISTORY.format("a"), {"_itemsOnPage": 50, "current": "false"}).status_code == 200
    assert len(few) == len(many) == QUERIES, [q["sql"] for q in many.captured_queries]


QUERIES = 4  # the client with its account, the customer, the count, the page
