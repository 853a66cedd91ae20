"""Every deposit, withdrawal and rebalance scenario of scenarios.json, run through a window.

Holdings are at 10.00 a share (value v is v / 10 shares exactly), so the orders the window
executes must be exactly the scenario's amounts.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.trading.engine_helpers import build_account, intent, orders_by_path
from trading.books import verify_books
from trading.models import Disposal, Order
from trading.window import open_adhoc_window, run_window

SCENARIOS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "scenarios.json").read_text()
)["scenarios"]


def by_kind(kind: str) -> list:
    return [pytest.param(s, id=s["id"]) for s in SCENARIOS if s["kind"] == kind]


@pytest.mark.parametrize("scenario", by_kind("deposit"))
def test_a_deposit_window_buys_exactly_the_scenario_amounts(scenario, alice, settings):
    # The scenarios deposit amounts below the trigger too.
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    account, leaves = build_account(alice, scenario["pie"])
    deposit = intent(account, "deposit", scenario["amount"])

    window = open_adhoc_window()
    run_window(window.pk)

    assert orders_by_path(window.pk, leaves, "buy") == scenario["expected_buys"]
    assert orders_by_path(window.pk, leaves, "sell") == {}
    deposit.refresh_from_db()
    assert deposit.status == "done"
    account.refresh_from_db()
    invested = sum((Decimal(v) for v in scenario["expected_buys"].values()), Decimal(0))
    assert account.cash == Decimal(scenario["amount"]) - invested
    assert verify_books() == []


@pytest.mark.parametrize("scenario", by_kind("withdrawal"))
def test_a_withdrawal_window_sells_exactly_the_scenario_amounts(scenario, alice):
    account, leaves = build_account(alice, scenario["pie"])
    withdrawal = intent(account, "withdrawal", scenario["amount"])

    window = open_adhoc_window()
    run_window(window.pk)

    assert orders_by_path(window.pk, leaves, "sell") == scenario["expected_sells"]
    assert orders_by_path(window.pk, leaves, "buy") == {}
    withdrawal.refresh_from_db()
    assert withdrawal.status == "done"
    account.refresh_from_db()
    # At 10.00 a share every planned amount is raised exactly: all of it was paid out.
    assert account.cash == Decimal("0.00")
    paid = -sum(e.amount for e in account.ledger_entries.filter(kind="withdrawal"))
    assert paid == Decimal(scenario["amount"])
    assert Disposal.objects.filter(account=account).count() == len(scenario["expected_sells"])
    assert verify_books() == []


@pytest.mark.parametrize("scenario", by_kind("rebalance"))
def test_a_rebalance_window_trades_exactly_the_scenario_orders(scenario, alice):
    account, leaves = build_account(alice, scenario["pie"])
    rebalance = intent(account, "rebalance", pie=account.pies.get(is_root=True))

    window = open_adhoc_window()
    run_window(window.pk)

    signed = {path: amount for path, amount in orders_by_path(window.pk, leaves, "buy").items()}
    signed |= {
        path: f"-{amount}" for path, amount in orders_by_path(window.pk, leaves, "sell").items()
    }
    assert signed == scenario["expected_orders_signed"]
    rebalance.refresh_from_db()
    assert rebalance.status == "done"
    account.refresh_from_db()
    filled = Order.objects.filter(window=window)
    received = sum((o.filled_amount for o in filled if o.side == "sell"), Decimal(0))
    paid = sum((o.filled_amount for o in filled if o.side == "buy"), Decimal(0))
    assert account.cash == received - paid >= 0  # the sells paid for the buys
    assert verify_books() == []


def test_the_scenarios_have_only_the_kinds_run_here():
    assert {s["kind"] for s in SCENARIOS} == {"deposit", "withdrawal", "rebalance"}
