import sys
from collections import deque
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from receipts.documents import ParsedReceipt, contains_nul, parse_receipt, strip_entity_fields, validate_receipt
from receipts.services.bulk import BulkResult, receipts_bulk_load

PARSE_BATCH = 1_000  # lines per task sent to a parser process


def _parse_lines(batch: list[tuple[int, bytes]]) -> list[tuple[ParsedReceipt | None, str | None]]:
    """Decode, validate (like the API) and parse numbered lines: (receipt, None) or (None, problem)."""
    out: list[tuple[ParsedReceipt | None, str | None]] = []
    for number, raw in batch:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems = [("", f"not JSON: {exc}")]
        else:
            problems = validate_receipt(document)
            if not problems and contains_nul(document):
                problems = [("", "text must not contain NUL characters")]
        if problems:
            out.append((None, f"line {number}: " + "; ".join(f"{p or '(receipt)'} {m}" for p, m in problems)))
        else:
            out.append((parse_receipt(number, strip_entity_fields(document)), None))
    return out


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
            # Decoding and validating is ~250 µs of Python per receipt, so one process caps the import at a few
            # thousand receipts/s: parser processes do it, in order, a bounded number of batches ahead.
            import multiprocessing

            from django.db import connections

            connections.close_all()  # the children never use the database; do not hand them a socket
            with multiprocessing.get_context("fork").Pool(parsers) as pool:
                pending: deque = deque()
                for batch in numbered():
                    pending.append(pool.apply_async(_parse_lines, (batch,)))
                    if len(pending) >= 4 * parsers:
                        yield pending.popleft().get()
                while pending:
                    yield pending.popleft().get()

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
