"""The dry run's fast path against the straightforward one: `basket_read` against `parse_basket`,
`evaluate_alone` against `evaluate`, and whole dry runs (in one process and split into partitions) against the
plain replay through `Replay.replay`, field by field, on generated rules and receipts."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import billiard
import pytest
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discounts.evaluation import Status, evaluate, parse_basket
from discounts.evaluation.conditions import static_plan, static_problem
from discounts.evaluation.resolve import evaluate_alone
from discounts.models import Simulation
from discounts.services import simulations
from discounts.services.simulations import simulation_replay, simulation_run, simulation_start
from discounts.simulation import basket_read
from receipts.models import Receipt
from receipts.readmodels.queries import purchases_for_replay
from receipts.services.ingest import receipt_ingest
from tests.discounts.till_data import candidates, receipts, usages
from tests.helpers import hang_as_stuck, stuck_process_gone

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=30)

# --- the pure parts -------------------------------------------------------------------------------------------

odd_values = st.sampled_from([None, True, False, 0, -1, 2, 150, 0.5, 2.25, "3", [], {}])


@st.composite
def odd_receipts(draw):
    """Receipts of the generated shapes, with some of their items' fields replaced by values of other types."""
    body = draw(receipts())
    for entry in body["items"]:
        for key in ("line_id", "gross_amount", "quantity", "groups", "id", "eligible_for_discount"):
            if draw(st.integers(0, 5)) == 0:
                entry[key] = draw(odd_values)
            elif draw(st.integers(0, 7)) == 0:
                entry.pop(key)
    if draw(st.integers(0, 5)) == 0:
        body["items"].append(draw(st.sampled_from(["not an item", 7, None])))
    for key in ("gross_amount", "net_amount", "customer_id", "currency"):
        if draw(st.booleans()):
            body[key] = draw(st.one_of(odd_values, st.integers(0, 9999)))
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipt=odd_receipts())
def test_basket_read_reads_as_parse_basket_does(receipt):
    assert basket_read(receipt) == parse_basket(receipt)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipt=receipts(), found=candidates())
def test_evaluate_alone_is_evaluate_with_one_candidate(receipt, found):
    basket = parse_basket(receipt)
    for candidate in found:
        evaluation = evaluate(basket, [candidate])
        (verdict,) = evaluation.verdicts
        if verdict.status == Status.APPLIED:
            assert evaluate_alone(basket, candidate) == evaluation.awards[0]
        else:
            assert evaluate_alone(basket, candidate) == verdict.path


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipt=receipts(), found=candidates(), usage=usages)
def test_static_plan_answers_as_static_problem(receipt, found, usage):
    basket = parse_basket(receipt)
    for candidate in found:
        plan = static_plan(candidate)  # made once per rule, asked with any usage
        for asked in (candidate, dataclasses.replace(candidate, usage=usage)):
            assert plan(asked, basket) == static_problem(asked, basket)
            expected = evaluate(basket, [asked])
            alone = evaluate_alone(basket, asked, plan)
            if expected.verdicts[0].status == Status.APPLIED:
                assert alone == expected.awards[0]
            else:
                assert alone == expected.verdicts[0].path


# --- whole dry runs -------------------------------------------------------------------------------------------

