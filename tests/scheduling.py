"""Loaded with `-p`: the order in which pytest-xdist hands modules (`--dist loadscope`) to its processes.

The processes take modules from one queue; the run ends when the last module does. pytest-xdist's own order (most
tests first) puts modules with a few long tests (hypothesis, fuzzing, restarts, browsers) last, where one of them
keeps one process busy while the others idle. So those start first, longest first (their cost measured on the suite,
`--durations=0` summed per module); every other module follows, most tests first. A module missing from the list only
loses its place in the queue. `make test` passes `--no-loadscope-reorder` so xdist keeps this order.
"""

from __future__ import annotations

# test_faults restarts the shared PostgreSQL, which cuts every other process's connections: it comes first, and the
# three after it use no database (with two processes, the first units each is sent), so nothing else is mid-query then.
# After them, longest first.
LONG_MODULES = (
    "tests/receipts/test_faults.py",
    "tests/discounts/test_evaluation_reference.py",
    "tests/core/test_swagger_check.py",
    "tests/discounts/test_impact_stats.py",
    "tests/core/test_fuzz_contracts.py",
    "tests/e2e/test_merchant.py",
    "tests/e2e/test_merchant_hour.py",
    "tests/receipts/test_bulk.py",
    "tests/discounts/test_impact.py",
    "tests/e2e/test_backoffice.py",
    "tests/segments/test_engine_reference.py",
    "tests/discounts/test_holdouts.py",
    "tests/discounts/test_automation_tasks.py",
    "tests/segments/test_freshness.py",
    "tests/discounts/test_pushes.py",
    "tests/segments/test_tasks.py",
    "tests/bench/test_bench_server.py",
    "tests/e2e/test_impact.py",
    "tests/e2e/test_redemptions.py",
    "tests/core/test_embedded_postgres.py",
)
RANK = {path: rank for rank, path in enumerate(LONG_MODULES)}


def pytest_collection_modifyitems(session, config, items):
    counts: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        counts[module] = counts.get(module, 0) + 1

    def key(item) -> tuple[int, int, str]:
        module = item.nodeid.split("::", 1)[0]
        return (RANK.get(module, len(RANK)), -counts[module], module)

    # sorted() is stable: a module's own tests keep their order
    items.sort(key=key)
