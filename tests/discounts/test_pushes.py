"""Pushing segments onto discount rules: once, kept in sync, retries, and the API extension."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from discounts import services
from discounts.models import DiscountRef, DiscountRule, PushLink, PushRun
from discounts.pushes import push_execute, pushes_sweep, segment_published, segment_push_start
from discounts.services import rule_create, rule_customers_give
from receipts.models import Customer
from segments.models import MembershipSpan, SegmentMember, SegmentRun
from segments.services import segments as segment_services
from segments.services.runs import segment_recalculate
from tests.helpers import db_dsn, wait_until
from tests.receipts.factories import receipt
from tests.spec import assert_response_matches

RECEIPTS = "/v1/accounts/T00000001/receipts"
TWO_PURCHASES = [{"criteria": [{"type": "transaction_count", "min": 2}]}]


def buy(api, *customers):
    assert api.post(RECEIPTS, [receipt(customer_id=c) for c in customers], format="json").status_code == 200


def a_rule(account, name="10 off") -> DiscountRule:
    now = datetime.now(UTC)
    return rule_create(
        account=account,
        document={
            "name": name,
            "requirement": {"purchase_from": now.isoformat(), "purchase_to": (now + timedelta(days=30)).isoformat()},
            "reward": {"type": "discount_amount", "value": 1000},
        },
        actor="test",
    )


def recalculate(segment):
    run = segment_services.segment_refresh(segment=segment, actor="test")
    assert segment_recalculate(run_id=run.id).status == "succeeded"


def run_pushes() -> list[PushRun]:
    return [push_execute(push_id=run.id) for run in PushRun.objects.filter(status="queued").order_by("created_at")]


def holders(rule) -> set[str]:
    return set(DiscountRef.objects.filter(rule=rule, deleted_at__isnull=True).values_list("customer_id", flat=True))


@pytest.fixture
def segment(account, api):
    buy(api, "a", "a", "b", "b", "c")
    created = segment_services.segment_create(
        account=account, data={"name": "Twice", "parts": TWO_PURCHASES}, actor="t"
    )
    segment_recalculate(run_id=SegmentRun.objects.get(segment=created).id)
    created.refresh_from_db()
    return created


@pytest.mark.django_db(transaction=True)
class TestPushes:
    def test_push_once_gives_the_rule_to_the_current_members(self, account, segment):
        rule = a_rule(account)
        rule_customers_give(account=account, rule=rule, customer_ids=["b"], offering_constraint_id=None, actor="api")

        run = segment_push_start(
            account=account, segment=segment, rule=rule, mode="once", remove_departed=False, actor="t"
        )
        (done,) = run_pushes()

        assert (done.status, done.version, done.added, done.skipped, done.removed) == ("succeeded", 1, 1, 1, 0)
        assert holders(rule) == {"a", "b"}
        assert not PushLink.objects.exists()
        assert done.pk == run.pk and done.duration_ms is not None

    def test_a_segment_bigger_than_one_give_call_is_pushed_in_steps(self, account, segment, monkeypatch):
        from discounts import documents

        monkeypatch.setattr(documents, "MAX_CUSTOMERS_PER_CALL", 1)  # the segment has two members
        rule = a_rule(account)
        segment_push_start(account=account, segment=segment, rule=rule, mode="once", remove_departed=False, actor="t")
        (done,) = run_pushes()

        assert (done.status, done.added, done.skipped) == ("succeeded", 2, 0)
        assert holders(rule) == {"a", "b"}

    @pytest.mark.parametrize(("remove_departed", "after_leaving"), [(False, {"a", "b", "c"}), (True, {"b", "c"})])
    def test_sync_follows_three_recalculations(self, account, api, segment, remove_departed, after_leaving):
        rule = a_rule(account)
        rule_customers_give(account=account, rule=rule, customer_ids=["z"], offering_constraint_id=None, actor="api")
        segment_push_start(
            account=account, segment=segment, rule=rule, mode="sync", remove_departed=remove_departed, actor="t"
        )
        run_pushes()
        assert holders(rule) == {"a", "b", "z"}

        # c enters
        buy(api, "c")
        recalculate(segment)
        segment_published(segment_id=segment.pk)
        (entered,) = run_pushes()
        assert (entered.added, entered.removed) == (1, 0)
        assert holders(rule) == {"a", "b", "c", "z"}

        # a leaves: the definition now wants at most 2 purchases and a buys a third time
        segment_services.segment_update(
            segment=segment,
            data={"name": "Twice", "parts": [{"criteria": [{"type": "transaction_count", "min": 2, "max": 2}]}]},
            actor="t",
        )
        buy(api, "a")
        segment_recalculate(run_id=SegmentRun.objects.get(segment=segment, status="queued").id)
        segment_published(segment_id=segment.pk)
        (left,) = run_pushes()
        assert left.removed == (1 if remove_departed else 0)
        # z was given the rule another way: it is never taken by the segment
        assert holders(rule) == after_leaving | {"z"}
        assert PushLink.objects.get().last_version == 3

    def test_a_ref_taken_back_by_hand_stays_taken_back_through_syncs(self, account, api, segment):
        # given a rule kept in sync with the segment (a, b), and staff taking b's ref back by hand
        rule = a_rule(account)
        segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="t")
        run_pushes()
        services.rule_customers_take(account=account, rule=rule, customer_ids=["b"], actor="staff")

        # when c enters and the sync pushes the new version
        buy(api, "c")
        recalculate(segment)
        segment_published(segment_id=segment.pk)
        (pushed,) = run_pushes()

        # then only c, who entered, is given the rule: b never left, so b's ref stays taken back
        assert (pushed.status, pushed.version, pushed.added, pushed.removed, pushed.skipped) == (
            "succeeded",
            2,
            1,
            0,
            0,
        )
        assert holders(rule) == {"a", "c"}

    def test_a_sync_after_missed_versions_applies_the_diff_since_the_version_the_link_last_applied(
        self, account, api, segment
    ):
        # given a link that applied version 1 (a, b), and b's ref taken back by hand
        rule = a_rule(account)
        segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="t")
        run_pushes()
        services.rule_customers_take(account=account, rule=rule, customer_ids=["b"], actor="staff")
        # version 2: c enters, but its sync never runs (the worker was down)
        buy(api, "c")
        recalculate(segment)
        # version 3: a leaves (at most two purchases now, and a buys a third time)
        segment_services.segment_update(
            segment=segment,
            data={"name": "Twice", "parts": [{"criteria": [{"type": "transaction_count", "min": 2, "max": 2}]}]},
            actor="t",
        )
        buy(api, "a")
        segment_recalculate(run_id=SegmentRun.objects.get(segment=segment, status="queued").id)
        assert SegmentRun.objects.filter(segment=segment, version=3).exists()

        # when version 3 is announced
        segment_published(segment_id=segment.pk)
        (pushed,) = run_pushes()

        # then the push applies what changed between version 1 and 3: c (from the missed version) gains, a loses
        assert (pushed.version, pushed.added, pushed.removed) == (3, 1, 1)
        assert holders(rule) == {"c"}
        assert PushLink.objects.get().last_version == 3

        # and announcing the same version again changes nothing
        segment_published(segment_id=segment.pk)
        (again,) = run_pushes()
        assert (again.version, again.added, again.removed, again.skipped) == (3, 0, 0, 0)
        assert holders(rule) == {"c"}

    def test_a_customer_who_left_and_came_back_between_two_syncs_keeps_what_they_had(self, account, api, segment):
        # given a link that applied version 1 (a, b) and a's ref taken back by hand
        rule = a_rule(account)
        segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="t")
        run_pushes()
        services.rule_customers_take(account=account, rule=rule, customer_ids=["a"], actor="staff")
        # a leaves (version 2) and comes back (version 3) with no sync in between
        with_max = [{"criteria": [{"type": "transaction_count", "min": 2, "max": 2}]}]
        segment_services.segment_update(segment=segment, data={"name": "Twice", "parts": with_max}, actor="t")
        buy(api, "a")
        segment_recalculate(run_id=SegmentRun.objects.get(segment=segment, status="queued").id)
        segment_services.segment_update(segment=segment, data={"name": "Twice", "parts": TWO_PURCHASES}, actor="t")
        segment_recalculate(run_id=SegmentRun.objects.get(segment=segment, status="queued").id)

        segment_published(segment_id=segment.pk)
        (pushed,) = run_pushes()

        # then a was a member at both versions: nothing to give or take
        assert (pushed.version, pushed.added, pushed.removed) == (3, 0, 0)
        assert holders(rule) == {"b"}

    def test_a_retried_push_adds_nothing_twice(self, account, segment):
        rule = a_rule(account)
        run = segment_push_start(
            account=account, segment=segment, rule=rule, mode="once", remove_departed=False, actor="t"
        )
        assert push_execute(push_id=run.id).added == 2
        PushRun.objects.filter(pk=run.pk).update(status="queued")  # the message is delivered again

        again = push_execute(push_id=run.id)

        assert (again.added, again.skipped) == (0, 2)
        assert DiscountRef.objects.filter(rule=rule).count() == 2

    def test_a_push_never_sees_a_half_written_version(self, account, api, segment):
        rule = a_rule(account)
        buy(api, "c")
        run = segment_services.segment_refresh(segment=segment, actor="t")
        blocker = psycopg.connect(**db_dsn(), autocommit=False)
        blocker.execute("SELECT 1 FROM segments_segment WHERE id = %s FOR NO KEY UPDATE", [segment.pk])
        recalculation = threading.Thread(target=lambda: (segment_recalculate(run_id=run.id), connection.close()))
        recalculation.start()
        try:
            wait_until(lambda: SegmentRun.objects.get(pk=run.pk).progress >= 30)
            push = segment_push_start(
                account=account, segment=segment, rule=rule, mode="once", remove_departed=False, actor="t"
            )
            pushed = push_execute(push_id=push.id)
        finally:
            blocker.commit()
            blocker.close()
            recalculation.join(timeout=30)
        assert (pushed.version, pushed.added) == (1, 2)
        assert holders(rule) == {"a", "b"}

    def test_the_sweep_catches_up_a_link_behind_its_segment(self, account, api, segment):
        rule = a_rule(account)
        segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=False, actor="t")
        run_pushes()
        buy(api, "c")
        recalculate(segment)  # the announcement was lost (no worker here)

        outcome = pushes_sweep()

        assert outcome["behind"] == 1
        run_pushes()
        assert holders(rule) == {"a", "b", "c"}
        assert pushes_sweep()["behind"] == 0

    def test_a_deleted_rule_fails_the_push_with_a_message(self, account, segment):
        rule = a_rule(account)
        run = segment_push_start(
            account=account, segment=segment, rule=rule, mode="once", remove_departed=False, actor="t"
        )
        DiscountRule.objects.filter(pk=rule.pk).update(deleted_at=datetime.now(UTC), deleted_by="x")
        failed = push_execute(push_id=run.id)
        assert (failed.status, failed.error_message) == ("failed", "The discount rule has been deleted.")


@pytest.mark.django_db(transaction=True)
class TestPushApi:
    def url(self, segment, path="push"):
        return f"/api/T00000001/segment/{segment.uuid}/{path}"

    def test_push_then_follow_it_and_see_the_link_from_both_sides(self, api, account, segment):
        rule = a_rule(account)
        response = api.post(
            self.url(segment), {"discountId": str(rule.id), "mode": "sync", "removeDeparted": True}, format="json"
        )
        assert response.status_code == 202
        push_id = response.json()["pushId"]
        run_pushes()

        detail = api.get(self.url(segment, f"push/{push_id}")).json()
        assert (detail["status"], detail["mode"], detail["added"], detail["removeDeparted"]) == (
            "succeeded",
            "sync",
            2,
            True,
        )
        assert [p["pushId"] for p in api.get(self.url(segment, "pushes")).json()["items"]] == [push_id]

        association = api.get(self.url(segment, "association/discount_rule"))
        assert_response_matches("segments", "_getSegmentAssociation", association)
        assert association.json()["items"] == [
            {
                "id": str(rule.id),
                "name": "10 off",
                "active": True,
                "additionalData": {"mode": "sync", "type": "receipt"},
            }
        ]
        rule_body = api.get(f"/v1/accounts/T00000001/discounts/rules/{rule.id}").json()
        assert rule_body["source_segments"] == [
            {"segment_id": str(segment.uuid), "name": "Twice", "remove_departed": True}
        ]

        assert api.delete(self.url(segment, f"push-links/{rule.id}")).status_code == 204
        assert api.delete(self.url(segment, f"push-links/{rule.id}")).status_code == 404
        assert holders(rule) == {"a", "b"}  # unlinking takes nothing back

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"mode": "once"}, "discountId"),
            ({"discountId": "00000000-0000-0000-0000-000000000000", "mode": "once"}, "discountId"),
            ({"discountId": "not-a-uuid", "mode": "once"}, "discountId"),
            ({"discountId": "RULE", "mode": "always"}, "mode"),
            ({"discountId": "RULE", "mode": "sync", "removeDeparted": "yes"}, "removeDeparted"),
        ],
    )
    def test_bad_pushes_are_400_with_the_field(self, api, account, segment, body, path):
        rule = a_rule(account)
        body = {k: (str(rule.id) if v == "RULE" else v) for k, v in body.items()}
        response = api.post(self.url(segment), body, format="json")
        assert response.status_code == 400
        assert [e["path"] for e in response.json()["errors"]] == [path]
        assert not PushRun.objects.exists()

    def test_pushing_needs_a_discounts_write_scope(self, api_for, account, segment):
        rule = a_rule(account)
        client = api_for(account, ["admin:segments"])
        response = client.post(self.url(segment), {"discountId": str(rule.id), "mode": "once"}, format="json")
        assert response.status_code == 403
        assert "discounts" in response.json()["message"]

    def test_another_accounts_rule_cannot_be_pushed(self, api, api_for, account, other_account, segment):
        theirs = a_rule(other_account, "theirs")
        response = api.post(self.url(segment), {"discountId": str(theirs.id), "mode": "once"}, format="json")
        assert response.status_code == 400
        assert not DiscountRef.objects.exists()

    def test_pushing_once_before_a_first_calculation_is_refused(self, api, account):
        fresh = segment_services.segment_create(
            account=account, data={"name": "new", "parts": TWO_PURCHASES}, actor="t"
        )
        rule = a_rule(account)
        response = api.post(self.url(fresh), {"discountId": str(rule.id), "mode": "once"}, format="json")
        assert response.status_code == 400
        assert "has not been calculated yet" in response.json()["message"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_synced_rule_follows_recalculations_through_the_worker(celery_worker, api, account, wait_for):
    buy(api, "a", "a", "b")
    created = api.post(
        "/api/T00000001/segment", {"segment": {"name": "Twice", "parts": TWO_PURCHASES}}, format="json"
    ).json()
    segment_id = created["segmentId"]
    wait_for(lambda: api.get(f"/api/T00000001/segment/{segment_id}").json().get("calculatedAt"), message="first run")
    rule = a_rule(account)
    assert (
        api.post(
            f"/api/T00000001/segment/{segment_id}/push", {"discountId": str(rule.id), "mode": "sync"}, format="json"
        ).status_code
        == 202
    )
    wait_for(lambda: holders(rule) == {"a"}, message="the first push")

    buy(api, "b")
    assert api.post(f"/api/T00000001/segment/{segment_id}/refresh").status_code == 202

    wait_for(lambda: holders(rule) == {"a", "b"}, message="the sync push after the recalculation")


def _publish_synthetic_version(segment, version: int, customer_pks: str, left: str | None = None) -> None:
    """Publish `version` of the segment as the recalculation does, without computing it: its members (a SELECT of
    customer pks), the ledger's spans of who entered and left, and the run that published it."""
    run = SegmentRun.objects.create(
        id=uuid.uuid4(),
        segment=segment,
        definition_version=segment.definition_version,
        trigger=SegmentRun.Trigger.MANUAL,
        status=SegmentRun.Status.SUCCEEDED,
        version=version,
    )
    member, span = SegmentMember._meta.db_table, MembershipSpan._meta.db_table
    params = {"s": segment.pk, "v": version, "run": run.pk, "now": datetime.now(UTC)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {member} (segment_id, version, customer_pk) SELECT %(s)s, %(v)s, pk FROM ({customer_pks}) c(pk)",
            params,
        )
        # the statements below join tables just written; statistics from an autoanalyze that saw them empty (an
        # earlier test, a reused test database) plan a nested loop over 100,000 x 100,000 rows that runs for hours
        cursor.execute(f"ANALYZE {member}, {span}")
        cursor.execute(
            f"""UPDATE {span} SET left_at = %(now)s, left_run = %(run)s, left_reason = 'manual'
                WHERE segment_id = %(s)s AND left_at IS NULL AND customer_pk NOT IN (
                    SELECT customer_pk FROM {member} WHERE segment_id = %(s)s AND version = %(v)s)""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO {span} (segment_id, customer_pk, entered_at, entered_run, entered_reason, left_reason)
                SELECT %(s)s, m.customer_pk, %(now)s, %(run)s, 'manual', '' FROM {member} m
                WHERE m.segment_id = %(s)s AND m.version = %(v)s AND NOT EXISTS (
                    SELECT 1 FROM {span} open WHERE open.segment_id = %(s)s AND open.customer_pk = m.customer_pk
                      AND open.left_at IS NULL)""",
            params,
        )
        cursor.execute(f"DELETE FROM {member} WHERE segment_id = %(s)s AND version < %(v)s", params)
    segment.__class__.objects.filter(pk=segment.pk).update(current_version=version)


