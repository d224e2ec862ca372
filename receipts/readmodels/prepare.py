"""Building what a segment definition reads, before it is compiled: its purchase windows and its codes' buyers.

Segments plan (which windows, which codes; no writes), call `prepare` outside any transaction, then compile against
the `Prepared` answer without touching the database. Kept read models can be dropped between prepare and use (a
receipt changing customer drops the windows it falls in): `queries.read_models_exist` says whether they all still
exist, as the calling transaction sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loyalty.accounts.models import Account
from receipts.models import Customer
from receipts.readmodels.buyers import code_buyers_ensure
from receipts.readmodels.windows import purchase_window_ensure

Bounds = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Plan:
    """The purchase windows ([start, end), None = unbounded) and the codes whose lifetime buyers a definition reads.

    `buyers` holds each code set a criterion asks about as a whole: a criterion reads the kept buyers only when all
    of its codes are kept."""

    windows: frozenset[Bounds] = frozenset()
    buyers: frozenset[frozenset[int]] = frozenset()


@dataclass(frozen=True)
class Prepared:
    """Window ids by bounds, and the codes whose buyers are kept (the others are read from the item facts)."""

    windows: dict[Bounds, int] = field(default_factory=dict)
    kept_codes: frozenset[int] = frozenset()

    @property
    def window_ids(self) -> set[int]:
        return set(self.windows.values())


def prepare(plan: Plan, *, account: Account) -> Prepared:
    """Build (or touch) every window and code buyers set the plan names. Call it outside any transaction: each is
    built and committed on its own (inside one, windows are built in it and code buyers are not built)."""
    windows = {
        bounds: purchase_window_ensure(account=account, starts_at=bounds[0], ends_at=bounds[1])
        for bounds in sorted(plan.windows, key=_bounds_key)
    }
    kept: set[int] = set()
    for codes in sorted(plan.buyers, key=sorted):
        if code_buyers_ensure(account=account, codes=sorted(codes)):
            kept.update(codes)
    return Prepared(windows=windows, kept_codes=frozenset(kept))


def _bounds_key(bounds: Bounds) -> tuple[float, float]:
    start, end = bounds
    return (start.timestamp() if start else float("-inf"), end.timestamp() if end else float("inf"))


# The customers table, for the SQL segments compose over it (names from its `_meta`, never a literal).
__all__ = ["Customer", "Plan", "Prepared", "prepare"]
