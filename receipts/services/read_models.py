"""Set-based maintenance of the read models (codes, customers, item facts, window stats) inside a transaction.

Every function here runs a constant number of SQL statements regardless of batch size, on the caller's
transaction, through a server-side-binding psycopg cursor (arrays travel as parameters, not as SQL text).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import chain

import psycopg

from loyalty.core.jobs import enqueue_on_commit
from loyalty.core.jsonutil import dumps
from loyalty.core.sql import advisory_xact_lock
from receipts.documents import ParsedReceipt, Profile, parse_profile
from receipts.readmodels.windows import windows_lock_key
from receipts.sql import read_models as statements
from receipts.sql.read_models import PROFILE_COLUMNS


def lock_windows_shared(cur: psycopg.Cursor, account_id: int) -> None:
    """Writers of receipts hold this shared; creating a window's stats takes it exclusively (see windows)."""
    advisory_xact_lock(cur, windows_lock_key(account_id), shared=True)


def codes_resolve(
    cur: psycopg.Cursor, account_id: int, codes: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str], int]:
    """(kind, value) → code id, creating missing codes.

    Looks them up first and inserts only the missing ones: nearly every code of a batch exists already, and an
    INSERT … ON CONFLICT DO NOTHING of all of them cost ~10 µs per receipt of an API batch.
    """
    unique: dict[tuple[str, str], str] = {}
    for kind, value, name in codes:
        if not unique.get((kind, value)):
            unique[(kind, value)] = name
    if not unique:
        return {}
    keys = sorted(unique)  # a fixed order keeps concurrent batches from deadlocking on the unique index
    found = _codes_find(cur, account_id, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        cur.execute(
            statements.CODES_INSERT,
            [account_id, [k for k, _ in missing], [v for _, v in missing], [unique[key] for key in missing]],
        )
        found.update(_codes_find(cur, account_id, missing))
    return found


def codes_missing(receipts: Iterable[ParsedReceipt], known: dict[tuple[str, str], int]) -> list[tuple[str, str, str]]:
    """The codes of these receipts that `known` lacks, each (kind, value, name) once, in the order first seen."""
    distinct = dict.fromkeys(chain.from_iterable(receipt.codes for receipt in receipts))
    return [code for code in distinct if (code[0], code[1]) not in known]


def _codes_find(cur: psycopg.Cursor, account_id: int, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    cur.execute(statements.CODES_FIND, [[k for k, _ in keys], [v for _, v in keys], account_id])
    return {(kind, value): code for code, kind, value in cur.fetchall()}


def customers_ensure(cur: psycopg.Cursor, account_id: int, customer_ids: Iterable[str]) -> dict[str, int]:
    """customer_id → customer pk, creating empty profiles for new customers (counters are added later)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    cur.execute(statements.CUSTOMERS_FIND, [account_id, ids])
    found: dict[str, int] = dict(cur.fetchall())
    missing = [customer_id for customer_id in ids if customer_id not in found]
    if missing:
        cur.execute(statements.CUSTOMERS_INSERT, [account_id, missing])
        cur.execute(statements.CUSTOMERS_FIND, [account_id, missing])
        found.update(cur.fetchall())
    return found


def customers_lock(cur: psycopg.Cursor, customer_pks: Iterable[int]) -> None:
    """Lock customer rows in id order before updating their counters.

    Writers take these locks last, just before their short counter/profile updates, so concurrent batches overlap
    their heavy work and cannot deadlock on customers they share.
    """
    pks = sorted(set(customer_pks))
    if pks:
        cur.execute(statements.CUSTOMERS_LOCK, [pks])


def customers_recompute(cur: psycopg.Cursor, customer_pks: Sequence[int]) -> None:
    """Recompute counters from scratch for a few customers (after a receipt moved between customers)."""
    if not customer_pks:
        return
    cur.execute(statements.CUSTOMERS_RECOMPUTE, [sorted(set(customer_pks))])


NO_PROFILE = "\t".join("\\N" for _ in PROFILE_COLUMNS)


def profile_copy_fields(at: datetime, p: Profile) -> str:
    """The PROFILE_COLUMNS of one customer object, as tab-separated COPY text."""
    return "\t".join(
        (
            at.isoformat(),
            copy_text(dumps(p.document)),
            copy_text(p.first_name),
            copy_text(p.last_name),
            copy_text(p.email),
            copy_text(p.phone),
            copy_text(p.gender),
            copy_text(p.date_of_birth),
            copy_text(p.status),
            copy_array(p.countries),
            copy_array(p.cities),
            copy_array(p.postal_codes),
            copy_array(p.token_values),
            copy_text(p.email_consent),
            copy_text(p.sms_consent),
        )
    )


def customers_update_profiles(cur: psycopg.Cursor, profiles: dict[int, tuple[datetime, Profile]]) -> None:
    """Keep, per customer, the customer object of their most recent receipt (by purchase time).

    Rows travel by COPY (cheap to encode, unlike arrays of JSON) into a temporary table.
    """
    if not profiles:
        return
    cur.execute(statements.PROFILES_CREATE)
    with cur.copy(statements.PROFILES_COPY) as copy:
        copy.write("".join(f"{pk}\t{profile_copy_fields(*profiles[pk])}\n" for pk in sorted(profiles)))
    cur.execute(statements.PROFILES_UPDATE)
    cur.execute(statements.PROFILES_DROP)


def customers_rederive_profiles(cur: psycopg.Cursor, customer_pks: Sequence[int]) -> None:
    """Derive these customers' profiles again from the receipts each has now (after a receipt changed customer):
    the customer object of their most recent receipt that has one, or an empty profile. One read of each customer's
    latest customer object, the fields extracted as an ingest extracts them (`parse_profile`), one UPDATE."""
    pks = sorted(set(customer_pks))
    if not pks:
        return
    cur.execute(statements.PROFILES_LATEST, [pks])
    lines = []
    for pk, at, document in cur.fetchall():
        profile = parse_profile(json.loads(document)) if document is not None else None
        fields = profile_copy_fields(at, profile) if profile is not None else NO_PROFILE
        lines.append(f"{pk}\t{fields}\n")
    cur.execute(statements.PROFILES_CREATE)
    with cur.copy(statements.PROFILES_COPY) as copy:
        copy.write("".join(lines))
    cur.execute(statements.PROFILES_REPLACE)
    cur.execute(statements.PROFILES_DROP)


def customers_add_batch(cur: psycopg.Cursor, stored: Iterable[tuple[ParsedReceipt, int | None]]) -> None:
    """New receipts' lifetime counters and latest customer object (`customers_update_profiles`) for a batch of
    newly stored receipts, in one UPDATE per customer row (both change indexed columns, so each UPDATE writes every
    index of the row again).

    The counters are summed here from the parsed receipts, as stored, rather than read back from the receipts table;
    they and the latest customer object travel by COPY. Lock the customers first (`customers_lock`).
    """
    deltas = customer_deltas_text(stored)
    if deltas:
        customers_apply_deltas(cur, deltas)


def customer_deltas_text(stored: Iterable[tuple[ParsedReceipt, int | None]]) -> str:
    """The COPY text `customers_apply_deltas` takes: per customer, what the receipts add (empty: no customer)."""
    deltas: dict[int, list] = {}
    receipts = []
    for receipt, customer_pk in stored:
        if customer_pk is None:
            continue
        receipts.append((receipt, customer_pk))
        delta = deltas.get(customer_pk)
        if delta is None:
            delta = deltas[customer_pk] = [0, 0, 0, 0, None, None]
        delta[0] += 1
        if receipt.is_purchase:
            at = receipt.purchase_at
            delta[1] += 1
            delta[2] += receipt.gross_amount or 0
            delta[3] += receipt.net_amount or 0
            if delta[4] is None or at < delta[4]:
                delta[4] = at
            if delta[5] is None or at > delta[5]:
                delta[5] = at
    if not deltas:
        return ""
    profiles = latest_profiles(receipts)
    lines = []
    for pk in sorted(deltas):
        receipts_count, purchases, gross, net, first_at, last_at = deltas[pk]
        profile = profile_copy_fields(*profiles[pk]) if pk in profiles else NO_PROFILE
        lines.append(
            f"{pk}\t{receipts_count}\t{purchases}\t{gross}\t{net}\t{copy_text(first_at)}\t{copy_text(last_at)}"
            f"\t{profile}\n"
        )
    return "".join(lines)


def customers_apply_deltas(cur: psycopg.Cursor, deltas: str) -> None:
    """Add `customer_deltas_text`'s per-customer deltas to the customers (locked by the caller)."""
    cur.execute(statements.DELTAS_CREATE)
    with cur.copy(statements.DELTAS_COPY) as copy:
        copy.write(deltas)
    cur.execute(statements.DELTAS_APPLY)
    cur.execute(statements.DELTAS_DROP)


def copy_text(value: object) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_array(values: list[str]) -> str:
    """A text[] literal in COPY's text format."""
    if not values:
        return "{}"
    quoted = ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return copy_text("{" + quoted + "}")


def latest_profiles(parsed: Iterable[tuple[ParsedReceipt, int | None]]) -> dict[int, tuple[datetime, Profile]]:
    """Per customer pk, the profile of their most recent receipt in this batch."""
    best: dict[int, tuple[datetime, Profile]] = {}
    for receipt, customer_pk in parsed:
        if customer_pk is None or receipt.profile is None:
            continue
        current = best.get(customer_pk)
        if current is None or receipt.purchase_at >= current[0]:
            best[customer_pk] = (receipt.purchase_at, receipt.profile)
    return best


def facts_insert(cur: psycopg.Cursor, account_id: int, rows: list[tuple[int, datetime, int, int, int]]) -> None:
    """rows: (code, purchase_at, store_code, customer_pk, receipt_pk)."""
    if not rows:
        return
    rows.sort(key=lambda row: (row[0], row[1]))  # index order: fewer page switches while inserting
    columns = list(zip(*rows, strict=True))
    cur.execute(statements.FACTS_INSERT, [account_id, *[list(column) for column in columns]])


def facts_for(
    receipts: Iterable[tuple[ParsedReceipt, int, int | None]], codes: dict[tuple[str, str], int]
) -> list[tuple[int, datetime, int, int, int]]:
    """Fact rows for stored receipts: (parsed, receipt pk, customer pk). Only purchases of known customers."""
    rows = []
    for receipt, receipt_pk, customer_pk in receipts:
        if customer_pk is None or not receipt.is_purchase:
            continue
        store_code = codes[("store", receipt.store_id)]
        for kind, value, _ in receipt.codes:
            rows.append((codes[(kind, value)], receipt.purchase_at, store_code, customer_pk, receipt_pk))
    return rows


def facts_move(
    cur: psycopg.Cursor,
    account_id: int,
    receipt: ParsedReceipt,
    receipt_pk: int,
    code_ids: Sequence[int],
    customer_pk: int,
) -> int:
    """Point an existing receipt's facts at another customer; found through the index by code and time. How many
    moved: none while the receipt's bulk load has them staged, not built."""
    cur.execute(
        statements.FACTS_MOVE,
        [customer_pk, account_id, list(code_ids), receipt.purchase_at, receipt_pk],
    )
    return cur.rowcount


def buyers_add(
    cur: psycopg.Cursor, account_id: int, stored: Iterable[tuple[ParsedReceipt, int, int | None]], codes: dict
) -> None:
    """Count stored purchases into the buyers of kept codes (CodeBuyer): (parsed, receipt pk, customer pk), with the
    batch's (kind, value) → code map. Run late in the transaction, after the customers are locked: a buyer row an
    uncommitted batch wrote makes another batch with the same buyer wait for its commit."""
    cur.execute(statements.CODES_KEPT, [account_id])
    kept = {row[0] for row in cur.fetchall()}
    if not kept:
        return
    # a receipt's codes are distinct: one purchase per (code, customer) and receipt
    purchases = Counter(
        (code, customer_pk)
        for receipt, _, customer_pk in stored
        if customer_pk is not None and receipt.is_purchase
        for kind, value, _ in receipt.codes
        if (code := codes[kind, value]) in kept
    )
    if not purchases:
        return
    ordered = sorted(purchases.items())
    cur.execute(
        statements.BUYERS_ADD,
        [
            account_id,
            [code for (code, _), _ in ordered],
            [customer for (_, customer), _ in ordered],
            [n for _, n in ordered],
        ],
    )


def buyers_remove_purchase(cur: psycopg.Cursor, account_id: int, customer_pk: int, code_ids: Sequence[int]) -> None:
    """A purchase with these codes left the customer: one purchase fewer in their buyer rows of kept codes, and no
    row where none is left."""
    if not code_ids:
        return
    cur.execute(
        statements.BUYERS_REMOVE_PURCHASE,
        {"account": account_id, "customer": customer_pk, "codes": sorted(set(code_ids))},
    )


def windows_add_receipts(cur: psycopg.Cursor, account_id: int, receipt_pks: Sequence[int]) -> None:
    """Add stored purchases to every existing purchase window they fall in."""
    if not receipt_pks:
        return
    cur.execute(
        statements.WINDOWS_ADD_RECEIPTS,
        [list(receipt_pks), account_id],
    )


def windows_forget_covering(cur: psycopg.Cursor, account_id: int, instants: Sequence[datetime]) -> None:
    """A receipt changed customer: drop the windows it falls in; they are rebuilt exactly on next use."""
    if not instants:
        return
    cur.execute(
        statements.WINDOWS_FORGET_COVERING,
        [account_id, list(instants)],
    )


# Who reads the IngestBatch outbox, by task name (receipts never imports them), each with its delay in seconds:
# the segment engine folds quick successive batches into one incremental run; discounts records the usage the
# receipts' discount refs name, and turns the batch into events for its automations. Each keeps its own cursor over the batches, and its own sweep catches what a lost
# message left behind, because the batch row itself is the durable record.
BATCH_SUBSCRIBERS: tuple[tuple[str, float], ...] = (
    ("segments.receipts_arrived", 3),
    ("discounts.receipts_arrived", 1),
    ("discounts.receipts_to_events", 0),
)


def announce_batch(account_id: int) -> None:
    """After the batch commits, tell every reader of the outbox (BATCH_SUBSCRIBERS)."""
    for task_name, countdown in BATCH_SUBSCRIBERS:
        enqueue_on_commit(task_name, args=[account_id], countdown=countdown)
