import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand, CommandError

from loyalty.accounts.models import Account
from receipts.documents import ParsedReceipt, contains_nul, parse_receipt, strip_entity_fields, validate_receipt
from receipts.services.bulk import BulkResult, receipts_bulk_load


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

    def handle(self, *args, path, account, skip_invalid, chunk_size, **options):
        target = Account.objects.filter(aid=account).first()
        if target is None:
            raise CommandError(f"Account {account} does not exist; create it with create_account first.")
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"{path} is not a file")
        skipped: list[str] = []

        def receipts() -> Iterator[ParsedReceipt]:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
            try:
                for number, raw in enumerate(stream, start=1):
                    if not raw.strip():
                        continue
                    try:
                        document = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        problems = [("", f"not JSON: {exc}")]
                    else:
                        problems = validate_receipt(document)
                        if not problems and contains_nul(document):
                            problems = [("", "text must not contain NUL characters")]
                    if problems:
                        message = f"line {number}: " + "; ".join(f"{p or '(receipt)'} {m}" for p, m in problems)
                        if not skip_invalid:
                            raise CommandError(message)
                        skipped.append(message)
                        continue
                    yield parse_receipt(number, strip_entity_fields(document))
            finally:
                if stream is not sys.stdin.buffer:
                    stream.close()

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