WINDOW = {"purchase_from": "2026-01-01T00:00:00Z", "purchase_to": "2027-01-01T00:00:00Z"}
RULES: dict[str, dict[str, Any]] = {
    "amount, three times": {
        "reward": {"type": "discount_amount", "value": 5000},
        "limitation": {"discount_repeat_usage": 3},
    },
    "percent of a group, exclusive": {
        "requirement": {"item": {"items": [{"group_id": "g-1"}]}, "gross_amount": 6000},
        "reward": {"type": "discount_percent", "value": 12.5},
        "limitation": {"discount_combination": 0, "discount_reward_usage": 1},
    },
    "per item, once: equal costs": {
        "requirement": {"item": {"items": [{"id": "ANY_ITEM"}]}},  # an item rule: 100 off every line
        "reward": {"type": "discount_amount", "value": 100},
        "limitation": {"discount_repeat_usage": 1},
    },
    "free cheapest item": {
        "requirement": {"item": {"items": [{"group_id": "g-2"}], "quantity": 2}},
        "reward": {"type": "discount_item_quantity", "value": 1},
    },
    "stamps that expire": {
        "requirement": {"stamp": 3},
        "reward": {"type": "discount_amount", "value": 2000},
        "limitation": {"stamp_expire_days": 10},
    },
    "bonus in the evening": {
        "reward": {"type": "discount_percent", "value": 10, "effect": "bonus"},
        "limitation": {"discount_hours": {"timezone": "Europe/Oslo", "hours": [{"day": d, "start": "17:00", "end": "23:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]}},
    },
    "debit": {"reward": {"type": "discount_debit", "value": 30000}},
}  # fmt: skip


def _document(name: str) -> dict[str, Any]:
    body = RULES[name]
    return {**body, "name": name, "requirement": {**WINDOW, **body.get("requirement", {})}}


def _line(n: int, rng: random.Random) -> dict[str, Any]:
    sku = rng.randrange(30)
    quantity = rng.choice([1, 1, 1, 2, 3, 0.5])
    gross = (500 + 250 * sku) * (quantity if quantity >= 1 else 1)
    entry: dict[str, Any] = {
        "id": f"sku-{sku}",
        "line_id": n,
        "quantity": quantity,
        "gross_amount": int(gross),
        "groups": [{"id": f"g-{sku % 3}"}],
        "eligible_for_discount": rng.random() < 0.9,
    }
    if rng.random() < 0.1:
        entry["discount_lines"] = [{"amount": 100, "discount_id": "external", "line_id": n}]
    return entry


def _receipts(rng: random.Random) -> list[dict[str, Any]]:
    found = []
    for n in range(240):
        # whole hours and repeated instants: receipts at the same time order by id
        at = START + timedelta(hours=rng.randrange(30 * 24))
        items = [_line(k, rng) for k in range(1, rng.randint(1, 5))]
        gross = sum(line["gross_amount"] for line in items)
        found.append(
            {
                "store": {"id": f"S{rng.randrange(3)}"},
                "receipt_id": f"R{n}",
                "purchase_at": at.isoformat().replace("+00:00", "Z"),
                "customer_id": f"C{rng.randrange(25)}",
                "currency": "NOK",
                "gross_amount": gross,
                "net_amount": gross,
                "items": items,
            }
        )
    return found


def _queued(account, rule_name: str) -> Simulation:
    """A dry run of one of RULES over the period, for every customer, queued."""
    return simulation_start(
        account=account,
        rule=None,
        document=_document(rule_name),
        period_from=START,
        period_to=END,
        customers="*",
        actor="t",
    )


def _plain(simulation) -> dict[str, Any]:
    """The straightforward replay: every receipt through parse_basket and evaluate."""
    replay = simulation_replay(simulation)
    stream = purchases_for_replay(account=simulation.account, start=START, end=END)
    for customer_id, _, document in stream:
        replay.replay(document, customer_id)
    return {**replay.result(), "receipts_total": replay.receipts}


@pytest.mark.django_db(transaction=True)
def test_dry_runs_in_partitions_count_as_the_plain_replay(account):
    stored = receipt_ingest(account=account, documents=_receipts(random.Random(7)), created_by="t")
    assert len(stored.receipts) == 240
    ties = False
    for name in RULES:
        results = []
        for partitions in (1, 3):
            simulation = _queued(account, name)
            done = simulation_run(simulation_id=simulation.pk, partitions=partitions)
            assert done.status == "succeeded", done.error_message
            assert (done.receipts_total, done.progress) == (240, 100)
            results.append(done.result)
        plain = _plain(simulation)
        assert plain["receipts_applied"] > 0, name
        costs = [item["cost"] for item in plain["top_items"]]
        ties = ties or len(set(costs)) < len(costs)
        for result in results:
            for key, value in plain.items():
                assert result[key] == value, (name, key)
            # as stored (JSONB orders an object's keys its own way)
            assert json.dumps(result, sort_keys=True) == json.dumps(plain, sort_keys=True), name
    assert ties  # so the order of equal costs is compared too


def _run_in_pool_process(simulation_id) -> None:
    simulation_run(simulation_id=simulation_id, partitions=2)
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_partitions_fork_from_a_daemonic_process_and_a_failing_one_fails_the_run(account):
    """A Celery worker runs tasks in daemonic pool processes, which multiprocessing refuses children."""
    receipt_ingest(account=account, documents=_receipts(random.Random(8)), created_by="t")
    document = _document("amount, three times")
    simulation = simulation_start(
        account=account, rule=None, document=document, period_from=START, period_to=END, customers="*", actor="t"
    )
    connections.close_all()  # as Celery does before it forks its pool: the child must not share this connection
    pool_process = billiard.Process(target=_run_in_pool_process, args=(simulation.pk,), daemon=True)
    pool_process.start()
    pool_process.join(120)
    simulation.refresh_from_db()
    assert simulation.status == "succeeded", simulation.error_message
    assert simulation.result == _plain(simulation)

    broken = Receipt.objects.filter(account=account).earliest("id")  # one receipt the evaluator refuses to read
    Receipt.objects.filter(pk=broken.pk).update(document={**broken.document, "purchase_at": "soon"})
    failing = simulation_start(
        account=account, rule=None, document=document, period_from=START, period_to=END, customers="*", actor="t"
    )
    with pytest.raises(RuntimeError, match="purchase_at must be a date-time"):
        simulation_run(simulation_id=failing.pk, partitions=2)
    failing.refresh_from_db()
    assert failing.status == Simulation.Status.FAILED and "failed: ValueError" in failing.error_message


@pytest.mark.django_db(transaction=True)
def test_a_stuck_partition_fails_the_run_and_is_killed(account, monkeypatch, tmp_path):
    # given a dry run whose second partition never finishes (a child stuck on a lock it inherited, say)
    receipt_ingest(account=account, documents=_receipts(random.Random(10)), created_by="t")
    replayed = simulations._replayed

    def stuck_in_the_second(simulation, who, partition, progress):
        if partition[0] == 1:
            hang_as_stuck(tmp_path / "stuck.pid")
        return replayed(simulation, who, partition, progress)

    monkeypatch.setattr(simulations, "_replayed", stuck_in_the_second)
    monkeypatch.setattr(simulations, "PARTITION_SILENCE_LIMIT", 1.0)
    simulation = _queued(account, "debit")

    # when it runs, it fails once the partition has been silent for the limit
    with pytest.raises(RuntimeError, match="dry run partition 1 sent nothing for 1 s"):
        simulation_run(simulation_id=simulation.pk, partitions=2)

    # and says so, with the stuck process gone
    simulation.refresh_from_db()
    assert simulation.status == Simulation.Status.FAILED and "partition 1 sent nothing" in simulation.error_message
    assert stuck_process_gone(tmp_path / "stuck.pid")


@pytest.mark.django_db(transaction=True)
def test_partitions_report_progress(account, monkeypatch):
    monkeypatch.setattr(simulations, "PROGRESS_EVERY", 60)  # 240 receipts: four progress writes at most
    receipt_ingest(account=account, documents=_receipts(random.Random(9)), created_by="t")
    simulation = _queued(account, "debit")
    done = simulation_run(simulation_id=simulation.pk, partitions=3)
    assert done.status == "succeeded", done.error_message
    # the last progress the partitions reported before they finished (the API shows the total once succeeded)
    assert done.receipts_done in (120, 180, 240)
