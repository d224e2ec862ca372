"""Sending work to the workers: by task name, after the current transaction commits.

Services never import tasks (tasks import services), so they enqueue by name. The database row a task works on is
always written first and is the durable record: a broker that is down when the message is sent loses nothing, the
app's sweep finds the row, so a failed send is logged, never raised into a committed request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from loyalty.celery import app

logger = logging.getLogger(__name__)


def enqueue_on_commit(
    task_name: str,
    *,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    countdown: float | None = None,
    queue: str | None = None,
) -> None:
    def send() -> None:
        options: dict[str, Any] = {}
        if countdown is not None:
            options["countdown"] = countdown
        if queue is not None:
            options["queue"] = queue
        try:
            app.send_task(task_name, args=list(args), kwargs=kwargs or {}, **options)
        except Exception:  # the broker is down; the durable row waits for the sweep
            logger.warning("could not send %s%s; the sweep will pick it up", task_name, tuple(args), exc_info=True)

    transaction.on_commit(send)
