"""Recalculation through real Celery worker processes on the configured broker."""

from __future__ import annotations

import signal
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from segments.models import Segment, SegmentRun
from segments.services import runs
from segments.services import segments as services
from segments.services.runs import runs_sweep
from segments.tasks import recalculate
from tests.helpers import COUNT_2, WorkerProcess, db_dsn
from tests.helpers import segment_member_ids as members
from tests.receipts.factories import receipt

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_creating_a_segment_over_the_api_gets_it_calculated_by_the_worker(celery_worker, api, wait_for):
    docs = [receipt(customer_id="a"), receipt(customer_id="a"), receipt(customer_id="b")]
    assert api.post("/v1/accounts/T00000001/receipts", docs, format="json").status_code == 200

    response = api.post("/api/T00000001/segment", {"segment": {"name": "Regulars", "parts": COUNT_2}}, format="json")

    segment_id = response.json()["segmentId"]
    body = wait_for(
        lambda: (b := api.get(f"/api/T00000001/segment/{segment_id}").json()).get("calculatedAt") and b,
        message="the worker's recalculation",
    )
    assert body["customersCount"] == 1
    assert SegmentRun.objects.get().status == "succeeded"


def test_a_worker_killed_mid_run_loses_nothing_and_the_sweep_recovers(account, api, wait_for, tmp_path, monkeypatch):
    # the runs of this test go to a queue only its own workers consume, so the kill hits the worker doing the run
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-kill"
    monkeypatch.setattr(runs, "_send", lambda run_id: recalculate.apply_async([str(run_id)], queue=queue))

    # given a segment published once
    assert (
        api.post(
            "/v1/accounts/T00000001/receipts", [receipt(customer_id="a"), receipt(customer_id="a")], format="json"
        ).status_code
        == 200
    )
    worker = WorkerProcess(connection.settings_dict["NAME"], tmp_path / "w1.log", queue=queue)
    worker.start()
    try:
        segment = services.segment_create(account=account, data={"name": "s", "parts": COUNT_2}, actor="t")
        wait_for(lambda: Segment.objects.get(pk=segment.pk).current_version == 1, message="first version")
        assert (
            api.post(
                "/v1/accounts/T00000001/receipts", [receipt(customer_id="b"), receipt(customer_id="b")], format="json"
            ).status_code
            == 200
        )

        # when the next run is held just before it publishes, and its worker is killed there
        blocker = psycopg.connect(**db_dsn(), autocommit=False)
        blocker.execute("SELECT 1 FROM segments_segment WHERE id = %s FOR NO KEY UPDATE", [segment.pk])
        run = services.segment_refresh(segment=segment, actor="t")
        wait_for(lambda: SegmentRun.objects.get(pk=run.pk).progress >= 30, message="the run to be computing")
        worker.kill(signal.SIGKILL)
        blocker.rollback()
        blocker.close()
    finally:
        worker.kill()

    # then the previous membership is intact and complete, and the run is left running without a heartbeat
    assert members(segment) == {"a"}
    assert SegmentRun.objects.get(pk=run.pk).status == "running"

    # and the sweep (ten minutes later) fails it and queues a retry, which a new worker completes
    runs_sweep(now=timezone.now() + timedelta(minutes=11))
    assert SegmentRun.objects.get(pk=run.pk).status == "failed"
    retry = SegmentRun.objects.get(segment=segment, status="queued")
    replacement = WorkerProcess(connection.settings_dict["NAME"], tmp_path / "w2.log", queue=queue)
    replacement.start()
    try:
        runs_sweep(now=timezone.now() + timedelta(minutes=3))  # hands queued runs to Celery again
        wait_for(lambda: SegmentRun.objects.get(pk=retry.pk).status == "succeeded", timeout=60, message="the retry")
    finally:
        replacement.stop()
    assert members(segment) == {"a", "b"}
