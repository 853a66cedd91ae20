"""API list endpoints run a constant number of queries, whatever the number of rows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pies.services import open_account, save_pie_tree
from trading.models import Intent, Lot, Order, Position, TradeWindow

pytestmark = pytest.mark.django_db

BUDGET = 10


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured)


def pie_of(symbols: list[str], nested: bool) -> dict:
    """A pie over ``symbols``: flat, or split in two sub-pies of two levels."""
    n = len(symbols)
    if not nested:
        return {
            "slices": [
                {"target_percent": t, "symbol": s} for s, t in zip(symbols, split(n), strict=True)
            ]
        }
    half = n // 2
    inner = {
        "name": "Inner",
        "slices": [
            {"target_percent": t, "symbol": s}
            for s, t in zip(symbols[half:], split(n - half), strict=True)
        ],
    }
    return {
        "slices": [
            {
                "target_percent": "50",
                "pie": {
                    "name": "Outer",
                    "slices": [
                        *[
                            {"target_percent": t, "symbol": s}
                            for s, t in zip(symbols[:half], split(half, 50), strict=True)
                        ],
                        {"target_percent": "50", "pie": inner},
                    ],
                },
            },
            {"target_percent": "50", "symbol": "ZZZ"},
        ]
    }


def split(n: int, total: int = 100) -> list[str]:
    bp = total * 100
    parts = [bp // n] * n
    parts[0] += bp - sum(parts)
    return [f"{p // 100}.{p % 100:02d}" for p in parts]


def test_accounts_list_queries_do_not_grow_with_accounts(alice, alice_api, make_security):
    make_security("AAA")
    open_account(user=alice, kind="individual")
    one = queries(alice_api, "/api/v1/accounts/")
    for kind in ("joint", "roth_ira", "traditional_ira", "sep_ira"):
        account = open_account(user=alice, kind=kind)
        save_pie_tree(account=account, tree=pie_of(["AAA"], False), version=1)
        Position.objects.filter(account=account).update(quantity=Decimal("1"))
    assert queries(alice_api, "/api/v1/accounts/") == one <= BUDGET


@pytest.mark.parametrize("path", ["pie/", "holdings/"])
def test_pie_and_holdings_queries_do_not_grow_with_slices_or_depth(
    alice, alice_api, make_security, path
):
    symbols = [f"S{i:02d}" for i in range(50)]
    for symbol in [*symbols, "ZZZ"]:
        make_security(symbol)
    small = open_account(user=alice, kind="individual")
    save_pie_tree(account=small, tree=pie_of(symbols[:5], False), version=1)
    large = open_account(user=alice, kind="joint")
    save_pie_tree(account=large, tree=pie_of(symbols, True), version=1)
    Position.objects.filter(account=large).update(quantity=Decimal("2"))
    few = queries(alice_api, f"/api/v1/accounts/{small.pk}/{path}")
    many = queries(alice_api, f"/api/v1/accounts/{large.pk}/{path}")
    assert few == many <= BUDGET


def test_intents_lots_and_orders_queries_do_not_grow_with_rows(alice, alice_api, make_security):
    make_security("AAA")
    account = open_account(user=alice, kind="individual")
    save_pie_tree(account=account, tree=pie_of(["AAA"], False), version=1)
    position = Position.objects.get(account=account)
    window = TradeWindow.objects.create(
        trade_date=date(2026, 1, 5), session="adhoc", scheduled_at=timezone.now(), status="done"
    )

    def add(n: int) -> None:
        for i in range(n):
            Intent.objects.create(account=account, kind="deposit", amount=Decimal("10"))
            order = Order.objects.create(
                window=window,
                account=account,
                position=position,
                security=position.security,
                side="buy",
                amount=Decimal("10"),
                reason="deposit",
            )
            Lot.objects.create(
                position=position,
                order=order,
                acquired_on=date(2026, 1, 5) - timedelta(days=i),
                quantity=Decimal("1"),
                remaining_quantity=Decimal("1"),
                cost_basis=Decimal("10"),
                remaining_cost=Decimal("10"),
            )

    base = f"/api/v1/accounts/{account.pk}/"
    add(1)
    before = {p: queries(alice_api, base + p) for p in ("intents/", "lots/", "orders/")}
    add(30)
    after = {p: queries(alice_api, base + p) for p in ("intents/", "lots/", "orders/")}
    assert before == after
    assert max(after.values()) <= BUDGET


def test_securities_and_windows_queries_do_not_grow_with_rows(staff_api, make_security):
    make_security("A0")
    TradeWindow.objects.create(
        trade_date=date(2026, 1, 5), session="adhoc", scheduled_at=timezone.now()
    )
    before = (
        queries(staff_api, "/api/v1/securities/"),
        queries(staff_api, "/api/v1/trade-windows/"),
    )
    for i in range(1, 30):
        make_security(f"A{i}")
        TradeWindow.objects.create(
            trade_date=date(2026, 1, 5), session="adhoc", scheduled_at=timezone.now()
        )
    after = (
        queries(staff_api, "/api/v1/securities/"),
        queries(staff_api, "/api/v1/trade-windows/"),
    )
    assert before == after
    assert max(after) <= BUDGET