@pytest.mark.django_db(transaction=True)
def test_syncing_a_hundred_thousand_members_is_set_based(account):
    # given 101,000 customers and a segment whose version 1 holds the first 100,000
    template = Customer.objects.create(account=account, customer_id="template")
    table = Customer._meta.db_table
    copied = [f.column for f in Customer._meta.concrete_fields if f.name not in ("id", "customer_id")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(copied)}, customer_id) "
            f"SELECT {', '.join(copied)}, 'm' || lpad(n::text, 6, '0') FROM {table} t, generate_series(1, 101000) n "
            "WHERE t.id = %s",
            [template.pk],
        )
    segment = segment_services.segment_create(account=account, data={"name": "Big", "parts": TWO_PURCHASES}, actor="t")
    ids = f"SELECT id FROM {table} WHERE account_id = {account.pk} AND customer_id LIKE 'm%%'"
    _publish_synthetic_version(segment, 1, f"{ids} AND customer_id <= 'm100000'")
    rule = a_rule(account)

    # when the link's first sync gives the whole membership
    started = time.monotonic()
    segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="t")
    (first,) = run_pushes()
    full = time.monotonic() - started

    # and version 2 swaps 1,000 members (m000001..m001000 leave, m100001..m101000 enter)
    _publish_synthetic_version(segment, 2, f"{ids} AND customer_id > 'm001000'")
    started = time.monotonic()
    segment_published(segment_id=segment.pk)
    (second,) = run_pushes()
    diff = time.monotonic() - started

    # then the first push gave everyone and the second only the difference, both set-based fast
    assert (first.status, first.added, first.removed) == ("succeeded", 100_000, 0)
    assert (second.status, second.version, second.added, second.removed, second.skipped) == (
        "succeeded",
        2,
        1_000,
        1_000,
        0,
    )
    assert DiscountRef.objects.filter(rule=rule, deleted_at__isnull=True).count() == 100_000
    assert full < 30, f"the first sync of 100,000 members took {full:.1f}s"
    assert diff < 10, f"a sync of 1,000 changes in 100,000 members took {diff:.1f}s"


