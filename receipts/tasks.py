"""Celery entry points of the receipts app."""

from celery import shared_task

from receipts.readmodels.buyers import code_buyers_forget_unused
from receipts.readmodels.maintenance import item_facts_repack
from receipts.readmodels.windows import purchase_windows_forget_unused


@shared_task(name="receipts.forget_unused_windows", acks_late=True, soft_time_limit=240, time_limit=300)
def forget_unused_windows() -> int:
    return purchase_windows_forget_unused()


@shared_task(name="receipts.forget_unused_buyers", acks_late=True, soft_time_limit=240, time_limit=300)
def forget_unused_buyers() -> int:
    return code_buyers_forget_unused()


@shared_task(name="receipts.repack_item_facts", acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def repack_item_facts() -> float | None:
    # hours at millions of receipts; REINDEX CONCURRENTLY blocks neither reads nor writes meanwhile
    repacked = item_facts_repack()
    return repacked.fill if repacked else None
