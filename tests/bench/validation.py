"""Per-receipt cost of decoding, validating and parsing receipts, stage by stage (no database).

    python -m tests.bench.validation [--receipts 20000] [--rounds 7]

Realistic receipts from the bench's generator, as JSON lines, in batches of 1,000 (a request's limit, the import's
parse batch). Each stage runs over each batch `--rounds` times and keeps the fastest, so a busy machine (the bench
dataset generating next to it) disturbs the figures little; garbage collection stays on, as in production.
The end-to-end rows are what the import (in one process, or split between parser processes and the command) and
`POST /receipts` (the body parser, then `receipts_validate`) spend per receipt before any SQL.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receipts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    django.setup()

    import orjson

    from loyalty.api.parsers import JSONParser
    from loyalty.core.validation import contains_nul
    from receipts.documents import parse_receipt, strip_entity_fields, validate_receipt
    from receipts.management.commands.import_receipts import _check_lines, _parse_checked, _parse_lines
    from receipts.services.generator import GeneratorSpec, ReceiptGenerator
    from receipts.services.ingest import receipts_validate

    spec = GeneratorSpec(receipts=args.receipts, customers=5000, stores=200, days=730, items=50000, groups=500)
    spec = replace(spec, end=datetime(2025, 1, 1, tzinfo=UTC))  # the same receipts on every run
    lines = [orjson.dumps(receipt.document) for receipt in ReceiptGenerator(spec)]
    batches = [lines[i : i + 1000] for i in range(0, len(lines), 1000)]
    print(f"{len(lines):,} receipts, {sum(map(len, lines)) / len(lines):,.0f} bytes of JSON each on average")

    def numbered(batch: list[bytes]) -> list[tuple[int, bytes]]:
        return list(enumerate(batch, start=1))

    def decoded(batch: list[bytes]) -> list[Any]:
        return [orjson.loads(line) for line in batch]

    # stage: (what it runs on, prepared once per batch; the timed work)
    stages: dict[str, tuple[Callable[[list[bytes]], Any], Callable[[Any], Any]]] = {
        "orjson.loads": (lambda batch: batch, decoded),
        "validate_receipt": (decoded, lambda docs: [validate_receipt(d) for d in docs]),
        "contains_nul": (decoded, lambda docs: [contains_nul(d) for d in docs]),
        "strip_entity_fields": (decoded, lambda docs: [strip_entity_fields(d) for d in docs]),
        "parse_receipt": (decoded, lambda docs: [parse_receipt(i, d) for i, d in enumerate(docs)]),
        "import --parsers 1": (numbered, _parse_lines),
        # with parser processes: what one spends per line, its answer pickled; what the command then spends
        "import: parser process": (numbered, lambda lines: pickle.dumps(_check_lines(lines))),
        "import: command": (
            lambda batch: (numbered(batch), pickle.dumps(_check_lines(numbered(batch)))),
            lambda sent: _parse_checked(sent[0], pickle.loads(sent[1])),  # noqa: S301 - our own pickle
        ),
        "HTTP: body parser": (
            lambda batch: b"[" + b",".join(batch) + b"]",
            lambda body: JSONParser().parse(io.BytesIO(body)),
        ),
        "HTTP: receipts_validate": (decoded, receipts_validate),
    }
    for name, (prepare, work) in stages.items():
        spent = 0.0
        for batch in batches:
            prepared = prepare(batch)
            fastest = float("inf")
            for _ in range(args.rounds):
                started = time.perf_counter()
                work(prepared)
                fastest = min(fastest, time.perf_counter() - started)
            spent += fastest
        print(f"{name:24} {spent / len(lines) * 1e6:7.1f} µs per receipt")
    assert all(problem is None for _, problem in _parse_lines(list(enumerate(lines[:1000])))), "all valid"


if __name__ == "__main__":
    main()
