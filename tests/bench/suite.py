"""`make bench` / `python manage.py bench`: the benchmark suite (issue 7).

    python -m tests.bench.suite [--scale 1.0] [--repeats N] [--only REGEX] [--no-baselines]

Builds (or reuses, keyed by its parameters) a dataset of 5M receipts / ~20M lines / 200k customers / 200 stores /
50k items in 500 groups over 2 years, plus a second account of 10 %, in its own database; starts gunicorn and a
Celery worker on it; runs every scenario through the real code path several times warm; prints p50/p95 per
scenario with its target and the ratios to the baselines; writes JSON to tests/bench/results/ (and, at full scale,
tests/bench/results/latest.md). Exits 1 when a scenario errored (timings never fail the run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

TARGETS = {
    "ingest over HTTP (POST 1,000/batch)": 2_500,
    "bulk import (import_receipts)": 25_000,
    "customer_segment selective": 15,
    "customer_segment broad": 1_500,
    "recalculate aggregate (steady state)": 500,
    "recalculate OR (steady state)": 500,
    "recalculate mixed (10 criteria, steady state)": 500,
    "recalculate aggregate, first run of a new day": 1_000,
    "preview aggregate": 300,
    "preview OR": 300,
    "preview mixed (10 criteria)": 500,
    "push 100k members (once)": 2_000,
    "claims from 8 concurrent clients": 300,
    "ingest with discount refs over HTTP (POST 1,000/batch)": 2_500,
    "POST /discounts/events (4 clients)": 500,
    "impact report of a 100k-member link over 90 days": 1_000,
    "dry run over 90 days (all customers)": 20_000,
    "available_for_receipt (20 lines, 50 refs)": 15,
    "available_for_receipt explain=true": 25,
}
PAGE_TARGET = 150
# issue 21: ours ÷ DuckDB over the same data, measured in the same run (the machine is noisy, a ratio is not)
DUCKDB_RATIOS = (
    ("customer_segment selective", "DuckDB customer_segment selective", 1.0),
    ("customer_segment broad", "DuckDB customer_segment broad", 1.5),
    ("recalculate aggregate (steady state)", "DuckDB aggregate segment", 1.5),
)


def _configure(scale: float) -> Any:
    """Point this process at the dataset's database before Django reads its settings."""
    from tests.bench.dataset import DatasetParams

    params = DatasetParams.for_scale(scale)
    os.environ["LOYALTY_DB_NAME"] = params.db_name
    os.environ["CELERY_QUEUE"] = f"loyalty-bench-{params.key()}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    import django

    django.setup()
    return params


def run(args: argparse.Namespace) -> int:
    params = _configure(args.scale)
    began = time.monotonic()
    from tests.bench.harness import embedded_server_held

    # a holder: a test run finishing meanwhile must not stop the embedded server under us, and we stop it at the end
    # unless someone else still holds it
    with embedded_server_held():
        return _run(args, params, began)


