"""Celery entry points: take ids, call one service. Retries, acks_late and limits live here."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from segments.services.freshness import receipts_arrived, receipts_sweep, schedule_tick
from segments.services.runs import runs_sweep, segment_recalculate


@shared_task(
    name="segments.recalculate",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=3,
    soft_time_limit=9 * 60,
    time_limit=10 * 60,
)
def recalculate(run_id: str) -> None:
    segment_recalculate(run_id=run_id)


@shared_task(name="segments.sweep", acks_late=True, soft_time_limit=50, time_limit=60)
def sweep() -> dict[str, int]:
    return {**runs_sweep(), "receipt_batches": receipts_sweep()}


@shared_task(name="segments.schedule", acks_late=True, soft_time_limit=50, time_limit=60)
def schedule() -> int:
    return schedule_tick()


@shared_task(
    name="segments.receipts_arrived",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def on_receipts_arrived(account_id: int) -> int:
    return receipts_arrived(account_id=account_id)
