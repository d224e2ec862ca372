"""Dry runs: queue one (validated, nothing else written) and run it in a worker with progress (discounts/simulation.py
is the replay). The live usage ledger is never read or written: every counter is the replay's own."""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from typing import Any, cast

from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from discounts import documents
from discounts.errors import DiscountValidationError
from discounts.models import DiscountRef, DiscountRule, Simulation
from discounts.simulation import Replay, simulated_document
from loyalty.accounts.models import Account
from loyalty.core.jobs import enqueue_on_commit
from receipts.readmodels import queries as receipts
from segments import selectors as segments
from segments.selectors import SegmentNotFound

MAX_DAYS = 366
PROGRESS_EVERY = 5000  # receipts between two progress writes
PARTITION_AT_LEAST = 2000  # receipts per partition: a dry run of fewer than two partitions' stays in one process
# A partition reports every PROGRESS_EVERY / partitions receipts (a few seconds' work at most). When none of those
# still running has said anything for this long, they are stuck (a forked child can inherit a lock another thread
# of its parent held), and waiting longer would hold the worker forever: the run fails naming them, and they are
# killed.
PARTITION_SILENCE_LIMIT = 300.0  # seconds


def simulation_start(
    *,
    account: Account,
    rule: DiscountRule | None,
    document: Any,
    period_from: datetime,
    period_to: datetime,
    customers: Any,
    actor: str,
) -> Simulation:
    """Queue a dry run of `rule` (its stored document, or `document` instead: a draft or an edit not saved). Raises
    DiscountValidationError naming every bad field; the worker does the rest after commit."""
    if document is None and rule is not None:
        document = rule.document
    problems = _problems(account=account, rule=rule, document=document, customers=customers)
    if period_to <= period_from:
        problems.append(("to", "must be after from"))
    elif period_to - period_from > timedelta(days=MAX_DAYS):
        problems.append(("to", f"the period can be at most {MAX_DAYS} days"))
    if problems:
        raise DiscountValidationError(f"The simulation has {len(problems)} problem(s).", problems)
    with transaction.atomic():
        simulation = Simulation.objects.create(
            account=account,
            rule=rule,
            document=documents.strip_server_fields(document),
            period_from=period_from,
            period_to=period_to,
            customers=customers,
            created_by=actor,
        )
        enqueue_on_commit("discounts.simulate", args=[str(simulation.id)])
    return simulation


