import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from loyalty.api.swagger import Errors
from loyalty.core.validation import contains_nul
from receipts.documents import ParsedReceipt, parse_receipt, strip_entity_fields, validate_receipt
from receipts.services.bulk import BulkResult, LoaderFailed, receipts_load_parallel


def _decode(raw: bytes) -> tuple[Any, Errors]:
    """A line's document and every problem with it, validated like the API does."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, [("", f"not JSON: {exc}")]
    problems = validate_receipt(document)
    # JSON carries U+0000 only as the escape \u0000 (a raw NUL byte is not JSON): a line without that sequence
    # has none, and skipping contains_nul's encoding of the document saves a few µs per line.
    if not problems and b"\\u0000" in raw and contains_nul(document):
        problems = [("", "text must not contain NUL characters")]
    return document, problems


def _report(number: int, problems: Errors) -> str:
    return f"line {number}: " + "; ".join(f"{p or '(receipt)'} {m}" for p, m in problems)


def parse_lines(lines: list[tuple[int, bytes]]) -> tuple[list[ParsedReceipt], list[str]]:
    """Decode, validate (like the API) and parse numbered lines: the receipts, and a report per bad line."""
    receipts: list[ParsedReceipt] = []
    problems: list[str] = []
    for number, raw in lines:
        document, found = _decode(raw)
        if found:
            problems.append(_report(number, found))
            continue
        stripped = strip_entity_fields(document)
        receipt = parse_receipt(number, stripped)
        if stripped is document:  # the line is the document: store its text instead of encoding it again
            receipt.document_json = raw.decode().strip()
        receipts.append(receipt)
    return receipts, problems


class Lines:
    """A ChunkSource (receipts.services.bulk) of a JSONL stream: this process reads and numbers the lines, the
    loader processes parse theirs."""

    def __init__(self, stream: BinaryIO, chunk_size: int):
        self.stream = stream
        self.chunk_size = chunk_size

    def tasks(self) -> Iterator[list[tuple[int, bytes]]]:
        lines = ((number, raw) for number, raw in enumerate(self.stream, start=1) if raw.strip())
        while chunk := list(islice(lines, self.chunk_size)):
            yield chunk

    def prepare(
        self, task: list[tuple[int, bytes]], *, shard: int, shards: int
    ) -> tuple[list[ParsedReceipt], list[str]]:
        return parse_lines(task)


class Command(BaseCommand):
    help = (
        "Bulk-import receipts from a file of JSON lines (one Dintero receipt per line) or '-' for stdin. "
        "Every receipt is validated like the API does; with --skip-invalid bad lines are reported and skipped, "
        "otherwise the first bad line stops the import: the chunks before its chunk are stored, nothing after."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .jsonl file, or - for stdin")
        parser.add_argument("--account", required=True)
        parser.add_argument("--skip-invalid", action="store_true")
        parser.add_argument("--chunk-size", type=int, default=10_000, help="lines per transaction")
        parser.add_argument(
            "--processes", type=int, default=2, help="loader processes (each parses and stores its chunks)"
        )
        parser.add_argument(
            "--read-models-per-chunk",
            action="store_true",
            help="keep the read models current in each chunk's transaction instead of building them when the load "
            "ends (segments then see the load's chunks as they commit)",
        )

    def handle(self, *args, path, account, skip_invalid, chunk_size, processes, read_models_per_chunk, **options):
        target = self._target(path, account, chunk_size, processes)

        def progress(result: BulkResult) -> None:
            if options["verbosity"] >= 1:
                self.stdout.write(f"  {result.stored:,} stored, {result.duplicates:,} duplicates, {result.rate:,.0f}/s")

        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
        try:
            result = receipts_load_parallel(
                account=target,
                source=Lines(stream, chunk_size),
                created_by="import",
                processes=processes,
                stop_on_problems=not skip_invalid,
                progress=progress,
                read_models_after=not read_models_per_chunk,
            )
        except LoaderFailed as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        self._report(target, result)

    @staticmethod
    def _target(path: str, account: str, chunk_size: int, processes: int) -> Account:
        """The account to import into, once the arguments are known to be usable."""
        target = Account.objects.filter(aid=account).first()
        if target is None:
            raise CommandError(f"Account {account} does not exist; create it with create_account first.")
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"{path} is not a file")
        if chunk_size < 1 or processes < 1:
            raise CommandError("--chunk-size and --processes must be positive")
        return target

    def _report(self, target: Account, result: BulkResult) -> None:
        if result.stopped:
            raise CommandError(
                f"{result.problems[0]} (stopped: {result.stored:,} receipts of the chunks before it were stored)"
            )
        for message in result.problems[:20]:
            self.stderr.write(message)
        if len(result.problems) > 20:
            self.stderr.write(f"... and {len(result.problems) - 20} more invalid lines")
        self.stdout.write(
            f"{target.aid}: {result.stored:,} receipts stored, {result.duplicates:,} duplicates, "
            f"{len(result.problems):,} invalid skipped, in {result.seconds:.1f}s ({result.rate:,.0f} receipts/s)"
        )
