"""Bulk loading: the `import_receipts` and `generate_receipts` commands, the demo and the benchmark data.

Receipts go in chunks of thousands, each chunk one transaction, with the same outcome as `POST /receipts`
(duplicates skipped; customers, facts and windows exact). Two ways to run:

- `receipts_bulk_load`: one process; `workers` chunks in flight on as many connections, each through the one write
  path (receipts.services.store), which keeps every read model current in the chunk's transaction. For tests and
  small loads.
- `receipts_load_parallel`: loader processes that each prepare their chunks (decode, validate and parse lines, or
  generate receipts) and store them on their own connection. By default the chunks store the receipts only and
  stage their read models, which are built set-based when the load ends (receipts.services.deferred): what
  `import_receipts`, the generator and the benchmark's dataset use. Preparing is Python work under one GIL and storing is
  mostly PostgreSQL's (the JSONB documents, the indexes): with a process per core, one loader prepares while
  another's chunk is in the server, and both cores stay busy.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from typing import Any, Protocol, cast

from django.db import connection, connections, transaction

from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor
from receipts.documents import ParsedReceipt
from receipts.models import IngestBatch
from receipts.services import read_models as rm
from receipts.services.deferred import receipts_stage, staged_read_models_build
from receipts.services.store import receipts_not_stored, receipts_store, retrying_deadlocks


@dataclass
class BulkResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # what loader processes found wrong, chunk by chunk
    stopped: bool = False  # a chunk had problems and nothing from it on was stored

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0


def _chunks(iterable: Iterable[ParsedReceipt], size: int) -> Iterator[list[ParsedReceipt]]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


@contextmanager
def _few_collections() -> Iterator[None]:
    """Fewer garbage collections while loading.

    Chunks in flight are a million small acyclic objects that reference counting frees; the default thresholds
    make the collector walk them (and whatever the caller holds, such as the generator's customers) thousands of
    times, which cost more CPU than generating the receipts. Objects that exist now are frozen out of collection
    and young collections run every 20,000 allocations instead of every 700; both are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _store_chunk(
    account: Account,
    chunk: list[ParsedReceipt],
    created_by: str,
    known_codes: dict[tuple[str, str], int],
    staged_as: int | None = None,
) -> int:
    """Store one chunk; returns how many were new. `known_codes` (item codes committed earlier) is used, and
    extended with the chunk's new codes once they are committed. With `staged_as` (the chunk's number in the load)
    its read models are staged for the end of the load (receipts.services.deferred) instead of kept current."""
    unique: dict[tuple[str, str], ParsedReceipt] = {}
    for receipt in chunk:  # duplicates inside the chunk: the first wins, as in the API
        unique.setdefault((receipt.receipt_id, receipt.store_id), receipt)

    def attempt() -> int:
        # New customers and item codes are created and committed first, on their own: a new row is locked by the
        # transaction that inserts it, so a chunk that created them in its own long transaction would hold up every
        # other chunk with one of them until it commits (new customers in an import, rare items in generated
        # data). A chunk that fails after this leaves customers without receipts, as a receipt moved away does, and
        # codes nothing refers to yet.
        with transaction.atomic():
            cur = raw_cursor()
            new = receipts_not_stored(cur=cur, account_id=account.id, receipts=list(unique.values()))
            customers = rm.customers_ensure(cur, account.id, (r.customer_id for r in new if r.customer_id))
            codes = rm.codes_resolve(cur, account.id, rm.codes_missing(new, known_codes))
        known_codes.update(codes)  # committed
        if not new:
            return 0
        with transaction.atomic():
            if staged_as is not None:
                return receipts_stage(
                    account=account,
                    receipts=new,
                    created_by=created_by,
                    source=IngestBatch.Source.IMPORT,
                    received=len(chunk),
                    customers=customers,
                    codes=known_codes,
                    chunk_number=staged_as,
                )
            stored = receipts_store(
                account=account,
                receipts=new,
                created_by=created_by,
                source=IngestBatch.Source.IMPORT,
                received=len(chunk),
                probed=True,
                customers=customers,
                known_codes=known_codes,
            )
        return len(stored.rows)

    return retrying_deadlocks(attempt)


# A loader process collects cyclic garbage once per this many chunks, not while it works on one.
COLLECT_EVERY_CHUNKS = 16
# A busy loader answers within one chunk's work (about a second). When none of them has for this long, they are stuck
# (waiting for a decision that never comes, or on a lock a forked child inherited) and the load fails instead of
# waiting forever.
LOADER_SILENCE_LIMIT = 300.0  # seconds


@contextmanager
def _collections_between_chunks() -> Iterator[Callable[[], None]]:
    """In a loader process: no garbage collections while it prepares and stores a chunk; a full one every
    COLLECT_EVERY_CHUNKS chunks (call the yielded function after each).

    A chunk is a million acyclic objects (the decoded documents, their parsed receipts, the COPY rows) that
    reference counting frees; with collections enabled, even at `_few_collections`' thresholds, the collector walks
    them again and again, about a third of the cost of preparing a line. The periodic collection (~190 ms with a
    chunk alive) bounds what cycles a driver or an error leaves behind.
    """
    gc.freeze()
    gc.disable()
    done = 0

    def chunk_done() -> None:
        nonlocal done
        done += 1
        if done % COLLECT_EVERY_CHUNKS == 0:
            gc.collect()

    try:
        yield chunk_done
    finally:
        gc.enable()
        gc.unfreeze()


def receipts_bulk_load(
    *,
    account: Account,
    receipts: Iterable[ParsedReceipt],
    created_by: str,
    chunk_size: int = 10_000,
    workers: int = 2,
    progress: Callable[[BulkResult], None] | None = None,
) -> BulkResult:
    """Store parsed (already validated) receipts in this process; `workers` chunks in flight."""
    with _few_collections():
        return _bulk_load(account, receipts, created_by, chunk_size, workers, progress)


def _bulk_load(
    account: Account,
    receipts: Iterable[ParsedReceipt],
    created_by: str,
    chunk_size: int,
    workers: int,
    progress: Callable[[BulkResult], None] | None,
) -> BulkResult:
    result = BulkResult()
    started = time.monotonic()
    lock = threading.Lock()
    known_codes: dict[tuple[str, str], int] = {}

    def load(chunk: list[ParsedReceipt]) -> tuple[int, int]:
        try:
            with lock:
                known = dict(known_codes)
            stored = _store_chunk(account, chunk, created_by, known)
            with lock:
                known_codes.update(known)
            return len(chunk), stored
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    def record(outcome: tuple[int, int]) -> None:
        received, stored = outcome
        with lock:
            _add(result, received, stored, started)
        if progress:
            progress(result)

    chunks = _chunks(receipts, chunk_size)
    if workers <= 1:
        for chunk in chunks:
            record(load(chunk))
    else:
        _load_in_threads(chunks, load, record, workers)
    return result


def _load_in_threads(
    chunks: Iterable[list[ParsedReceipt]],
    load: Callable[[list[ParsedReceipt]], tuple[int, int]],
    record: Callable[[tuple[int, int]], None],
    workers: int,
) -> None:
    """`load` each chunk on a pool of `workers` threads, at most `workers` in flight; `record` each outcome."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool:
        pending: set[Future[tuple[int, int]]] = set()
        for chunk in chunks:
            if len(pending) >= workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    record(future.result())
            pending.add(pool.submit(load, chunk))
        for future in pending:
            record(future.result())


def _add(result: BulkResult, received: int, stored: int, started: float) -> None:
    result.received += received
    result.stored += stored
    result.duplicates += received - stored
    result.seconds = time.monotonic() - started


# --- loader processes ------------------------------------------------------------------------------------------------


class ChunkSource(Protocol):
    """Where a parallel load's chunks come from."""

    def tasks(self) -> Iterator[Any]:
        """In the calling process, in order: one small, picklable task per chunk (its lines, or its number)."""
        ...

    def prepare(self, task: Any, *, shard: int, shards: int) -> tuple[list[ParsedReceipt], list[str]]:
        """In loader process `shard` of `shards`, which gets every `shards`-th task: the chunk's receipts and the
        problems found in it."""
        ...


class LoaderFailed(RuntimeError):
    pass


def receipts_load_parallel(
    *,
    account: Account,
    source: ChunkSource,
    created_by: str,
    processes: int = 2,
    stop_on_problems: bool = True,
    progress: Callable[[BulkResult], None] | None = None,
    read_models_after: bool = True,
) -> BulkResult:
    """Load the source's chunks with `processes` loader processes (forked, each with its own connection).

    With `read_models_after` the chunks store the receipts and stage their read models, which are built when the
    load ends, whatever ends it (receipts.services.deferred); without, each chunk keeps them current as it commits.

    Chunk i goes to process i % processes, so a source that generates can keep state per process. A chunk is
    stored only when every chunk before it has been prepared and, with `stop_on_problems`, none of them (nor it)
    had a problem: the first problem stops the load with everything before its chunk stored and nothing after,
    as a single process would leave it.
    """
    if connection.in_atomic_block:
        # the loaders commit on connections of their own: they would not see what this transaction wrote
        raise RuntimeError("receipts_load_parallel must not run inside a transaction")
    started = time.monotonic()
    result = BulkResult()
    fork = multiprocessing.get_context("fork")
    connections.close_all()  # never share this process's connection with the children
    pipes: list[Connection] = []
    loaders = []
    for shard in range(processes):
        ours, theirs = fork.Pipe()
        loader = fork.Process(
            target=_loader,
            args=(theirs, account.pk, source, shard, processes, created_by, read_models_after),
            daemon=True,
        )
        loader.start()
        theirs.close()
        pipes.append(ours)
        loaders.append(loader)
    try:
        _coordinate(pipes, source, stop_on_problems, result, started, progress)
    except BaseException:
        for loader in loaders:
            loader.kill()
        raise
    finally:
        for pipe in pipes:
            with suppress(OSError):
                pipe.send(None)
        for loader in loaders:
            loader.join(timeout=60)
        if read_models_after:
            # what the chunks stored gets its read models even when a loader failed or the load was stopped
            staged_read_models_build(account=account)
    result.seconds = time.monotonic() - started
    return result


def _coordinate(
    pipes: list[Connection],
    source: ChunkSource,
    stop_on_problems: bool,
    result: BulkResult,
    started: float,
    progress: Callable[[BulkResult], None] | None,
) -> None:
    _Coordinator(pipes, source, stop_on_problems, result, started, progress).run()


class _Coordinator:
    """Hands chunks to the loader processes in order and decides, in chunk order, whether each is stored."""

    def __init__(
        self,
        pipes: list[Connection],
        source: ChunkSource,
        stop_on_problems: bool,
        result: BulkResult,
        started: float,
        progress: Callable[[BulkResult], None] | None,
    ) -> None:
        self.pipes, self.shards = pipes, len(pipes)
        self.stop_on_problems, self.result, self.started, self.progress = stop_on_problems, result, started, progress
        self.tasks = enumerate(source.tasks())
        self.queued: dict[int, tuple[int, Any]] = {}  # shard → its next task, read ahead while it works on one
        self.busy: set[int] = set()
        self.checked: dict[int, tuple[int, list[str]]] = {}  # chunk → (its shard, its problems), awaiting a decision
        self.decided = 0  # every chunk before this one is decided
        self.read = 0  # tasks read so far
        self.exhausted = False

    def run(self) -> None:
        self.fill()
        heard = time.monotonic()
        while self.busy:
            ready = wait_ready([self.pipes[shard] for shard in self.busy], timeout=1.0)
            if ready:
                heard = time.monotonic()
            elif time.monotonic() - heard > LOADER_SILENCE_LIMIT:
                raise LoaderFailed(f"no loader process answered for {LOADER_SILENCE_LIMIT:.0f} s")
            for pipe in ready:
                shard = self.pipes.index(cast(Connection, pipe))
                self.receive(shard, self.pipes[shard])
            self.fill()
        self.result.seconds = time.monotonic() - self.started

    def fill(self) -> None:
        """Read tasks in order while the next one's shard has none waiting; hand idle shards their next task."""
        while not self.exhausted and not self.result.stopped and self.read % self.shards not in self.queued:
            try:
                self.queued[self.read % self.shards] = next(self.tasks)
                self.read += 1
            except StopIteration:
                self.exhausted = True
        for shard in range(self.shards):
            if shard not in self.busy and shard in self.queued and not self.result.stopped:
                self.pipes[shard].send(self.queued.pop(shard))
                self.busy.add(shard)

    def receive(self, shard: int, pipe: Connection) -> None:
        try:
            message = pipe.recv()
        except EOFError:
            raise LoaderFailed(f"loader process {shard} exited unexpectedly") from None
        if message[0] == "failed":
            raise LoaderFailed(f"loader process {shard} failed:\n{message[2]}")
        if message[0] == "checked":
            _, index, problems = message
            self.checked[index] = (shard, problems)
            self.decide()
        else:
            _, index, received, stored = message
            _add(self.result, received, stored, self.started)
            self.busy.discard(shard)
            if self.progress:
                self.progress(self.result)

    def decide(self) -> None:
        """Tell each checked chunk's loader to store or skip it, in chunk order."""
        result = self.result
        while self.decided in self.checked:
            waiting, problems = self.checked.pop(self.decided)
            if not result.stopped:  # what a single process would report: nothing past the stop
                result.problems.extend(problems)
            result.stopped = result.stopped or (self.stop_on_problems and bool(problems))
            self.pipes[waiting].send("skip" if result.stopped else "store")
            if result.stopped:
                self.busy.discard(waiting)
            self.decided += 1
        if result.stopped:
            # Past the stop every chunk is skipped, in any order: a loader may hold a later chunk whose predecessor
            # was never handed out (its loader was busy when the stop came), and would wait for it forever.
            for waiting, _ in self.checked.values():
                self.pipes[waiting].send("skip")
                self.busy.discard(waiting)
            self.checked.clear()


def _loader(
    pipe: Connection,
    account_pk: int,
    source: ChunkSource,
    shard: int,
    shards: int,
    created_by: str,
    read_models_after: bool,
) -> None:
    try:
        account = Account.objects.get(pk=account_pk)
        known_codes: dict[tuple[str, str], int] = {}
        with _collections_between_chunks() as chunk_done:
            while (message := pipe.recv()) is not None:
                index, task = message
                receipts, problems = source.prepare(task, shard=shard, shards=shards)
                pipe.send(("checked", index, problems))
                if pipe.recv() == "store":
                    staged_as = index if read_models_after else None
                    stored = _store_chunk(account, receipts, created_by, known_codes, staged_as) if receipts else 0
                    pipe.send(("stored", index, len(receipts), stored))
                del receipts, task  # before the next chunk arrives: one chunk's objects alive at a time
                chunk_done()
    except EOFError:
        pass  # the coordinator is gone
    except BaseException:
        with suppress(OSError):
            pipe.send(("failed", shard, traceback.format_exc()))
    finally:
        connections.close_all()
