"""`import_receipts` with the read models kept current per chunk vs built after the load, on the same data, one
after the other: an indicative before/after for a machine too busy for the full `make bench`.

    python -m tests.bench.import_compare [--receipts 200000] [--preload 100000] [--rounds 2] [--processes 2]

In a database of its own (`loyalty_import_compare`), an account gets `--preload` generated receipts once (so the
tables are not empty), then the same `--receipts` receipts, under new receipt ids each time, are imported as a JSONL
file through the loader processes `import_receipts` uses, `--rounds` times each way, the ways alternating. Prints
one JSON object: per import the rate, the load average before and after, and the CPU time the database server and
the loader processes spent per receipt (less sensitive than wall time to what else runs on a shared machine); the
medians per way; the date and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

DB_NAME = "loyalty_import_compare"
END = datetime(2026, 11, 1, tzinfo=UTC)


def loadavg() -> list[float]:
    return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]


def _times(pid: int, fields: slice) -> int:
    return sum(int(v) for v in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[fields])


def server_cpu_seconds() -> float:
    """CPU seconds the database server's processes used so far: the postmaster, its live children, and the children
    it reaped (connections that ended). On a shared machine CPU per receipt says more than wall time."""
    from django.conf import settings
    from django.db import connection

    if not settings.LOYALTY_EMBEDDED_DATABASE:
        return float("nan")
    with connection.cursor() as cur:
        cur.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        postmaster = int((Path(cur.fetchone()[0]) / "postmaster.pid").read_text().split()[0])
    ticks = _times(postmaster, slice(11, 15))  # utime, stime, cutime, cstime
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                ticks += int(stat[11]) + int(stat[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (the loader processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=200_000)
    parser.add_argument("--preload", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="imports per way, alternating")
    args = parser.parse_args()
    os.environ["LOYALTY_DB_NAME"] = DB_NAME
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django

    django.setup()
    from tests.bench.harness import embedded_server_held

    with embedded_server_held():  # a test run ending meanwhile must not stop the embedded server under the loaders
        compare(args)


def _import(account, documents: list[str], prefix: str, after: bool, processes: int) -> dict:
    """One import of the documents, their receipt ids prefixed, through the loader processes import_receipts uses."""
    from receipts.management.commands.import_receipts import Lines
    from receipts.services.bulk import receipts_load_parallel

    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as out:
        for document in documents:
            out.write(document.replace('"receipt_id": "', f'"receipt_id": "{prefix}', 1).encode() + b"\n")
        path = out.name
    try:
        before, server, client = loadavg(), server_cpu_seconds(), client_cpu_seconds()
        with open(path, "rb") as stream:
            result = receipts_load_parallel(
                account=account,
                source=Lines(stream, 10_000),
                created_by="import",
                processes=processes,
                read_models_after=after,
            )
    finally:
        Path(path).unlink()
    return {
        "stored": result.stored,
        "seconds": round(result.seconds, 1),
        "receipts_per_s": round(result.rate),
        "server_cpu_us_per_receipt": round((server_cpu_seconds() - server) / result.stored * 1e6),
        "loaders_cpu_us_per_receipt": round((client_cpu_seconds() - client) / result.stored * 1e6),
        "loadavg_before": before,
        "loadavg_after": loadavg(),
    }


def compare(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from psycopg import sql

    from tests.bench.dataset import admin_connection

    with admin_connection() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))

    from loyalty.accounts.services import account_upsert
    from receipts.services.bulk import receipts_load_parallel
    from receipts.services.generator import GeneratedChunks, GeneratorSpec, ReceiptGenerator

    call_command("migrate", verbosity=0)
    shape = {"customers": 20_000, "stores": 50, "days": 365, "items": 10_000, "groups": 200, "end": END}
    account = account_upsert(aid="T00000601", name="import compare", currency="NOK", timezone_name="Europe/Oslo")
    if not account.receipts.exists():
        spec = GeneratorSpec(receipts=args.preload, seed=1, **shape)
        receipts_load_parallel(account=account, source=GeneratedChunks(spec), created_by="preload", processes=2)
    started = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    later = GeneratorSpec(receipts=args.receipts, seed=2, **shape | {"end": END + timedelta(1)})
    documents = [json.dumps(receipt.document) for receipt in ReceiptGenerator(later)]
    figures: dict[str, list[dict]] = {"per chunk": [], "after the load": []}
    for run in range(args.rounds):
        # the same receipts under new ids each time; the ways alternate, so drift in the machine's load hits both
        for name in ("per chunk", "after the load") if run % 2 == 0 else ("after the load", "per chunk"):
            prefix = f"imp{started}-{run}-{name[0]}-"
            figures[name].append(_import(account, documents, prefix, name == "after the load", args.processes))
    summary = {
        name: {
            "receipts_per_s_median": statistics.median(run["receipts_per_s"] for run in runs),
            "server_cpu_us_per_receipt_median": statistics.median(run["server_cpu_us_per_receipt"] for run in runs),
            "loaders_cpu_us_per_receipt_median": statistics.median(run["loaders_cpu_us_per_receipt"] for run in runs),
        }
        for name, runs in figures.items()
    }
    print(
        json.dumps(
            {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.node()}, {os.cpu_count()} cores",
                "receipts": args.receipts,
                "preloaded": args.preload,
                "processes": args.processes,
                "rounds": args.rounds,
                "summary": summary,
                "runs": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
