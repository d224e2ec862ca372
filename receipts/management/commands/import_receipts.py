import sys
from collections import deque
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from loyalty.api.swagger import Errors
from receipts.documents import ParsedReceipt, contains_nul, parse_receipt, strip_entity_fields, validate_receipt
from receipts.services.bulk import BulkResult, receipts_bulk_load

PARSE_BATCH = 1_000  # lines per task sent to a parser process


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


def _parse_lines(batch: list[tuple[int, bytes]]) -> list[tuple[ParsedReceipt | None, str | None]]:
    """Decode, validate (like the API) and parse numbered lines: (receipt, None) or (None, problem)."""
    out: list[tuple[ParsedReceipt | None, str | None]] = []
    for number, raw in batch:
        document, problems = _decode(raw)
        if problems:
            out.append((None, _report(number, problems)))
        else:
            out.append((parse_receipt(number, strip_entity_fields(document)), None))
    return out


def _check_lines(batch: list[tuple[int, bytes]]) -> list[str | None]:
    """What a parser process does: each numbered line's problem, or None.

    The importing process decodes and parses the valid lines again (`_parse_checked`, ~25 µs per line): sending
    it the parsed receipts instead cost ~45 µs per line of parsing and pickling here and ~19 µs of unpickling there.
    """
    return [_report(number, problems) if (problems := _decode(raw)[1]) else None for number, raw in batch]


def _parse_checked(
    batch: list[tuple[int, bytes]], problems: list[str | None]
) -> list[tuple[ParsedReceipt | None, str | None]]:
    return [
        (None, problem) if problem else (parse_receipt(number, strip_entity_fields(orjson.loads(raw))), None)
        for (number, raw), problem in zip(batch, problems, strict=True)
    ]


class Command(BaseCommand):
    help = (
        "Bulk-import receipts from a file of JSON lines (one Dintero receipt per line) or '-' for stdin. "
        "Every receipt is validated like the API does; with --skip-invalid bad lines are reported and skipped, "
        "otherwise the first bad line stops the import before anything of its chunk is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .jsonl file, or - for stdin")
        parser.add_argument("--account", required=True)
        parser.add_argument("--skip-invalid", action="store_true")
        parser.add_argument("--chunk-size", type=int, default=10_000)
        parser.add_argument(
            "--parsers", type=int, default=2, help="processes decoding and validating lines (1: in this process)"
        )

    def handle(self, *args, path, account, skip_invalid, chunk_size, parsers, **options):
        target = Account.objects.filter(aid=account).first()
        if target is None:
            raise CommandError(f"Account {account} does not exist; create it with create_account first.")
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"{path} is not a file")
        skipped: list[str] = []

        def numbered() -> Iterator[list[tuple[int, bytes]]]:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
            try:
                lines = ((number, raw) for number, raw in enumerate(stream, start=1) if raw.strip())
                while batch := list(islice(lines, PARSE_BATCH)):
                    yield batch
            finally:
                if stream is not sys.stdin.buffer:
                    stream.close()

        def parsed_batches() -> Iterator[list[tuple[ParsedReceipt | None, str | None]]]:
            if parsers <= 1:
                yield from map(_parse_lines, numbered())
                return
            # Validating is most of the Python per receipt (see tests/bench/validation.py): parser processes do it,
            # in order, a bounded number of batches ahead; this process parses the lines they passed.
            import multiprocessing

            from django.db import connections

            connections.close_all()  # the children never use the database; do not hand them a socket
            with multiprocessing.get_context("fork").Pool(parsers) as pool:
                pending: deque = deque()
                for batch in numbered():
                    pending.append((batch, pool.apply_async(_check_lines, (batch,))))
                    if len(pending) >= 4 * parsers:
                        batch, checked = pending.popleft()
                        yield _parse_checked(batch, checked.get())
                while pending:
                    batch, checked = pending.popleft()
                    yield _parse_checked(batch, checked.get())

        def receipts() -> Iterator[ParsedReceipt]:
            for batch in parsed_batches():
                for receipt, problem in batch:
                    if problem is not None:
                        if not skip_invalid:
                            raise CommandError(problem)
                        skipped.append(problem)
                        continue
                    yield receipt

        def progress(result: BulkResult) -> None:
            if options["verbosity"] >= 1:
                self.stdout.write(f"  {result.stored:,} stored, {result.duplicates:,} duplicates, {result.rate:,.0f}/s")

        result = receipts_bulk_load(
            account=target, receipts=receipts(), created_by="import", chunk_size=chunk_size, progress=progress
        )
        for message in skipped[:20]:
            self.stderr.write(message)
        if len(skipped) > 20:
            self.stderr.write(f"... and {len(skipped) - 20} more invalid lines")
        self.stdout.write(
            f"{target.aid}: {result.stored:,} receipts stored, {result.duplicates:,} duplicates, "
            f"{len(skipped):,} invalid skipped, in {result.seconds:.1f}s ({result.rate:,.0f} receipts/s)"
        )
