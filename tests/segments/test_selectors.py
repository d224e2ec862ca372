"""The segment selectors: reads only, NotFound for what is not there, and a preview that writes nothing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from loyalty.core.errors import NotFound
from receipts.models import Customer, PurchaseWindow
from segments import engine, selectors
from segments.criteria import CRITERIA
from segments.models import MembershipSpan, Segment
from segments.services.preview import preview_prepare
from segments.services.runs import segment_recalculate
from segments.services.segments import segment_create
from tests.receipts.factories import receipt

pytestmark = pytest.mark.django_db

RECEIPTS = "/v1/accounts/T00000001/receipts"
IN_PERIOD = {"type": "transaction_count_in_period", "min": 1, "fromDate": "2024-05-01", "toDate": "2024-05-31"}
WRITES = ("INSERT", "UPDATE", "DELETE", "ANALYZE", "VACUUM", "CREATE")


def post(api, *docs):
    assert api.post(RECEIPTS, list(docs), format="json").status_code == 200


@pytest.fixture
def segment(account) -> Segment:
    return segment_create(account=account, data={"name": "s", "parts": [{"criteria": [IN_PERIOD]}]}, actor="t")


def test_unknown_segments_and_runs_are_not_found(account, other_account, segment):
    theirs = segment_create(account=other_account, data={"name": "theirs"}, actor="t")
    for segment_id in ("not-a-uuid", uuid.uuid4(), theirs.uuid):
        with pytest.raises(NotFound) as caught:
            selectors.segment_get(account=account, segment_id=segment_id)
        # a domain error only: the pages render NotFound as 404 (tests/web/test_segments.py pins that)
        assert caught.value.status == 404 and not isinstance(caught.value, Http404)
    assert selectors.segment_get(account=account, segment_id=str(segment.uuid)) == segment
    for run_id in ("nope", str(uuid.uuid4())):
        with pytest.raises(NotFound):
            selectors.segment_run_get(segment=segment, run_id=run_id)


def test_the_preview_selector_writes_nothing(api, account):
    # given receipts, and a definition whose period needs a purchase window nobody built yet
    post(
        api,
        receipt(customer_id="a", purchase_at="2024-05-02T12:00:00Z"),
        receipt(customer_id="b", purchase_at="2024-07-01T12:00:00Z"),
    )
    parts = [{"criteria": [IN_PERIOD]}, {"criteria": [{"type": "transaction_count", "min": 99, "max": 1}]}]
    assert not PurchaseWindow.objects.exists()

    # when the preview service prepares it, then the selector counts without a single write
    preparation = preview_prepare(account=account, parts=parts)
    assert PurchaseWindow.objects.count() == 1
    with CaptureQueriesContext(connection) as queries:
        result = selectors.definition_preview(account=account, parts=parts, preparation=preparation)
    assert not [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]

    # and the valid part is counted while the invalid one reports its error by path
    assert result["customersCount"] is None
    assert result["parts"] == [{"customersCount": 1}, {"customersCount": None}]
    assert [path for path, _ in result["errors"]] == ["parts[1].criteria[0].max"]


def test_the_preview_of_something_that_is_not_a_list_of_parts(account):
    preparation = preview_prepare(account=account, parts="nope")
    result = selectors.definition_preview(account=account, parts="nope", preparation=preparation)
    assert result == {
        "customersCount": None,
        "parts": [],
        "errors": [("parts", "This value should be a list of parts.")],
    }


@pytest.mark.django_db(transaction=True)
def test_member_ids_and_segments_of_a_customer_read_the_published_version(api, account, segment):
    post(
        api,
        receipt(customer_id="a", purchase_at="2024-05-02T12:00:00Z"),
        receipt(customer_id="b", purchase_at="2024-07-01T12:00:00Z"),
    )
    assert selectors.segment_member_ids(segment=segment) == (None, [])

    run = segment.runs.get()
    assert segment_recalculate(run_id=run.id).status == "succeeded"

    assert selectors.segment_member_ids(segment=segment) == (1, ["a"])
    customer = selectors.segment_members(segment=Segment.objects.get(pk=segment.pk)).get()
    assert list(selectors.segments_of_customer(account=account, customer_pk=customer.pk)) == [segment]
    assert [r.pk for r in selectors.runs_recent(account=account, limit=5)] == [run.pk]
    assert [r.members for r in selectors.segment_size_history(segment=segment)] == [1]


def test_the_latest_membership_events_are_read_from_the_index_end_not_sorted(api, account, segment):
    """The segment page's latest entries and exits: with whole-table and bitmap reads ruled out (a real segment has
    100,000 spans, these test tables a few), each read is an index scan in the order asked, stopping at the limit,
    with no sort of the segment's spans."""
    post(api, receipt(customer_id="a"), receipt(customer_id="b"))
    customers = {c.customer_id: c for c in Customer.objects.filter(account=account)}
    day = datetime(2024, 5, 1, tzinfo=UTC)
    span = {"segment": segment, "entered_run": uuid.uuid4(), "entered_reason": "manual"}
    MembershipSpan.objects.create(
        customer=customers["a"], entered_at=day, left_at=day + timedelta(days=2), left_run=uuid.uuid4(), **span
    )
    MembershipSpan.objects.create(customer=customers["b"], entered_at=day + timedelta(days=1), **span)
    events = selectors.segment_membership_events(segment=segment)
    assert [(event.customer_id, event.entered) for event in events] == [("a", False), ("b", True), ("a", True)]

    spans = MembershipSpan.objects.filter(segment=segment)
    reads = {
        "membership_span_entered": spans.order_by("-entered_at", "-id")[:20],
        "membership_span_left": spans.filter(left_at__isnull=False).order_by("-left_at", "-id")[:20],
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        for index, queryset in reads.items():
            plan = queryset.explain()
            assert index in plan
            assert "Sort" not in plan


# Criteria that compare only the customer's own columns: with the other kinds (windows, code buyers) they must read
# the customers index-only (receipts.models.Customer's `customer_criteria`), never the ~1 kB heap rows (issue 21).
COLUMN_CRITERIA = (
    "anniversary",
    "age",
    "gender",
    "country",
    "city",
    "postal",
    "member_loyalty_card_number",
    "marketing_consent",
    "transaction_count",
    "average_transaction_amount",
    "transaction_amount",
    "last_purchase_n_days_before",
    "last_transaction_between_days",
)


def test_column_criteria_read_the_customers_index_only(api, account):
    """Each of these criteria (from its declared example), and all of them in one definition with a period and a
    bought-items part, reads only customer columns `customer_criteria` carries: a column left out of the index
    would make the preview's pass read heap rows again. (Which index the planner takes for a few test rows varies;
    a real account's pass reads every customer and takes `customer_criteria`: tests/bench.)"""
    index = next(i for i in Customer._meta.indexes if i.name == "customer_criteria")
    covered = {Customer._meta.get_field(name).column for name in (*index.fields, *index.include)}
    table = Customer._meta.db_table
    post(api, receipt(customer_id="a"), receipt(customer_id="b"))
    singles = [[{"criteria": [{"type": kind, **CRITERIA[kind].example}]}] for kind in COLUMN_CRITERIA]
    mixed = [part for parts in singles for part in parts] + [
        {"criteria": [IN_PERIOD]},
        {"criteria": [{"type": "bought_skus", "skuIds": ["sku-1"]}]},
    ]
    for parts in [*singles, mixed]:
        # the members' ids, as a recalculation reads them (the preview counts the same rows)
        queryset = engine.matching_customers(account=account, parts=parts).values("pk")
        query, _ = queryset.query.sql_with_params()
        read = set(re.findall(rf'"{table}"\."(\w+)"', query))
        assert read and read <= covered, (parts, read - covered)