def _run(args: argparse.Namespace, params: Any, began: float) -> int:
    from django.conf import settings
    from django.core.management import call_command

    from tests.bench import scenarios
    from tests.bench.dataset import (
        database_prepare,
        dataset_checkpoint,
        dataset_generate,
        dataset_info,
        dataset_vacuum,
        env_for,
    )
    from tests.bench.harness import Servers, client_token

    print(f"bench at scale {args.scale}: database {params.db_name}", flush=True)
    reused = database_prepare(params.db_name)
    call_command("migrate", verbosity=0)
    if reused:
        print("reusing the dataset", flush=True)
    else:
        dataset_generate(params, processes=args.processes)
    info = dataset_info()
    info["reused"] = reused
    data_dir = Path(settings.LOYALTY_DATA_DIR) / "bench" / params.key()

    from loyalty.accounts.models import Account

    account_ids = list(
        Account.objects.filter(aid__in=[params.main.aid, params.second.aid]).values_list("pk", flat=True)
    )
    if scenarios.throwaway_cleanup(account_ids):  # an interrupted run's samples
        dataset_vacuum()
    scenarios.segments_cleanup(account_ids)
    # what an earlier run (or anything else) left dirty is written out before the first scenario, not during it
    dataset_checkpoint()

    env = env_for(params.db_name, os.environ["CELERY_QUEUE"])
    servers = Servers(env, data_dir / "logs")
    servers.start()
    only = re.compile(args.only) if args.only else None
    try:
        token = client_token(params.main.aid, "admin:receipts,admin:segments,admin:discounts")
        bench = scenarios.Bench(params, env, token, args.repeats)
        bench.info = info
        _scenarios(bench, args, only, account_ids, data_dir)
    finally:
        servers.stop()
        scenarios.throwaway_cleanup(account_ids)
    elapsed = time.monotonic() - began
    report = _report(bench, params, info, elapsed)
    print(report)
    _write(bench, params, info, elapsed, report, args)
    failed = [r.name for r in bench.results if r.error]
    if failed:
        print(f"FAILED scenarios: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _scenarios(bench, args, only, account_ids: list[int], data_dir: Path) -> None:
    from django.conf import settings

    from tests.bench import baselines, scenarios, scenarios_usage
    from tests.bench.dataset import dataset_checkpoint, dataset_vacuum
    from tests.bench.scenarios import Result

    def want(name: str) -> bool:
        return only is None or bool(only.search(name))

    def add(name: str, fn, unit: str = "ms") -> Result | None:
        if not want(name):
            return None
        return bench.run(Result(name, unit, TARGETS.get(name)), fn)

    scale = bench.params.scale
    batches = 20 if scale >= 0.1 else 5
    # Ingest keeps every purchase window current, so measure it with the windows the segments below use (as in
    # production), not with none: a preview builds them.
    defs = scenarios.definitions(bench.q)
    for parts in defs.values():
        bench.api.json("POST", f"/api/{bench.aid}/segment/preview", {"segment": {"parts": parts}})
    bench.windows = scenarios.window_count()
    add(
        "ingest over HTTP (POST 1,000/batch)",
        lambda r: scenarios.scenario_ingest_http(bench, r, batches),
        "receipts/s",
    )
    add(
        "POST /discounts/events (4 clients)",
        lambda r: scenarios.scenario_events(bench, r, 4_000 if scale >= 0.1 else 1_000),
        "events/s",
    )
    add(
        "bulk import (import_receipts)",
        lambda r: scenarios.scenario_import(bench, r, max(5_000, int(100_000 * min(scale, 1.0))), runs=bench.repeats),
        "receipts/s",
    )
    # the same with the read models kept current in each chunk's transaction (before issue 21): the difference is what
    # building them after the load gains at this size
    add(
        "bulk import, read models per chunk",
        lambda r: scenarios.scenario_import(
            bench,
            r,
            max(5_000, int(100_000 * min(scale, 1.0))),
            runs=bench.repeats,
            options=("--read-models-per-chunk",),
        ),
        "receipts/s",
    )
    # the server's own share of storing a receipt, without any Python preparation: what bounds the two above
    for layers, (name, _) in scenarios.CEILING_LAYERS.items():
        scenarios.throwaway_cleanup(account_ids)
        add(
            name,
            lambda r, layers=layers: scenarios.scenario_ingest_ceiling(
                bench, r, max(5_000, int(100_000 * min(scale, 1.0))), layers, runs=bench.repeats
            ),
            "receipts/s",
        )
    # ingest samples go before anything reads: segments and queries see exactly the dataset
    scenarios.throwaway_cleanup(account_ids)
    dataset_vacuum()
    dataset_checkpoint()
    for kind in ("selective", "broad"):
        add(f"customer_segment {kind}", lambda r, kind=kind: scenarios.scenario_customer_segment(bench, r, kind))
    add(
        "recalculate aggregate (steady state)",
        lambda r: scenarios.scenario_recalculate(bench, r, "aggregate", defs["aggregate"]),
    )
    add("recalculate OR (steady state)", lambda r: scenarios.scenario_recalculate(bench, r, "or", defs["or"]))
    add(
        "recalculate mixed (10 criteria, steady state)",
        lambda r: scenarios.scenario_recalculate(bench, r, "mixed", defs["mixed"]),
    )
    if "aggregate" in bench.segments:
        add(
            "recalculate aggregate, first run of a new day",
            lambda r: scenarios.scenario_new_day(bench, r, "aggregate", bench.repeats),
        )
    add("preview aggregate", lambda r: scenarios.scenario_preview(bench, r, defs["aggregate"]))
    add("preview OR", lambda r: scenarios.scenario_preview(bench, r, defs["or"]))
    add("preview mixed (10 criteria)", lambda r: scenarios.scenario_preview(bench, r, defs["mixed"]))
    members = max(1_000, int(100_000 * scale))
    add("push 100k members (once)", lambda r: scenarios.scenario_push_once(bench, r, members))
    add("sync push of a 2% diff", lambda r: scenarios.scenario_push_sync(bench, r, members))
    add("claims from 8 concurrent clients", lambda r: scenarios_usage.scenario_claims(bench, r), "claims/s")
    add(
        "ingest with discount refs over HTTP (POST 1,000/batch)",
        lambda r: scenarios_usage.scenario_ingest_with_refs(bench, r, batches),
        "receipts/s",
    )
    add("impact report of a 100k-member link over 90 days", lambda r: scenarios.scenario_impact(bench, r, members))
    add("dry run over 90 days (all customers)", lambda r: scenarios.scenario_dry_run(bench, r), "receipts/s")
    # the account's rules and refs scale with the dataset; the customer's 50 refs and the receipt's 20 lines do not
    till = {"rules": max(200, int(2_000 * scale)), "refs": max(10_000, int(1_000_000 * scale))}
    for name, explain in (
        ("available_for_receipt (20 lines, 50 refs)", False),
        ("available_for_receipt explain=true", True),
    ):
        add(name, lambda r, explain=explain: scenarios.scenario_available(bench, r, **till, explain=explain))
    scenarios.throwaway_cleanup(account_ids)
    scenarios_usage.usage_cleanup(account_ids)

    if want("page"):
        try:
            paths = scenarios.page_paths(bench)
            cookies = scenarios.staff_session(bench)
        except scenarios.Skip as exc:
            bench.results.append(Result("pages", "ms", PAGE_TARGET, skipped=str(exc)))
            print(f"-- pages\n   skipped: {exc}", flush=True)
        else:
            for label, path in paths.items():
                bench.run(
                    Result(f"page: {label}", "ms", PAGE_TARGET),
                    lambda r, path=path: scenarios.scenario_page(bench, r, path, cookies),
                )

    if args.no_baselines:
        return
    add("naive ORM loop, aggregate segment", lambda r: baselines.scenario_naive_orm(bench, r))
    if want("DuckDB"):
        holder = Result("DuckDB baselines", "ms")

        def duck(result: Result) -> None:
            # the export belongs to this server's copy of the dataset (ids differ between servers and rebuilds)
            db = settings.DATABASES["default"]
            origin = f"{db['HOST']}:{db['PORT']}/{bench.info['generated_at']}"
            folder = data_dir / "parquet" / hashlib.sha256(origin.encode()).hexdigest()[:10]
            for found, rows in baselines.duckdb_scenarios(bench, folder):
                bench.results.append(found)
                print(f"   {found.name}: p50 {scenarios.fmt(found.p50)} ms ({found.note})", flush=True)
                found.extra["rows"] = len(rows)

        bench.run(holder, duck)
        if not holder.error and not holder.skipped:
            bench.results.remove(holder)


def _by_name(bench) -> dict[str, Any]:
    return {r.name: r for r in bench.results}


def _ratios(bench) -> list[tuple[str, float | None, str]]:
    found = _by_name(bench)

    def p50(name: str) -> float | None:
        result = found.get(name)
        return result.p50 if result and not result.error and not result.skipped else None

    out = []
    naive, ours = p50("naive ORM loop, aggregate segment"), p50("recalculate aggregate (steady state)")
    out.append(
        ("naive ORM loop ÷ aggregate recalculation (target ≥ 100x)", naive / ours if naive and ours else None, "≥ 100")
    )
    for ours_name, duck_name, limit in DUCKDB_RATIOS:
        a, b = p50(ours_name), p50(duck_name)
        out.append((f"{ours_name} ÷ DuckDB (target ≤ {limit:g}x)", a / b if a and b else None, f"≤ {limit:g}"))
    return out


def _table(bench) -> str:
    from tests.bench.scenarios import fmt

    lines = [
        "| scenario | n | p50 ms | p95 ms | result | target | met | load 1m |",
        "|---|---:|---:|---:|---:|---:|:---:|---:|",
    ]
    for r in bench.results:
        if r.skipped or r.error:
            status = f"skipped: {r.skipped}" if r.skipped else f"ERROR: {r.error}"
            lines.append(f"| {r.name} | | | | {status} | | | |")
            continue
        result = f"{r.rate:,.0f} {r.unit}" if r.unit != "ms" else f"{fmt(r.p50)} ms"
        target = "" if r.target is None else (f"≤ {r.target:,} ms" if r.unit == "ms" else f"≥ {r.target:,} {r.unit}")
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.name} | {len(r.samples)} | {fmt(r.p50)} | {fmt(r.p95)} | {result} | {target} | {met} |"
            f" {_load_range(r)} |"
        )
    lines += ["", "| ratio | value | target |", "|---|---:|---:|"]
    for label, value, target in _ratios(bench):
        lines.append(f"| {label} | {'-' if value is None else f'{value:,.1f}x'} | {target}x |")
    return "\n".join(lines)


