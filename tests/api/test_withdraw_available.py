"""Issue 12, problem 4: the API offers exactly what the window pays (allocation.md, Notation).

``available_to_withdraw`` is cash plus each holding's value rounded down to cents, less the
pending withdrawals: the planner's own valuation, so a withdrawal of exactly that is accepted
and done at the same prices. ``total_value`` used to round the sum half-up, which the window
then refused ("worth 1,078.72") by up to a few cents.
"""

from __future__ import annotations

import random
from decimal import Decimal

from tests.trading.engine_helpers import build_account, security
from trading.books import verify_books
from trading.models import Intent, Lot, Position
from trading.money import floor_cents, half_up_cents
from trading.window import open_adhoc_window, run_window

SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]


def random_account(user, seed: int):
    """An account with odd quantities at odd prices; returns it and its exact leaf values."""
    rng = random.Random(seed)
    targets = ["16.66"] * 5 + ["16.70"]
    account, leaves = build_account(
        user,
        {
            "slices": [
                {"name": s, "target_percent": t} for s, t in zip(SYMBOLS, targets, strict=True)
            ]
        },
    )
    values = []
    for symbol, slice_ in leaves.items():
        price = Decimal(rng.randint(10_000, 5_000_000)) / 10_000
        quantity = Decimal(rng.randint(1_000_000, 300_000_000)) / 10**6
        security(symbol, price)
        position = Position.objects.get(slice=slice_)
        Position.objects.filter(pk=position.pk).update(quantity=quantity)
        Lot.objects.create(
            position=position,
            acquired_on="2020-01-02",
            quantity=quantity,
            remaining_quantity=quantity,
            cost_basis=Decimal("100.00"),
            remaining_cost=Decimal("100.00"),
        )
        values.append(quantity * price)
    return account, values


def test_a_withdrawal_of_exactly_available_to_withdraw_is_done_and_paid_in_full(alice, alice_api):
    account, values = random_account(alice, seed=4)
    # The rounding difference shows: the sum rounded half-up is more than the leaves' floors.
    floors = sum((floor_cents(v) for v in values), Decimal(0))
    assert half_up_cents(sum(values, Decimal(0))) > floors

    [row] = alice_api.get("/api/v1/accounts/").json()["results"]
    assert Decimal(row["available_to_withdraw"]) == floors
    assert row["total_value"] == row["available_to_withdraw"]  # cash 0, nothing pending
    response = alice_api.post(
        f"/api/v1/accounts/{account.pk}/withdrawals/",
        {"amount": row["available_to_withdraw"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    [row] = alice_api.get("/api/v1/accounts/").json()["results"]
    assert row["available_to_withdraw"] == "0.00"  # the pending withdrawal is reserved

    run_window(open_adhoc_window().pk)

    withdrawal = Intent.objects.get(pk=response.json()["id"])
    assert (withdrawal.status, withdrawal.failure_reason) == ("done", "")
    assert withdrawal.amount_paid == floors
    paid = -sum(e.amount for e in withdrawal.ledger_entries.filter(account=account))
    assert paid == floors
    listed = alice_api.get(f"/api/v1/accounts/{account.pk}/intents/").json()["results"]
    assert [(i["id"], i["amount_paid"]) for i in listed] == [(withdrawal.pk, str(floors))]
    assert verify_books() == []


def test_the_holdings_add_up_to_the_invested_value(alice, alice_api):
    account, values = random_account(alice, seed=4)

    holdings = alice_api.get(f"/api/v1/accounts/{account.pk}/holdings/").json()["results"]
    [row] = alice_api.get("/api/v1/accounts/").json()["results"]

    assert sum(Decimal(h["value"]) for h in holdings) == Decimal(row["invested_value"])
    assert Decimal(row["invested_value"]) == sum((floor_cents(v) for v in values), Decimal(0))
