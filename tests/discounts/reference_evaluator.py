"""A slow, straightforward restatement of discounts/README.md "Evaluation at the till", written apart from the
engine (`discounts.evaluation`) so that tests can compare the two on generated rules x receipts.

It reads the same inputs (the receipt dict and the engine's `Candidate` records, plain data) and answers, per
candidate ref, (status, condition) and for applied ones (amount, bonus, stamp, usage, {line_id: units}). No clever
structure: every rule is a loop over lines, every amount a Fraction until the one rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class Result:
    status: str
    condition: str | None = None
    amount: int = 0
    bonus: int = 0
    stamp: int = 0
    usage: int = 0
    lines: dict[int, int] | None = None


def _date(text):
    return datetime.fromisoformat(text)


def _num(value, default=0):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value


class Item:
    def __init__(self, position, raw, line_id, ignored):
        self.position = position
        self.line_id = line_id
        self.id = raw.get("id")
        self.groups = [g["id"] for g in raw.get("groups", [])]
        self.quantity = Fraction(str(raw.get("quantity", 1)))
        self.gross = raw.get("gross_amount", 0)
        existing = 0
        for line in raw.get("discount_lines", []):
            if line.get("discount_id") not in ignored:
                existing += line.get("amount", 0)
        self.net = self.gross - existing
        self.had_discount = existing > 0
        self.eligible = raw.get("eligible_for_discount") is True and self.gross > 0

    def whole_units(self):
        if self.quantity < 1:
            return 1
        return max(1, math.floor(self.quantity))


def matches(rule_item, item):
    if "id" not in rule_item and "group_id" not in rule_item:
        return False
    if "id" in rule_item and rule_item["id"] not in ("*", "ANY_ITEM") and rule_item["id"] != item.id:
        return False
    return "group_id" not in rule_item or rule_item["group_id"] in ("*", *item.groups)


def matches_any(rule_items, item):
    return any(matches(rule_item, item) for rule_item in rule_items)


def text(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def listed(values, value):
    return text(value) is not None and text(value) in [text(v) for v in values]


def in_hours(hours, at):
    periods = hours.get("hours", [])
    if not periods:
        return True
    local = at.astimezone(ZoneInfo(hours.get("timezone", "Europe/Oslo")))
    clock = time(local.hour, local.minute)
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    for period in periods:
        start = time(*map(int, period["start"].split(":")))
        end = time(*map(int, period["end"].split(":")))
        if start < end and period["day"] == today and start <= clock < end:
            return True
        if end <= start and period["day"] == today and clock >= start:
            return True
        if end <= start and period["day"] == yesterday and clock < end:
            return True
    return False


def store_failure(requirement, store):  # noqa: C901 - the README's store row, read top to bottom
    if "store_ids" in requirement and not listed(requirement["store_ids"], store.get("id")):
        return "requirement.store_ids"
    wanted = requirement.get("store", {})
    for name, values in wanted.items():
        if name in ("mcc", "mcc_ranges"):
            continue
        if name == "address":
            for key, allowed in values.items():
                if not listed(allowed, store.get("address", {}).get(key)):
                    return "requirement.store.address." + key
        elif not listed(values, store.get(name)):
            return "requirement.store." + name
    if "mcc" in wanted or "mcc_ranges" in wanted:
        ok = "mcc" in wanted and listed(wanted["mcc"], store.get("mcc"))
        mcc = text(store.get("mcc"))
        for bounds in wanted.get("mcc_ranges", []):
            if mcc and mcc.isdigit() and int(bounds["start"]) <= int(mcc) <= int(bounds["end"]):
                ok = True
        if not ok:
            return "requirement.store.mcc_ranges" if "mcc_ranges" in wanted else "requirement.store.mcc"
    return None


def customer_failure(requirement, customer):
    for name, wanted in requirement.get("customer", {}).items():
        if name == "addresses":
            ok = False
            for entry in wanted:
                for address in customer.get("addresses", []):
                    if all(listed(v, address.get(k)) for k, v in entry.items()):
                        ok = True
        elif name in ("company", "enrolled_by", "term"):
            ok = all(listed(v, customer.get(name, {}).get(k)) for k, v in wanted.items())
        elif name == "marketing_consent":
            held = customer.get(name, {})
            ok = all(listed(v.get("consent", []), held.get(k, {}).get("consent")) for k, v in wanted.items())
        elif name == "attributes":
            held = customer.get("attributes") or customer.get("metadata") or {}
            ok = all(listed(v, held.get(k)) for k, v in wanted.items())
        else:
            ok = listed(wanted, customer.get(name))
        if not ok:
            return "requirement.customer." + name
    return None


class Reference:
    def __init__(self, receipt, candidates):
        self.receipt = receipt
        self.candidates = candidates
        ignored = {c.rule_id for c in candidates}
        raw_items = receipt.get("items", [])
        given = [raw.get("line_id") for raw in raw_items]
        next_id = max([0] + [g for g in given if isinstance(g, int)]) + 1
        self.items = []
        for position, raw in enumerate(raw_items):
            line_id = raw.get("line_id")
            if not isinstance(line_id, int):
                line_id = next_id
                next_id += 1
            self.items.append(Item(position, raw, line_id, ignored))
        self.at = _date(receipt["purchase_at"])
        self.customer_id = receipt.get("customer_id")

    # --- one candidate alone ------------------------------------------------------------------------------------

    def failure(self, c):  # noqa: C901 - one check after the other, as the README's table lists them
        req, lim, rew = c.requirement, c.limitation, c.reward
        if self.at < _date(req["purchase_from"]):
            return "requirement.purchase_from"
        if self.at > _date(req["purchase_to"]):
            return "requirement.purchase_to"
        days = lim.get("dynamic_purchase_to_days")
        if isinstance(days, (int, float)) and self.at > c.ref_created_at + timedelta(days=days):
            return "limitation.dynamic_purchase_to_days"
        repeat = lim.get("discount_repeat_usage", -1)
        if repeat >= 0 and c.usage.purchases >= repeat:
            return "limitation.discount_repeat_usage"
        if lim.get("discount_hours") and not in_hours(lim["discount_hours"], self.at):
            return "limitation.discount_hours"
        currencies = req.get("currencies")
        if currencies:
            currency = self.receipt.get("currency")
            codes = [x for x in currencies if isinstance(x, str)]
            excluded = [code for x in currencies if isinstance(x, dict) for code in x.get("anything-but", [])]
            if currency is None or (codes and currency not in codes) or currency in excluded:
                return "requirement.currencies"
        code = req.get("discount_code")
        if code:
            codes = [x.lower() for x in self.receipt.get("discount_code", [])]
            codes += [item.id.lower() for item in self.items if item.id]
            if code.lower() not in codes:
                return "requirement.discount_code"
        gross = self.receipt.get("gross_amount", sum(item.gross for item in self.items))
        net = self.receipt.get("net_amount", sum(item.net for item in self.items))
        if gross < _num(req.get("gross_amount")):
            return "requirement.gross_amount"
        if net < _num(req.get("net_amount")):
            return "requirement.net_amount"
        found = store_failure(req, self.receipt.get("store", {})) or customer_failure(
            req, self.receipt.get("customer", {})
        )
        if found:
            return found
        item_req = req.get("item", {})
        rule_items = item_req.get("items", [])
        matching = [i for i in self.items if matches_any(rule_items, i)] if rule_items else list(self.items)
        if rule_items and not matching:
            return "requirement.item.items"
        for n, mix in enumerate(item_req.get("mixes", [])):
            in_mix = [i for i in self.items if matches_any(mix.get("items", []), i)]
            if not in_mix or sum(i.quantity for i in in_mix) < _num(mix.get("quantity")):
                return f"requirement.item.mixes[{n}]"
        if sum(i.quantity for i in matching) < _num(item_req.get("quantity")):
            return "requirement.item.quantity"
        if lim.get("discount_eligible") == "receipt_no_discount" and any(i.had_discount for i in self.items):
            return "limitation.discount_eligible"
        if rew.get("type") == "discount_debit" and rew["value"] - c.usage.debit_used <= 0:
            return "reward.debit_balance"
        return None

    # --- rewards ----------------------------------------------------------------------------------------------

    def scope(self, c):
        rule_items = c.requirement.get("item", {}).get("items", [])
        if c.rule_type == "item" and rule_items:
            return [i for i in self.items if matches_any(rule_items, i)]
        mixes = [m for m in c.requirement.get("item", {}).get("mixes", []) if m.get("reward_eligible") is True]
        if c.rule_type == "item" and mixes:
            return [i for i in self.items if any(matches_any(m.get("items", []), i) for m in mixes)]
        return list(self.items)

    def value_for(self, c, item):
        for entry in c.reward.get("values", []):
            if matches_any(entry.get("items", []), item):
                return Fraction(str(entry["value"]))
        return Fraction(str(c.reward["value"]))

    def award(self, c, left, discounted):
        """(per position units, usage, stamp) or a failure path."""
        stamp = 0
        needed = c.requirement.get("stamp")
        if isinstance(needed, int) and needed > 0:
            stamp = 1
            have = c.usage.current_stamp(now=self.at, expire_days=c.limitation.get("stamp_expire_days", -1))
            if have + 1 < needed:
                return {}, 0, 1
        lines = [i for i in self.scope(c) if i.eligible]
        path = None
        if not lines:
            path = "items.eligible_for_discount"
        else:
            lines = [i for i in lines if not matches_any(c.limitation.get("blacklist", []), i)]
            if not lines:
                path = "limitation.blacklist"
            else:
                if c.limitation.get("discount_eligible") == "item_eligible_for_discount_no_discount":
                    lines = [i for i in lines if i.position not in discounted]
                bonus = c.reward.get("effect") == "bonus"
                lines = [i for i in lines if bonus or left[i.position] > 0]
                if not lines:
                    path = "limitation.discount_eligible"
        if path:
            return ({}, 0, 1) if stamp else path
        exact, usage, caps = self.exact(c, lines, left)
        given = round_and_share(exact, caps)
        if not given:
            return ({}, 0, 1) if stamp else "reward.value"
        return given, usage, stamp

    def exact(self, c, lines, left):  # noqa: C901 - one branch per reward type, on purpose
        kind = c.reward["type"]
        bonus = c.reward.get("effect") == "bonus"

        def base(i):
            return Fraction(left[i.position]) if c.reward.get("base") == "net" else Fraction(i.gross)

        caps = {i.position: (int(base(i)) if bonus else left[i.position]) for i in lines}
        item_rule = c.rule_type == "item"
        limit = c.limitation.get("discount_reward_usage", -1)

        def best_lines(per_line):
            if not item_rule or limit < 0:
                return per_line
            ordered = sorted(per_line.items(), key=lambda kv: (-kv[1], kv[0]))
            return dict(ordered[:limit])

        def spread(total):
            weights = {i.position: Fraction(left[i.position]) for i in lines}
            whole = sum(weights.values())
            return {p: total * w / whole for p, w in weights.items()} if whole else {}

        def units(pool, dearest):
            out = []
            for i in pool:
                for k in range(i.whole_units()):
                    out.append((base(i) / i.whole_units(), i.position, k))
            out.sort(key=lambda u: ((-u[0]) if dearest else u[0], u[1], u[2]))
            return out

        if kind == "discount_percent":
            per = best_lines({i.position: base(i) * self.value_for(c, i) / 100 for i in lines})
            return per, (len(per) if item_rule else 1), caps
        if kind == "discount_amount":
            if item_rule:
                per = best_lines({i.position: self.value_for(c, i) for i in lines})
                return per, len(per), caps
            return spread(Fraction(str(c.reward["value"]))), 1, caps
        if kind == "discount_item_new_price":
            per = {i.position: Fraction(i.gross) - self.value_for(c, i) * i.quantity for i in lines}
            per = best_lines({p: v for p, v in per.items() if v > 0})
            return per, len(per), caps
        if kind == "discount_item_quantity":
            per = {}
            for price, position, _ in units(lines, False)[: int(c.reward["value"])]:
                per[position] = per.get(position, 0) + price
            return per, 1, caps
        if kind == "discount_item_percent":
            cheapest = units(lines, False)
            if not cheapest:
                return {}, 0, caps
            price, position, _ = cheapest[0]
            item = next(i for i in lines if i.position == position)
            return {position: price * self.value_for(c, item) / 100}, 1, caps
        if kind == "discount_debit":
            balance = Fraction(c.reward["value"] - c.usage.debit_used)
            return spread(min(balance, sum(Fraction(left[i.position]) for i in lines))), 1, caps
        # discount_mix_new_price
        taken = []
        for mix in c.requirement.get("item", {}).get("mixes", []):
            if mix.get("reward_eligible") is not True:
                continue
            pool = [i for i in lines if matches_any(mix.get("items", []), i)]
            quantity = mix.get("quantity")
            needed = max(1, math.ceil(quantity)) if isinstance(quantity, (int, float)) else 1
            free = [u for u in units(pool, True) if u not in taken]
            taken += free[:needed]
        total = sum(u[0] for u in taken)
        off = total - Fraction(str(c.reward["value"]))
        if not taken or off <= 0:
            return {}, 0, caps
        per = {}
        for price, position, _ in taken:
            per[position] = per.get(position, 0) + off * price / total
        return per, 1, caps

    # --- all candidates -------------------------------------------------------------------------------------

    def run(self, chosen):
        order = sorted(
            chosen, key=lambda c: (0 if c.rule_type == "item" else 1, c.rule_created_at, c.rule_id, c.ref_id)
        )
        left = {i.position: max(0, i.net) for i in self.items}
        discounted = {i.position for i in self.items if i.had_discount}
        results = {}
        for c in order:
            got = self.award(c, left, discounted)
            if isinstance(got, str):
                results[c.ref_id] = Result("not_applicable", got)
                continue
            per, usage, stamp = got
            total = sum(per.values())
            bonus = c.reward.get("effect") == "bonus"
            if not bonus:
                for position, units_ in per.items():
                    left[position] -= units_
                    discounted.add(position)
            lines = {self.items[p].line_id: v for p, v in per.items()}
            results[c.ref_id] = Result(
                "applied", None, 0 if bonus else total, total if bonus else 0, stamp, usage, lines
            )
        return results

    def evaluate(self):  # noqa: C901 - the README's four steps, read top to bottom
        results = {}
        passed = []
        for c in self.candidates:
            why = self.failure(c)
            if why:
                results[c.ref_id] = Result("not_applicable", why)
            else:
                passed.append(c)
        per_rule = {}
        for c in sorted(passed, key=lambda c: (c.ref_customer_id in ("*", "/"), c.ref_created_at, c.ref_id)):
            if c.rule_id in per_rule:
                results[c.ref_id] = Result("overshadowed", "ref")
            else:
                per_rule[c.rule_id] = c
        active = set(per_rule)
        live = []
        for c in per_rule.values():
            names = [a.get("value") for a in c.limitation.get("discount_activation", [])
                     if a.get("type") == "deactivate_if_discount_active"]  # fmt: skip
            if any(name in active and name != c.rule_id for name in names):
                results[c.ref_id] = Result("not_applicable", "limitation.discount_activation")
            else:
                live.append(c)
        stamp_only = []
        competing = []
        for c in live:
            alone = self.run([c])[c.ref_id]
            if alone.status == "applied" and alone.amount + alone.bonus == 0 and alone.stamp:
                stamp_only.append(c)
            else:
                competing.append(c)
        options = [[c for c in competing if c.limitation.get("discount_combination", -1) != 0]]
        options += [[c] for c in competing if c.limitation.get("discount_combination", -1) == 0]
        best, best_key = None, None
        for option in options:
            outcome = self.run(option)
            saving = sum(r.amount + r.bonus for r in outcome.values())
            savers = [c for c in option if outcome[c.ref_id].amount + outcome[c.ref_id].bonus > 0]
            oldest = min(((c.rule_created_at, c.rule_id) for c in savers), default=None)
            key = (-saving, (0, oldest) if oldest else (1,))
            if best_key is None or key < best_key:
                best, best_key = outcome, key
        results.update(best or {})
        results.update(self.run(stamp_only))
        for c in live:
            if c.ref_id not in results:
                results[c.ref_id] = Result("overshadowed", "limitation.discount_combination")
        return results


def round_and_share(exact, caps):
    capped = {}
    for position, amount in exact.items():
        capped[position] = min(max(amount, Fraction(0)), Fraction(caps[position]))
    total = math.floor(sum(capped.values(), Fraction(0)) + Fraction(1, 2))
    total = min(total, sum(caps[p] for p in capped))
    floors = {p: math.floor(v) for p, v in capped.items()}
    remaining = total - sum(floors.values())
    by_fraction = sorted(capped, key=lambda p: (-(capped[p] - floors[p]), p))
    for p in by_fraction[: max(0, remaining)]:
        floors[p] += 1
    return {p: v for p, v in floors.items() if v > 0}


def reference_evaluate(receipt, candidates):
    """{ref_id: Result} for every candidate."""
    return Reference(receipt, candidates).evaluate()
