"""Holdouts on pushes: a stable share of a linked segment's members never gets the rule, recorded and visible."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from discounts import holdouts
from discounts import sql as statements
from discounts.models import DiscountRef, PushAssignment, PushLink, PushRun
from discounts.pushes import push_execute, segment_published, segment_push_start
from discounts.services import rule_create
from loyalty.core.sql import raw_cursor, sql
from segments.models import SegmentRun
from segments.services import segments as segment_services
from segments.services.runs import segment_recalculate
from tests.receipts.factories import receipt

CUSTOMERS = [f"C{n:04d}" for n in range(300)]


def a_rule(account, name="10 % off"):
    now = datetime.now(UTC)
    return rule_create(
        account=account,
        document={
            "name": name,
            "requirement": {"purchase_from": now.isoformat(), "purchase_to": (now + timedelta(days=30)).isoformat()},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="test",
    )


def listed(customers):
    return [{"criteria": [{"type": "customer_list", "customers": list(customers)}]}]


def calculate(segment):
    run = SegmentRun.objects.filter(segment=segment, status="queued").order_by("-created_at").first()
    assert segment_recalculate(run_id=run.id).status == "succeeded"
    segment.refresh_from_db()


def run_pushes() -> list[PushRun]:
    return [push_execute(push_id=run.id) for run in PushRun.objects.filter(status="queued").order_by("created_at")]


def holders(rule) -> set[str]:
    return set(DiscountRef.objects.filter(rule=rule, deleted_at__isnull=True).values_list("customer_id", flat=True))


def held_out_ids(link) -> set[str]:
    return set(PushAssignment.objects.filter(link=link, held_out=True).values_list("customer__customer_id", flat=True))


@pytest.fixture
def customers(api):
    response = api.post("/v1/accounts/T00000001/receipts", [receipt(customer_id=c) for c in CUSTOMERS], format="json")
    assert response.status_code == 200


@pytest.fixture
def segment(account, customers):
    created = segment_services.segment_create(
        account=account, data={"name": "Listed", "parts": listed(CUSTOMERS[:200])}, actor="t"
    )
    calculate(created)
    return created


def test_the_sql_bucket_is_the_python_bucket():
    rng = random.Random(7)
    ids = [f"C{rng.randrange(10**9)}" for _ in range(500)] + ["", "æøå", "a:b", "*"]
    seed = holdouts.new_seed()
    statement = sql.SQL("SELECT c, {} FROM unnest(%(ids)s::text[]) AS c").format(
        sql.SQL(statements.BUCKET).format(customer_id=sql.SQL("c"))
    )
    cur = raw_cursor()
    cur.execute(statement, {"ids": ids, "seed": seed})
    in_sql = dict(cur.fetchall())
    assert in_sql == {c: holdouts.bucket(seed, c) for c in ids}
    assert all(0 <= b < 10_000 for b in in_sql.values())


pytestmark = pytest.mark.django_db(transaction=True)


def test_a_holdout_link_holds_out_exactly_the_low_buckets_and_records_them(account, segment):
    rule = a_rule(account)
    segment_push_start(
        account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="t", holdout_percent=20
    )
    (done,) = run_pushes()
    link = PushLink.objects.get(segment=segment, rule=rule)
    expected_out = {c for c in CUSTOMERS[:200] if holdouts.held_out(link.holdout_seed, c, 20)}
    assert 20 <= len(expected_out) <= 60  # about 40 of 200
    assert held_out_ids(link) == expected_out
    assert holders(rule) == set(CUSTOMERS[:200]) - expected_out
    assert (done.status, done.added, done.held_out, done.skipped) == (
        "succeeded",
        200 - len(expected_out),
        len(expected_out),
        0,
    )
    assert (link.assigned_count, link.held_out_count) == (200, len(expected_out))
    rows = PushAssignment.objects.filter(link=link)
    assert {r.bucket for r in rows} == {holdouts.bucket(link.holdout_seed, r.customer.customer_id) for r in rows}


def test_sides_and_dates_stay_across_syncs_and_reentries(account, segment):
    rule = a_rule(account)
    segment_push_start(
        account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="t", holdout_percent=30
    )
    run_pushes()
    link = PushLink.objects.get(segment=segment, rule=rule)
    first = dict(PushAssignment.objects.filter(link=link).values_list("customer__customer_id", "assigned_at"))
    out_before = held_out_ids(link)

    # half the members leave, 100 new customers enter, then everybody comes back
    segment_services.segment_update(
        segment=segment, data={"name": "Listed", "parts": listed(CUSTOMERS[100:300])}, actor="t"
    )
    calculate(segment)
    segment_published(segment_id=segment.pk)  # what the worker does after a publish
    run_pushes()
    segment_services.segment_update(segment=segment, data={"name": "Listed", "parts": listed(CUSTOMERS)}, actor="t")
    calculate(segment)
    segment_published(segment_id=segment.pk)
    run_pushes()

    link.refresh_from_db()
    expected_out = {c for c in CUSTOMERS if holdouts.held_out(link.holdout_seed, c, 30)}
    assert held_out_ids(link) == expected_out
    assert out_before <= expected_out
    assert holders(rule) == set(CUSTOMERS) - expected_out  # the returners got it again; no held-out one ever did
    assert not DiscountRef.objects.filter(rule=rule, customer_id__in=expected_out).exists()
    again = dict(PushAssignment.objects.filter(link=link).values_list("customer__customer_id", "assigned_at"))
    assert {c: again[c] for c in first} == first  # counted from when they first entered
    assert (link.assigned_count, link.held_out_count) == (300, len(expected_out))


def test_a_push_once_keeps_out_whom_the_link_holds_out(account, segment):
    rule = a_rule(account)
    segment_push_start(
        account=account, segment=segment, rule=rule, mode="sync", remove_departed=False, actor="t", holdout_percent=25
    )
    run_pushes()
    segment_push_start(account=account, segment=segment, rule=rule, mode="once", remove_departed=False, actor="t")
    run_pushes()
    link = PushLink.objects.get(segment=segment, rule=rule)
    assert holders(rule) == set(CUSTOMERS[:200]) - held_out_ids(link)


def test_pushes_without_a_holdout_write_no_assignment(account, segment):
    rule = a_rule(account)
    segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=False, actor="t")
    (done,) = run_pushes()
    assert holders(rule) == set(CUSTOMERS[:200])
    assert not PushAssignment.objects.exists()
    assert (done.added, done.held_out) == (200, 0)
    assert PushLink.objects.get(rule=rule).holdout_percent == 0


class TestApi:
    def url(self, segment, path="push"):
        return f"/api/T00000001/segment/{segment.uuid}/{path}"

    def test_push_with_a_holdout_and_see_it_on_the_link(self, api, account, segment):
        rule = a_rule(account)
        body = {"discountId": str(rule.id), "mode": "sync", "holdoutPercent": 10}
        response = api.post(self.url(segment), body, format="json")
        assert response.status_code == 202
        run_pushes()
        link = PushLink.objects.get(rule=rule)
        detail = api.get(self.url(segment, f"push/{response.json()['pushId']}")).json()
        assert detail["heldOut"] == link.held_out_count > 0
        (item,) = api.get(self.url(segment, "association/discount_rule")).json()["items"]
        assert item["additionalData"] == {
            "mode": "sync",
            "type": "receipt",
            "holdoutPercent": 10,
            "assigned": 200,
            "heldOut": link.held_out_count,
        }
        # the same holdout again is accepted (a sync push); another one is not
        assert api.post(self.url(segment), body, format="json").status_code == 202
        changed = api.post(self.url(segment), {**body, "holdoutPercent": 20}, format="json")
        assert changed.status_code == 400
        assert [e["path"] for e in changed.json()["errors"]] == ["holdoutPercent"]

    @pytest.mark.parametrize("value", [51, -1, 10.5, "10", True, 100])
    def test_out_of_range_is_400_naming_the_field(self, api, account, segment, value):
        rule = a_rule(account)
        body = {"discountId": str(rule.id), "mode": "sync", "holdoutPercent": value}
        response = api.post(self.url(segment), body, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == 400
        assert [e["path"] for e in response.json()["errors"]] == ["holdoutPercent"]
        assert not PushLink.objects.exists() and not PushRun.objects.exists()

    def test_a_holdout_on_a_push_once_is_refused(self, api, account, segment):
        rule = a_rule(account)
        body = {"discountId": str(rule.id), "mode": "once", "holdoutPercent": 10}
        response = api.post(self.url(segment), body, format="json")
        assert response.status_code == 400
        assert [e["path"] for e in response.json()["errors"]] == ["holdoutPercent"]
        assert not PushRun.objects.exists()