def _load_range(result) -> str:
    """The lowest and highest 1-minute load average seen around the scenario's samples."""
    seen = [value for pair in result.loads for value in pair]
    return f"{min(seen):.1f} to {max(seen):.1f}" if seen else ""


def _report(bench, params, info: dict[str, Any], elapsed: float) -> str:
    main = params.main
    head = (
        f"Scale {params.scale}: {main.receipts:,} receipts, {main.customers:,} customers, {main.stores} stores, "
        f"{main.items:,} items in {main.groups} groups over {main.days} days (+ a second account of 10 %). "
        f"Dataset {'reused' if info['reused'] else 'generated'} ({info['generation_seconds']:,.0f} s to generate). "
        f"Whole run {elapsed / 60:.1f} min. {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs). Notes per scenario in the JSON."
    )
    loads = [r.extra.get(k) for r in bench.results for k in ("load_avg_1m_before", "load_avg_1m_after")]
    loads = [v for v in loads if v is not None] + [v for r in bench.results for pair in r.loads for v in pair]
    if loads:
        head += (
            f" 1-minute load average around the scenarios: median {sorted(loads)[len(loads) // 2]:.1f},"
            f" max {max(loads):.1f} (2 cores; other work on the box inflates timings)."
        )
    notes = "\n".join(f"- {r.name}: {r.note}" for r in bench.results if r.note)
    return f"{head}\n\n{_table(bench)}\n\n{notes}\n"


def _write(bench, params, info, elapsed: float, report: str, args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "scale": params.scale,
        "dataset": {**info, "db": params.db_name},
        "elapsed_seconds": round(elapsed, 1),
        "repeats": args.repeats,
        "host": {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "results": [r.as_dict() for r in bench.results],
        "ratios": [{"label": label, "value": value} for label, value, _ in _ratios(bench)],
    }
    path = RESULTS / f"{stamp}-scale{params.scale}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {path}")
    if params.scale >= 1 and not args.only:
        (RESULTS / "latest.md").write_text(f"# Benchmark results (`make bench`)\n\n{report}")
        print(f"wrote {RESULTS / 'latest.md'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loyalty back-office benchmark suite")
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size relative to 5M receipts")
    parser.add_argument("--repeats", type=int, default=None, help="warm runs per scenario (default 7, 3 below 10%%)")
    parser.add_argument("--processes", type=int, default=2, help="dataset generation processes")
    parser.add_argument("--only", default="", help="run only scenarios matching this regex")
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 7 if args.scale >= 0.1 else 3
    # SIGTERM (a CI timeout) unwinds like an exception, so the servers the suite started are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
