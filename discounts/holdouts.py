"""The holdout's stable assignment, in Python (the push assigns in SQL: `discounts.sql.BUCKET` is the same function).

bucket(seed, customer_id) = the first 32 bits of md5("<seed>:<customer_id>") as an unsigned integer, mod 10,000.
md5 is the same in every PostgreSQL version and in Python (unlike `hashtext`, whose output PostgreSQL does not
promise to keep), so tests, the CSV and a merchant's own tooling can recompute a side. A customer is held out when
bucket < holdout_percent x 100: the link's seed and percent never change, so neither does anyone's side.
"""

from __future__ import annotations

import hashlib
import secrets

BUCKETS = 10_000
MAX_HOLDOUT_PERCENT = 50


def bucket(seed: int, customer_id: str) -> int:
    digest = hashlib.md5(f"{seed}:{customer_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def threshold(holdout_percent: int) -> int:
    """Buckets below this are held out."""
    return holdout_percent * BUCKETS // 100


def held_out(seed: int, customer_id: str, holdout_percent: int) -> bool:
    return bucket(seed, customer_id) < threshold(holdout_percent)


def new_seed() -> int:
    """A link's seed: random, so two links of one segment hold out different customers."""
    return secrets.randbelow(2**31 - 1) + 1