def _refs(rule) -> set[tuple[str, str | None, str, bool]]:
    """Every ref of the rule: (customer, offering constraint, given by, live)."""
    return {
        (ref.customer_id, ref.offering_constraint_id, ref.created_by, ref.deleted_at is None)
        for ref in DiscountRef.objects.filter(rule=rule)
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_whole_push_in_sql_gives_and_takes_what_the_customer_id_path_does(account, seed):
    # given 300 customers, a published version holding a random ~half of them, and two rules with the same random
    # refs beforehand: members and non-members, given by this segment's pushes, by the API, with a constraint, or
    # given and taken back by hand
    import random

    from discounts.pushes import given_by

    rng = random.Random(seed)
    ids = [f"g{n:04d}" for n in range(300)]
    Customer.objects.bulk_create([Customer(account=account, customer_id=cid) for cid in ids])
    members = sorted(rng.sample(ids, 150))
    segment = segment_services.segment_create(account=account, data={"name": "Half", "parts": TWO_PURCHASES}, actor="t")
    in_version = ", ".join(f"'{cid}'" for cid in members)
    _publish_synthetic_version(
        segment, 1, f"SELECT id FROM {Customer._meta.db_table} WHERE customer_id IN ({in_version})"
    )
    segment.refresh_from_db()
    source = given_by(segment)
    rules = [a_rule(account, "sql path"), a_rule(account, "id path")]
    for actor, share in ((source, 0.3), ("api", 0.2)):
        chosen = [cid for cid in ids if rng.random() < share]
        for rule in rules:
            rule_customers_give(
                account=account, rule=rule, customer_ids=chosen, offering_constraint_id=None, actor=actor
            )
    constrained = rng.sample(ids, 20)
    taken = rng.sample(ids, 20)
    for rule in rules:
        rule_customers_give(
            account=account, rule=rule, customer_ids=constrained, offering_constraint_id="c1", actor="api"
        )
        services.rule_customers_take(account=account, rule=rule, customer_ids=taken, actor="staff")

    # when the first rule gets a whole push with remove departed (set-based in SQL), and the second the same through
    # the services that take customer ids
    segment_push_start(account=account, segment=segment, rule=rules[0], mode="once", remove_departed=True, actor="t")
    (pushed,) = run_pushes()
    added = rule_customers_give(
        account=account, rule=rules[1], customer_ids=members, offering_constraint_id=None, actor=source
    )
    removed = services.rule_customers_take_departed(
        account=account, rule=rules[1], given_by=source, keep=members, actor=source
    )

    # then both rules hold the same refs, and the push counts what the services counted
    assert pushed.status == "succeeded"
    assert (pushed.added, pushed.removed, pushed.skipped) == (added, removed, len(members) - added)
    assert added and removed and pushed.skipped
    assert _refs(rules[0]) == _refs(rules[1])
    assert {cid for cid in members} <= holders(rules[0])


@pytest.mark.django_db(transaction=True)
def test_a_whole_push_reads_the_version_again_when_a_publish_deleted_it_meanwhile(account, segment, monkeypatch):
    # given a push that read the size of a version a newer publish has deleted since
    from discounts import selectors

    rule = a_rule(account)
    read = selectors.segment_published_size
    answers = iter([(7, 5)])
    monkeypatch.setattr(
        selectors, "segment_published_size", lambda *, segment: next(answers, None) or read(segment=segment)
    )
    segment_push_start(account=account, segment=segment, rule=rule, mode="once", remove_departed=True, actor="t")

    # when it runs
    (done,) = run_pushes()

    # then the stale version wrote nothing and the push gave the published one
    assert (done.status, done.version, done.added, done.removed) == ("succeeded", 1, 2, 0)
    assert holders(rule) == {"a", "b"}
