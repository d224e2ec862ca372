"""Runs: versioned publish, superseding, the ledger, and the stuck-run sweep."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from segments.models import MembershipSpan, Segment, SegmentMember, SegmentRun
from segments.services import segments as services
from segments.services.runs import runs_sweep, segment_recalculate
from tests.helpers import COUNT_2, db_dsn, sessions_blocked_by, wait_until
from tests.helpers import segment_member_ids as members
from tests.receipts.factories import receipt

RECEIPTS = "/v1/accounts/T00000001/receipts"


def post(api, *docs):
    assert api.post(RECEIPTS, list(docs), format="json").status_code == 200


def make_segment(account, parts, name="s") -> Segment:
    return services.segment_create(account=account, data={"name": name, "parts": parts}, actor="test")


def queued(segment) -> SegmentRun:
    return SegmentRun.objects.filter(segment=segment, status="queued").latest("created_at")


@pytest.mark.django_db(transaction=True)
class TestPublish:
    def test_diff_stats_and_ledger_across_versions(self, api, account):
        post(api, receipt(customer_id="a"), receipt(customer_id="a"), receipt(customer_id="b"))
        segment = make_segment(account, COUNT_2)
        first = segment_recalculate(run_id=queued(segment).id)
        assert (first.status, first.version, first.members, first.added, first.removed) == ("succeeded", 1, 1, 1, 0)
        assert members(segment) == {"a"}

        # b buys again and enters; a's second receipt... stays
        post(api, receipt(customer_id="b"))
        run = services.segment_refresh(segment=segment, actor="test")
        second = segment_recalculate(run_id=run.id)
        assert (second.version, second.members, second.added, second.removed) == (2, 2, 1, 0)

        services.segment_update(
            segment=segment,
            data={"name": "s", "parts": [{"criteria": [{"type": "transaction_count", "min": 2, "max": 2}]}]},
            actor="t",
        )
        post(api, receipt(customer_id="a"))  # a now has 3 and leaves
        third = segment_recalculate(run_id=queued(segment).id)
        assert (third.added, third.removed, third.members) == (0, 1, 1)
        assert members(segment) == {"b"}
        # only the published version is kept
        assert set(SegmentMember.objects.filter(segment=segment).values_list("version", flat=True)) == {3}
        spans = {
            (s.customer.customer_id, s.entered_reason, s.left_reason)
            for s in MembershipSpan.objects.select_related("customer")
        }
        assert spans == {("a", "definition_change", "definition_change"), ("b", "manual", "")}
        segment.refresh_from_db()
        assert segment.customers_count == 1 and segment.calculated_at is not None

    def test_a_run_that_finds_the_same_members_keeps_the_version(self, api, account):
        # given a calculated segment
        post(api, receipt(customer_id="a"), receipt(customer_id="a"), receipt(customer_id="b"))
        segment = make_segment(account, COUNT_2)
        first = segment_recalculate(run_id=queued(segment).id)
        rows_before = list(SegmentMember.objects.filter(segment=segment).values_list("version", "customer_id"))

        # when it is recalculated with nothing changed, and then after b qualifies
        again = segment_recalculate(run_id=services.segment_refresh(segment=segment, actor="test").id)
        after_again = list(SegmentMember.objects.filter(segment=segment).values_list("version", "customer_id"))
        post(api, receipt(customer_id="b"))
        changed = segment_recalculate(run_id=services.segment_refresh(segment=segment, actor="test").id)

        # then the unchanged run kept version and rows (and still succeeded with fresh figures) ...
        assert (again.status, again.version, again.members, again.added, again.removed) == ("succeeded", 1, 1, 0, 0)
        assert after_again == rows_before
        segment.refresh_from_db()
        # ... and the next change published a new version with only its rows
        assert (changed.version, changed.members, changed.added) == (first.version + 1, 2, 1)
        assert segment.current_version == 2 and members(segment) == {"a", "b"}
        assert set(SegmentMember.objects.filter(segment=segment).values_list("version", flat=True)) == {2}

    def test_readers_see_the_old_set_until_the_new_version_commits(self, api, account):
        post(api, receipt(customer_id="a"), receipt(customer_id="a"), receipt(customer_id="b"))
        segment = make_segment(account, COUNT_2)
        segment_recalculate(run_id=queued(segment).id)
        post(api, receipt(customer_id="b"))
        run = services.segment_refresh(segment=segment, actor="test")

        # given a second session holding the segment row, so the publish stops just before it flips the version
        blocker = psycopg.connect(**db_dsn(), autocommit=False)
        blocker.execute("SELECT 1 FROM segments_segment WHERE id = %s FOR NO KEY UPDATE", [segment.pk])
        worker = threading.Thread(target=lambda: (segment_recalculate(run_id=run.id), connection.close()))
        worker.start()
        try:
            wait_until(lambda: SegmentRun.objects.get(pk=run.pk).progress >= 30)
            # the new version's rows are written, uncommitted, and the publish waits for the segment row
            wait_until(lambda: sessions_blocked_by(blocker), message="the publish to wait for the segment row")
            # then a reader still sees the complete previous version
            assert members(segment) == {"a"}
            assert SegmentRun.objects.get(pk=run.pk).status == "running"
        finally:
            blocker.commit()
            blocker.close()
            worker.join(timeout=30)
        assert members(segment) == {"a", "b"}

    def test_a_newer_definition_supersedes_an_older_run(self, api, account):
        post(api, receipt(customer_id="a"), receipt(customer_id="a"))
        segment = make_segment(account, COUNT_2)
        old_run = queued(segment)
        services.segment_update(
            segment=segment,
            data={"name": "s", "parts": [{"criteria": [{"type": "transaction_count", "min": 5}]}]},
            actor="t",
        )

        assert segment_recalculate(run_id=old_run.id).status == "superseded"
        new = segment_recalculate(run_id=queued(segment).id)
        assert (new.status, new.members) == ("succeeded", 0)
        assert not SegmentMember.objects.filter(segment=segment).exclude(version=new.version).exists()

    def test_a_run_superseded_while_computing_writes_nothing(self, api, account, monkeypatch):
        post(api, receipt(customer_id="a"), receipt(customer_id="a"))
        segment = make_segment(account, COUNT_2)
        run = queued(segment)
        from segments import engine

        original = engine.matching_customers

        def edit_meanwhile(**kwargs):
            Segment.objects.filter(pk=segment.pk).update(definition_version=99)
            return original(**kwargs)

        monkeypatch.setattr(engine, "matching_customers", edit_meanwhile)
        assert segment_recalculate(run_id=run.id).status == "superseded"
        assert not SegmentMember.objects.filter(segment=segment).exists()
        segment.refresh_from_db()
        assert segment.current_version is None and segment.calculated_at is None

    def test_a_failing_definition_marks_the_run_failed_and_keeps_the_old_version(self, api, account):
        post(api, receipt(customer_id="a"), receipt(customer_id="a"))
        segment = make_segment(account, COUNT_2)
        segment_recalculate(run_id=queued(segment).id)
        # a stored definition that no longer validates (written behind the service's back)
        Segment.objects.filter(pk=segment.pk).update(
            definition={
                "parts": [
                    {"segmentPartId": "p", "criteria": [{"criterionId": "c", "type": "transaction_count", "min": "x"}]}
                ]
            }
        )
        run = services.segment_refresh(segment=segment, actor="test")
        with pytest.raises(Exception, match="min"):
            segment_recalculate(run_id=run.id)
        run.refresh_from_db()
        assert run.status == "failed" and "min" in run.error_message
        assert members(segment) == {"a"}

    def test_one_open_run_per_definition(self, account):
        segment = make_segment(account, COUNT_2)
        again = services.segment_refresh(segment=segment, actor="test")
        assert again == queued(segment)
        assert SegmentRun.objects.filter(segment=segment).count() == 1


@pytest.mark.django_db(transaction=True)
class TestSweep:
    def test_a_run_without_heartbeat_fails_and_is_requeued(self, account):
        segment = make_segment(account, COUNT_2)
        run = queued(segment)
        stale = timezone.now() - timedelta(minutes=11)
        SegmentRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=stale, started_at=stale, attempts=1)

        outcome = runs_sweep()

        run.refresh_from_db()
        assert (run.status, run.error_code) == ("failed", "stuck")
        retry = queued(segment)
        assert retry.trigger == "retry" and retry.pk != run.pk
        assert outcome["failed"] == 1 and outcome["requeued"] == 1

    def test_out_of_attempts_stays_failed(self, account):
        segment = make_segment(account, COUNT_2)
        run = queued(segment)
        stale = timezone.now() - timedelta(minutes=11)
        SegmentRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=stale, attempts=3)
        runs_sweep()
        assert not SegmentRun.objects.filter(status="queued").exists()

    def test_a_recent_running_run_is_left_alone(self, account):
        segment = make_segment(account, COUNT_2)
        run = queued(segment)
        SegmentRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now())
        assert runs_sweep()["failed"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_window_dropped_between_compiling_and_computing_is_built_again(api, account, monkeypatch):
    # given a period criterion, and a receipt changing customer right after the definition was compiled (which
    # drops the purchase windows it falls in)
    from receipts.models import PurchaseWindow
    from segments import engine

    post(api, *(receipt(customer_id="a", purchase_at=f"2024-05-0{d}T12:00:00Z") for d in (1, 2, 3)))
    post(api, receipt(customer_id="b", purchase_at="2024-05-02T12:00:00Z"))
    parts = [
        {
            "criteria": [
                {"type": "transaction_count_in_period", "min": 2, "fromDate": "2024-05-01", "toDate": "2024-05-31"}
            ]
        }
    ]
    segment = make_segment(account, parts)
    compiled = []
    matching_customers = engine.matching_customers

    def compile_then_drop(**kwargs):
        queryset = matching_customers(**kwargs)
        compiled.append(set(kwargs["ctx"].windows_used))
        if len(compiled) == 1:
            PurchaseWindow.objects.filter(account=account).delete()  # as windows_forget_covering does
        return queryset

    monkeypatch.setattr(engine, "matching_customers", compile_then_drop)

    # when it is calculated, then it compiles again (building the window again) and finds the right members
    run = segment_recalculate(run_id=queued(segment).id)
    assert run.status == "succeeded"
    assert members(segment) == {"a"}
    assert len(compiled) == 2 and compiled[0] and compiled[0] != compiled[1]