def _problems(*, account: Account, rule: DiscountRule | None, document: Any, customers: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(document, dict):
        return [("rule", "must be a discount rule object")]
    problems += [
        (f"rule.{path}" if path else "rule", message)
        for path, message in documents.validate_discount(documents.strip_server_fields(document))
    ]
    if customers == "given" and rule is None:
        problems.append(("customers", "a draft rule is given to nobody yet: use * or segment:<id>"))
    elif customers not in ("*", "given"):
        if not isinstance(customers, str) or not customers.startswith("segment:"):
            problems.append(("customers", 'must be "*", "given" or "segment:<segment id>"'))
        else:
            try:
                segments.segment_get(account=account, segment_id=customers.removeprefix("segment:"))
            except SegmentNotFound:
                problems.append(("customers", "no such segment in this account"))
    return problems


def _customer_pks(simulation: Simulation) -> QuerySet | None:
    """Whose receipts are replayed: None for every customer."""
    account = simulation.account
    if simulation.customers == "*":
        return None
    if simulation.customers == "given":
        holders = DiscountRef.objects.filter(account=account, rule_id=simulation.rule_id, deleted_at__isnull=True)
        if holders.filter(customer_id=documents.ANY_CUSTOMER).exists():
            return None
        return (
            receipts.customers_for_account(account=account)
            .filter(customer_id__in=holders.values("customer_id"))
            .values("pk")
        )
    segment = segments.segment_get(account=account, segment_id=simulation.customers.removeprefix("segment:"))
    return segments.segment_members(segment=segment).values("pk")


def simulation_run(*, simulation_id: str | uuid.UUID, partitions: int | None = None) -> Simulation | None:
    """Run a queued dry run. Its customers are split into `partitions` (default: the cores this process may use),
    replayed in as many forked processes, and their counts added up; one partition replays in this process."""
    simulation = Simulation.objects.select_related("account").filter(pk=simulation_id).first()
    if simulation is None or simulation.status not in (Simulation.Status.QUEUED, Simulation.Status.RUNNING):
        return simulation
    started = time.monotonic()
    account = simulation.account
    start, end = simulation.period_from, simulation.period_to
    who = _customer_pks(simulation)
    total = receipts.purchases_for_replay_count(account=account, start=start, end=end, customer_pks=who)
    _update(simulation, status=Simulation.Status.RUNNING, started_at=timezone.now(), receipts_total=total)
    if partitions is None:  # a few receipts are not worth a fork
        partitions = len(os.sched_getaffinity(0)) if total >= PARTITION_AT_LEAST * 2 else 1
    if connection.in_atomic_block:  # other processes would not see what this transaction wrote
        partitions = 1
    try:
        if partitions > 1:
            replay = _partitioned(simulation, who, total, partitions)
        else:
            replay = _replayed(simulation, who, (0, 1), lambda done: _progress(simulation, done, total))
        result = {**replay.result(), "receipts_total": total}
    except Exception as exc:
        _update(simulation, status=Simulation.Status.FAILED, error_message=str(exc)[:2000], **_finished(started))
        raise
    _update(simulation, status=Simulation.Status.SUCCEEDED, progress=100, result=result, **_finished(started))
    simulation.refresh_from_db()
    return simulation


def simulation_replay(simulation: Simulation) -> Replay:
    """An empty replay of the simulation's rule over its period."""
    start, end = simulation.period_from, simulation.period_to
    document = simulated_document(simulation.document, start=start, end=end)
    return Replay(
        rule_id=str(simulation.rule_id or simulation.id),
        rule_type=documents.parse_rule(document).type,
        rule_created_at=start,
        document=document,
        given_at=start,
        tz=simulation.account.tz,
    )


def _replayed(
    simulation: Simulation, who: QuerySet | None, partition: tuple[int, int], progress: Callable[[int], None]
) -> Replay:
    """One partition's customers replayed; `progress` hears how many of its receipts are done, every
    PROGRESS_EVERY / partitions."""
    every = max(1, PROGRESS_EVERY // partition[1])
    replay = simulation_replay(simulation)
    stream = receipts.purchases_for_replay(
        account=simulation.account,
        start=simulation.period_from,
        end=simulation.period_to,
        customer_pks=who,
        partition=partition,
    )
    for done, (customer_id, place, document) in enumerate(stream, start=1):
        replay.replay_lean(document, customer_id, place)
        if done % every == 0:
            progress(done)
    return replay


def _progress(simulation: Simulation, done: int, total: int) -> None:
    _update(simulation, receipts_done=done, progress=min(99, done * 100 // max(total, 1)))


def _partitioned(simulation: Simulation, who: QuerySet | None, total: int, partitions: int) -> Replay:
    """The customers split `partitions` ways (by pk), each part replayed by a forked process on its own
    connection; the parts are added up here, which also writes the progress they report."""
    connections.close_all()  # never share this process's connection with the children
    pipes: list[Connection] = []
    pids: list[int] = []
    parts: list[Replay] = []
    try:
        for k in range(partitions):
            ours, theirs = multiprocessing.Pipe(duplex=False)
            pipes.append(ours)
            pids.append(_forked(functools.partial(_partition, theirs, simulation, who, (k, partitions))))
            theirs.close()
        parts = _gathered(simulation, pipes, total)
    finally:
        _reaped(pids, grace=10.0 if parts else 0.0)  # after a failure the others' work is wasted: stop them now
        for pipe in pipes:
            pipe.close()
    replay = simulation_replay(simulation)
    replay.merge(parts)
    return replay


def _forked(target: Callable[[], None]) -> int:
    """A child process running `target`. os.fork rather than multiprocessing, which refuses children to daemonic
    processes, as a Celery worker's pool processes are."""
    pid = os.fork()
    if pid:
        return pid
    try:
        target()
    finally:
        os._exit(0)


def _reaped(pids: list[int], *, grace: float) -> None:
    """Wait for the children to exit; one still running after `grace` seconds is killed, so a stuck child never
    holds the worker (a child that sent its part has only its connection to close)."""
    deadline = time.monotonic() + grace
    running = set(pids)
    while running and time.monotonic() < deadline:
        running = {pid for pid in running if not os.waitpid(pid, os.WNOHANG)[0]}
        if running:
            time.sleep(0.01)
    for pid in running:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _gathered(simulation: Simulation, pipes: list[Connection], total: int) -> list[Replay]:
    done = [0] * len(pipes)
    parts: dict[int, Replay] = {}
    written = 0
    heard = time.monotonic()
    while len(parts) < len(pipes):
        waiting = [k for k in range(len(pipes)) if k not in parts]
        ready = wait_ready([pipes[k] for k in waiting], timeout=1.0)
        if ready:
            heard = time.monotonic()
        elif time.monotonic() - heard > PARTITION_SILENCE_LIMIT:
            silent = ", ".join(map(str, waiting))
            raise RuntimeError(f"dry run partition {silent} sent nothing for {PARTITION_SILENCE_LIMIT:.0f} s")
        for pipe in ready:
            k = pipes.index(cast(Connection, pipe))
            try:
                kind, found = pipes[k].recv()
            except EOFError:
                raise RuntimeError(f"dry run partition {k} exited unexpectedly") from None
            if kind == "failed":
                raise RuntimeError(f"dry run partition {k} failed: {found}")
            if kind == "replay":
                parts[k] = found
            else:
                done[k] = found
            if sum(done) >= written + PROGRESS_EVERY:
                written = sum(done) // PROGRESS_EVERY * PROGRESS_EVERY
                _progress(simulation, written, total)
    return [parts[k] for k in range(len(pipes))]


def _partition(pipe: Connection, simulation: Simulation, who: QuerySet | None, partition: tuple[int, int]) -> None:
    """In a forked process: one partition's replay, sent back without its per-customer state."""
    try:
        gc.freeze()  # what the fork inherited is never garbage: the collector need not walk it again and again
        replay = _replayed(simulation, who, partition, lambda done: pipe.send(("done", done)))
        pipe.send(("replay", replay.partial()))
    except BaseException as exc:
        with suppress(OSError):
            pipe.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


def _finished(started: float) -> dict[str, Any]:
    return {"finished_at": timezone.now(), "duration_ms": int((time.monotonic() - started) * 1000)}


def _update(simulation: Simulation, **fields: Any) -> None:
    Simulation.objects.filter(pk=simulation.pk).update(**fields)
