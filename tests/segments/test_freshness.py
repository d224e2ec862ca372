"""Freshness: schedules with a frozen clock, fairness, incremental = full, the error budget, honest staleness, the
ledger's reasons, and a broker that is down while receipts arrive."""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyalty.celery import app
from segments import engine
from segments.models import MembershipSpan, Segment, SegmentRun
from segments.policy import PolicyError, next_due, validate_policy
from segments.selectors import segment_members
from segments.services import segments as services
from segments.services.freshness import receipts_arrived, receipts_sweep, schedule_tick, segment_freshness
from segments.services.runs import segment_recalculate
from tests.accounts.factories import AccountFactory
from tests.receipts.factories import receipt
from tests.segments.data import dataset

RECEIPTS = "/v1/accounts/T00000001/receipts"


def at(text: str, tz: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


class TestNextDue:
    @pytest.mark.parametrize(
        ("schedule", "timezone", "after", "expected"),
        [
            (
                {"type": "daily", "at": "03:00"},
                "Europe/Oslo",
                at("2025-03-29 12:00", "Europe/Oslo"),
                at("2025-03-30 03:00", "Europe/Oslo"),
            ),
            # 02:30 does not exist in Oslo on 2025-03-30: the clock jumps to 03:30
            (
                {"type": "daily", "at": "02:30"},
                "Europe/Oslo",
                at("2025-03-29 12:00", "Europe/Oslo"),
                at("2025-03-30 03:30", "Europe/Oslo"),
            ),
            (
                {"type": "daily", "at": "03:00"},
                "Pacific/Auckland",
                at("2025-02-28 13:59", "UTC"),
                at("2025-03-01 03:00", "Pacific/Auckland"),
            ),
            (
                {"type": "daily", "at": "00:00"},
                "America/New_York",
                at("2024-11-03 00:00", "America/New_York"),
                at("2024-11-04 00:00", "America/New_York"),
            ),
            ({"type": "every", "minutes": 15}, "UTC", at("2025-01-01 10:07:59"), at("2025-01-01 10:15")),
            ({"type": "every", "minutes": 15}, "UTC", at("2025-01-01 10:15"), at("2025-01-01 10:30")),
            (
                {"type": "cron", "expression": "30 8 * * 1-5"},
                "America/New_York",
                at("2025-05-02 09:00", "America/New_York"),
                at("2025-05-05 08:30", "America/New_York"),
            ),
            ({"type": "cron", "expression": "0 0 29 2 *"}, "UTC", at("2025-01-01 00:00"), at("2028-02-29 00:00")),
            ({"type": "cron", "expression": "*/20 9-10 * * 0"}, "UTC", at("2025-05-04 10:41"), at("2025-05-11 09:00")),
        ],
    )
    def test_next_due_with_a_frozen_clock(self, schedule, timezone, after, expected):
        assert next_due({"schedule": schedule}, after=after, timezone=timezone) == expected

    def test_manual_and_receipts_only_policies_have_no_schedule(self):
        assert (
            next_due(
                validate_policy({"onNewReceipts": False, "schedule": None}),
                after=at("2025-01-01 00:00"),
                timezone="UTC",
            )
            is None
        )

    @pytest.mark.parametrize(
        ("policy", "path"),
        [
            ({"schedule": {"type": "hourly"}}, "refreshPolicy.schedule.type"),
            ({"schedule": {"type": "every", "minutes": 1}}, "refreshPolicy.schedule.minutes"),
            ({"schedule": {"type": "daily", "at": "25:00"}}, "refreshPolicy.schedule.at"),
            ({"schedule": {"type": "cron", "expression": "61 * * * *"}}, "refreshPolicy.schedule.expression"),
            ({"schedule": {"type": "cron", "expression": "* * *"}}, "refreshPolicy.schedule.expression"),
            ({"onNewReceipts": "yes"}, "refreshPolicy.onNewReceipts"),
        ],
    )
    def test_bad_policies_name_the_field(self, policy, path):
        with pytest.raises(PolicyError) as caught:
            validate_policy(policy)
        assert caught.value.errors[0][0] == path


COUNT_2 = [{"criteria": [{"type": "transaction_count", "min": 2}]}]


def make(account, name, *, policy=None, parts=COUNT_2) -> Segment:
    data = {"name": name, "parts": parts}
    if policy is not None:
        data["refreshPolicy"] = policy
    return services.segment_create(account=account, data=data, actor="t")


def run_queued(now=None):
    for run in SegmentRun.objects.filter(status="queued").order_by("created_at"):
        segment_recalculate(run_id=run.id, now=now)


@pytest.mark.django_db(transaction=True)
class TestScheduler:
    def test_due_segments_are_queued_fairly_across_accounts_without_a_quota(self, account):
        other = AccountFactory(aid="T00000002")
        now = datetime(2025, 6, 1, 12, tzinfo=UTC)
        busy = [make(account, f"a{n}") for n in range(5)]
        quiet = make(other, "b0")
        SegmentRun.objects.all().delete()
        for offset, segment in enumerate(busy):
            Segment.objects.filter(pk=segment.pk).update(next_due_at=now - timedelta(hours=10 - offset))
        Segment.objects.filter(pk=quiet.pk).update(next_due_at=now - timedelta(minutes=1))
        paused = make(account, "paused")
        Segment.objects.filter(pk=paused.pk).update(next_due_at=now - timedelta(days=1), paused_at=now)

        assert schedule_tick(now=now) == 6

        order = [
            r.segment.name
            for r in SegmentRun.objects.filter(trigger="scheduled").select_related("segment").order_by("id")
        ]
        assert order == ["a0", "b0", "a1", "a2", "a3", "a4"]
        assert not SegmentRun.objects.filter(segment=paused, trigger="scheduled").exists()
        # the next daily 03:00 (Oslo) run is scheduled; a second tick queues nothing more
        assert all(s.next_due_at > now for s in Segment.objects.exclude(pk=paused.pk))
        assert schedule_tick(now=now) == 0
        assert SegmentRun.objects.filter(trigger="scheduled").count() == 6

    def test_new_segments_get_receipts_and_a_daily_run_by_default(self, account):
        segment = make(account, "s")
        assert segment.refresh_policy == {"onNewReceipts": True, "schedule": {"type": "daily", "at": "03:00"}}
        local = segment.next_due_at.astimezone(ZoneInfo("Europe/Oslo"))
        assert (local.hour, local.minute) == (3, 0)


@pytest.mark.django_db(transaction=True)
def test_incremental_runs_equal_full_ones_on_random_receipt_streams(account, api):
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    account.timezone = "Europe/Oslo"
    account.save()
    history = dataset(seed=11, timezone="Europe/Oslo", now=now, customers=150, receipts=600)
    assert api.post(RECEIPTS, history, format="json").status_code == 200
    definitions = {
        "count": COUNT_2,
        "or": [
            {
                "criteria": [
                    {"type": "bought_skus", "skuIds": ["i3", "i7"]},
                    {"type": "transaction_amount", "fromAmount": 1500},
                ]
            }
        ],
        "and": [
            {
                "criteria": [
                    {"type": "transaction_count_in_period", "min": 1, "fromDate": "2025-02-01", "toDate": "2025-03-01"}
                ]
            },
            {
                "criteria": [
                    {"type": "city", "cities": ["oslo", "bergen"]},
                    {"type": "average_transaction_amount", "fromAmount": 300},
                ]
            },
        ],
        "recent": [{"criteria": [{"type": "transaction_amount_in_last_n_days", "days": 7, "fromAmount": 100}]}],
    }
    segments = {name: make(account, name, parts=parts) for name, parts in definitions.items()}
    run_queued(now)
    rng = random.Random(3)
    fresh = dataset(seed=12, timezone="Europe/Oslo", now=now, customers=200, receipts=400)
    for step in range(4):
        batch = rng.sample(fresh, 60)
        fresh = [doc for doc in fresh if doc not in batch]
        for doc in batch:
            doc["receipt_id"] = f"stream-{step}-{doc['receipt_id']}"
        assert api.post(RECEIPTS, batch, format="json").status_code == 200

        assert receipts_arrived(account_id=account.pk) == len(segments)
        runs = SegmentRun.objects.filter(status="queued")
        assert {r.scope for r in runs} == {"incremental"}
        run_queued(now)

        for name, segment in segments.items():
            segment.refresh_from_db()
            parts = segment.definition["parts"]
            preparation = engine.definition_prepare(account=account, parts=parts, now=now)
            full = set(
                engine.matching_customers(
                    account=account, parts=parts, ctx=engine.compile_context(preparation, account=account)
                ).values_list("id", flat=True)
            )
            incremental = set(segment_member_pks(segment))
            assert incremental == full, f"{name} after batch {step}"

    # the periodic full run agrees: drift 0
    for segment in segments.values():
        run = services.segment_refresh(segment=segment, actor="scheduler", trigger=SegmentRun.Trigger.SCHEDULED)
        assert segment_recalculate(run_id=run.id, now=now).drift == 0


def segment_member_pks(segment):
    from segments.selectors import segment_members

    return segment_members(segment=segment).values_list("id", flat=True)


@pytest.mark.django_db(transaction=True)
class TestFreshness:
    def test_fresh_as_of_the_watermark_and_stale_when_newer_receipts_exist(self, account, api):
        assert (
            api.post(RECEIPTS, [receipt(customer_id="a"), receipt(customer_id="a")], format="json").status_code == 200
        )
        segment = make(account, "s")
        assert segment_freshness(segment=segment).reasons == ["not calculated yet"]
        run_queued()
        segment.refresh_from_db()
        state = segment_freshness(segment=segment)
        assert not state.stale and state.fresh_as_of == segment.watermark

        assert api.post(RECEIPTS, [receipt(customer_id="b")], format="json").status_code == 200
        assert segment_freshness(segment=segment).reasons == ["newer receipts exist"]
        body = api.get(f"/api/T00000001/segment/{segment.uuid}").json()
        assert body["freshness"]["stale"] is True and body["freshness"]["freshAsOf"]

    def test_a_day_boundary_makes_clock_criteria_stale(self, account, api):
        assert api.post(RECEIPTS, [receipt(customer_id="a")], format="json").status_code == 200
        segment = make(account, "recent", parts=[{"criteria": [{"type": "last_purchase_n_days_before", "days": 30}]}])
        run_queued()
        segment.refresh_from_db()
        assert not segment_freshness(segment=segment).stale
        tomorrow = segment.calculated_at + timedelta(days=1)
        assert segment_freshness(segment=segment, now=tomorrow).reasons == [
            "a day has passed since its time windows were evaluated"
        ]
        plain = make(account, "plain")
        run_queued()
        plain.refresh_from_db()
        assert not segment_freshness(segment=plain, now=tomorrow).stale

    def test_the_error_budget_pauses_and_a_retry_resumes(self, account):
        from django.db import transaction

        from segments.services.runs import run_enqueue

        segment = make(account, "s")
        SegmentRun.objects.all().delete()
        broken = {
            "parts": [
                {"segmentPartId": "p", "criteria": [{"criterionId": "c", "type": "transaction_count", "min": "x"}]}
            ]
        }
        Segment.objects.filter(pk=segment.pk).update(definition=broken)
        for attempt in range(1, 4):
            with transaction.atomic():
                run = run_enqueue(segment=segment, trigger=SegmentRun.Trigger.SCHEDULED)
            with pytest.raises(Exception, match="min"):
                segment_recalculate(run_id=run.id)
            segment.refresh_from_db()
            assert segment.consecutive_failures == attempt
            assert (segment.paused_at is not None) == (attempt == 3)
        assert "Paused after 3 failed runs in a row" in segment.pause_reason
        assert "paused after repeated failures" in segment_freshness(segment=segment).reasons
        assert schedule_tick(now=segment.next_due_at + timedelta(minutes=1)) == 0

        services.segment_refresh(segment=segment, actor="someone")
        segment.refresh_from_db()
        assert segment.paused_at is None and segment.consecutive_failures == 0


@pytest.mark.django_db(transaction=True)
def test_the_ledger_records_why_customers_entered_and_left(account, api):
    now = datetime.now(UTC)
    assert (
        api.post(
            RECEIPTS, [receipt(customer_id="a", purchase_at=(now - timedelta(days=2)).isoformat())], format="json"
        ).status_code
        == 200
    )
    segment = make(account, "s", parts=[{"criteria": [{"type": "last_purchase_n_days_before", "days": 3}]}])
    run_queued(now)  # a enters: definition change
    assert api.post(RECEIPTS, [receipt(customer_id="b", purchase_at=now.isoformat())], format="json").status_code == 200
    receipts_arrived(account_id=account.pk)
    run_queued(now)  # b enters: new receipts
    services.segment_refresh(segment=segment, actor="t", trigger=SegmentRun.Trigger.SCHEDULED)
    run_queued(now + timedelta(days=2))  # a's purchase drops out of the window: time window
    assert api.post(RECEIPTS, [receipt(customer_id="c", purchase_at=now.isoformat())], format="json").status_code == 200
    services.segment_refresh(segment=segment, actor="t")
    run_queued(now + timedelta(days=2))  # c enters: manual

    spans = {
        (s.customer.customer_id, s.entered_reason, s.left_reason)
        for s in MembershipSpan.objects.filter(segment=segment).select_related("customer")
    }
    assert spans == {
        ("a", "definition_change", "time_window"),
        ("b", "new_receipts", ""),
        ("c", "manual", ""),
    }


@contextmanager
def broker_down():
    """Point this process's producer at an address where no broker listens, then back."""
    conf = app.conf
    saved = (conf.broker_url, dict(conf.broker_transport_options))
    conf.broker_url, conf.broker_transport_options = "redis://127.0.0.1:9/0", {}
    conf.broker_connection_max_retries = 0
    app.amqp._producer_pool = None
    app._pool = None
    try:
        yield
    finally:
        conf.broker_url, conf.broker_transport_options = saved
        app.amqp._producer_pool = None
        app._pool = None


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_receipts_stored_while_the_broker_is_down_are_recalculated_when_it_is_back(
    account, api, celery_worker, wait_for
):
    assert api.post(RECEIPTS, [receipt(customer_id="a"), receipt(customer_id="a")], format="json").status_code == 200
    segment = make(account, "s")
    wait_for(lambda: Segment.objects.get(pk=segment.pk).current_version == 1, message="first version")

    with broker_down():
        response = api.post(RECEIPTS, [receipt(customer_id="b"), receipt(customer_id="b")], format="json")
        assert response.status_code == 200  # storing receipts never depends on the broker
        assert not SegmentRun.objects.filter(trigger="new_receipts").exists()

    # the broker is back: the sweep finds the batch nobody announced
    assert receipts_sweep() == 1
    wait_for(lambda: Segment.objects.get(pk=segment.pk).customers_count == 2, timeout=60, message="the incremental run")
    assert SegmentRun.objects.get(trigger="new_receipts").status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_listed_customer_matches_once_their_first_receipt_arrives(account, api):
    # given a segment listing a customer id and an e-mail that no receipt carries yet, and one that does
    assert api.post(RECEIPTS, [receipt(customer_id="known")], format="json").status_code == 200
    listed = [{"criteria": [{"type": "customer_list", "customers": ["known", "newcomer", "late@example.com"]}]}]
    segment = make(account, "listed", parts=listed)
    run_queued()
    first = SegmentRun.objects.get(segment=segment)
    assert first.lists[0]["matched"] == 1
    assert first.lists[0]["unmatched"] == ["newcomer", "late@example.com"]

    # when their first receipts arrive through the receipts API (and the batch is turned into runs)
    newcomers = [
        receipt(customer_id="newcomer"),
        receipt(customer_id="someone", customer={"email": "Late@Example.com"}),
    ]
    assert api.post(RECEIPTS, newcomers, format="json").status_code == 200
    assert receipts_arrived(account_id=account.pk) == 1
    run_queued()

    # then they are members, and the run reports every entry matched
    assert set(members_of(segment)) == {"known", "newcomer", "someone"}
    latest = SegmentRun.objects.filter(segment=segment).order_by("-created_at").first()
    assert (latest.trigger, latest.lists[0]["matched"], latest.lists[0]["unmatched"]) == ("new_receipts", 3, [])
    body = api.get(f"/api/T00000001/segment/{segment.uuid}/runs/{latest.id}").json()
    assert body["lists"] == [{"criterionId": latest.lists[0]["criterionId"], "matched": 3, "unmatched": []}]


def members_of(segment):
    segment.refresh_from_db()
    return segment_members(segment=segment).values_list("customer_id", flat=True)
