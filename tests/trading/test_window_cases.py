"""The window engine's rules one by one: prices missing, failures, removals, proration, the
house residue, internal crossing, lots, and who a scheduled window serves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from pies.models import Slice
from tests.trading.engine_helpers import add_cash, build_account, intent, orders_by_path, security
from trading.books import verify_books
from trading.brokers import SimulatedBroker
from trading.models import (
    Account,
    AccountKind,
    BlockOrder,
    Disposal,
    Fill,
    Intent,
    LedgerEntry,
    Lot,
    Order,
    Position,
    TradeWindow,
)
from trading.window import open_adhoc_window, run_window


def two(a: str, b: str, va: str = "0", vb: str = "0", ta: str = "50", tb: str = "50") -> dict:
    return {
        "slices": [
            {"name": a, "target_percent": ta, "value": va},
            {"name": b, "target_percent": tb, "value": vb},
        ]
    }


def test_orders_on_a_security_without_price_wait_and_the_report_says_so(alice, settings):
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    spec = two("AAA", "NOP")
    spec["slices"][1]["symbol"] = "NOP"
    account, leaves = build_account(alice, spec)
    leaves["NOP"].security.prices.all().delete()
    deposit = intent(account, "deposit", "100.00")

    window = open_adhoc_window()
    report = run_window(window.pk)

    assert report["skipped"]["no_price"] == [
        {"symbol": "NOP", "orders": 1, "buy": "50.00", "sell": "0"}
    ]
    assert Order.objects.get(window=window, security__symbol="NOP").status == "waiting"
    assert orders_by_path(window.pk, leaves, "buy") == {"AAA": "50.00", "NOP": "50.00"}
    assert not BlockOrder.objects.filter(window=window, security__symbol="NOP").exists()
    deposit.refresh_from_db()
    account.refresh_from_db()
    assert deposit.status == "done"
    assert account.cash == Decimal("50.00")  # credited, and the unbought half stays cash
    assert verify_books() == []


def test_a_rebalance_skips_a_security_without_price_and_completes(alice):
    account, leaves = build_account(alice, two("AAA", "NOP", "1000", "0"), auto_invest=False)
    leaves["NOP"].security.prices.all().delete()
    rebalance = intent(account, "rebalance", pie=account.pies.get(is_root=True))

    report = run_window(open_adhoc_window().pk)

    rebalance.refresh_from_db()
    assert rebalance.status == "done"
    assert [item["symbol"] for item in report["skipped"]["no_price"]] == []
    assert not Order.objects.filter(security__symbol="NOP").exists()
    assert verify_books() == []


def test_a_withdrawal_above_the_account_value_fails_and_sells_nothing(alice):
    account, _ = build_account(alice, two("AAA", "BBB", "100", "100"))
    add_cash(account, "5.00")
    withdrawal = intent(account, "withdrawal", "205.01")

    window = open_adhoc_window()
    report = run_window(window.pk)

    withdrawal.refresh_from_db()
    assert withdrawal.status == "failed"
    assert "205.01" in withdrawal.failure_reason and "205.00" in withdrawal.failure_reason
    assert not Order.objects.filter(window=window).exists()
    assert not LedgerEntry.objects.filter(intent=withdrawal).exists()
    account.refresh_from_db()
    assert account.cash == Decimal("5.00")
    assert report["failed_intents"] == 1
    assert verify_books() == []


def test_a_removal_sells_in_full_and_reinvests_in_the_parent_pie(alice):
    spec = {
        "slices": [
            {"name": "BND", "target_percent": "40", "value": "100"},
            {
                "name": "Core",
                "target_percent": "60",
                "slices": [
                    {"name": "VTI", "target_percent": "50", "value": "500"},
                    {"name": "VXUS", "target_percent": "50", "value": "500"},
                    {"name": "OLD", "target_percent": "0", "value": "300.05"},
                ],
            },
        ]
    }
    account, leaves = build_account(alice, spec, auto_invest=False)
    removal = intent(account, "removal", slice=leaves["Core/OLD"])

    window = open_adhoc_window()
    run_window(window.pk)

    assert orders_by_path(window.pk, leaves, "sell") == {"Core/OLD": "300.05"}
    # The proceeds stay in Core (BND, far more underweight, gets nothing), whatever
    # auto-invest says.
    assert orders_by_path(window.pk, leaves, "buy") == {"Core/VTI": "150.03", "Core/VXUS": "150.02"}
    removal.refresh_from_db()
    old = Slice.objects.get(pk=leaves["Core/OLD"].pk)
    assert removal.status == "done"
    assert old.status == "removed"
    assert Position.objects.get(slice=old).quantity == 0
    assert Disposal.objects.get(account=account).proceeds == Decimal("300.05")
    account.refresh_from_db()
    assert account.cash == Decimal("0.00")
    assert verify_books() == []


def test_sells_sized_at_the_limit_price_pay_for_the_buys_when_the_broker_fills_at_it(
    alice, settings
):
    # A falling market: the window accepts 10 % (b = 1000) and the broker sells exactly at the
    # limit, 9.00, and buys 10 % above w. No proration, no house capital.
    settings.PIES_MAX_SLIPPAGE_BP = 1000
    account, _ = build_account(alice, two("AAA", "BBB", "1000", "0"))
    intent(account, "rebalance", pie=account.pies.get(is_root=True))

    window = open_adhoc_window()
    run_window(window.pk, broker=SimulatedBroker(slippage_bp=1000))

    sell = Order.objects.get(window=window, side="sell")
    buy = Order.objects.get(window=window, side="buy")
    # 500.00 at the limit 9.00: 55.555556 shares (rounded up), which raise 500.00 there.
    assert (sell.amount, sell.quantity, sell.filled_amount) == (
        Decimal("500.00"),
        Decimal("55.555556"),
        Decimal("500.00"),
    )
    # The buy is paid in full and gets what 500.00 bought at 11.00.
    assert (buy.amount, buy.filled_amount, buy.quantity) == (
        Decimal("500.00"),
        Decimal("500.00"),
        Decimal("45.454545"),
    )
    block = BlockOrder.objects.get(window=window, security__symbol="AAA")
    assert (block.net_side, block.limit_price) == ("sell", Decimal("9.0000"))
    house = Account.system(AccountKind.HOUSE)
    assert house.cash == 0
    assert not Position.objects.filter(account=house).exists()
    account.refresh_from_db()
    assert account.cash == Decimal("0.00")
    assert verify_books() == []


def test_the_house_takes_the_rounding_residues_and_every_block_reconciles(make_user):
    # 1.003003 shares at 3.33 are worth 3.33999999: each seller gets 3.33 (rounded down), the
    # broker pays 6.67 for the two blocks' 2.006006 shares, and the cent left over is the house's.
    for n in range(2):
        account, leaves = build_account(make_user(f"user{n}"), two("ODD", "EVEN"), price="3.33")
        position = Position.objects.get(slice=leaves["ODD"])
        Position.objects.filter(pk=position.pk).update(quantity=Decimal("1.003003"))
        Lot.objects.create(
            position=position,
            acquired_on=date(2020, 1, 2),
            quantity=Decimal("1.003003"),
            remaining_quantity=Decimal("1.003003"),
            cost_basis=Decimal("3.00"),
            remaining_cost=Decimal("3.00"),
        )
        intent(account, "withdrawal", withdraw_all=True)

    window = open_adhoc_window()
    run_window(window.pk)

    block = BlockOrder.objects.get(window=window)
    orders = Order.objects.filter(window=window)
    assert [o.filled_amount for o in orders] == [Decimal("3.33"), Decimal("3.33")]
    assert block.settlement_amount == Decimal("-6.67")
    assert block.house_cash == Decimal("0.01")
    assert -sum(o.quantity for o in orders) + block.house_quantity == -block.net_quantity
    assert -sum(o.filled_amount for o in orders) == block.settlement_amount + block.house_cash
    house = Account.system(AccountKind.HOUSE)
    assert house.cash == Decimal("0.01")
    assert LedgerEntry.objects.get(account=house).kind == "residue"
    assert verify_books() == []


def test_slippage_on_a_net_buy_costs_the_buyers_shares_and_the_house_needs_no_capital(alice):
    account, _ = build_account(alice, two("AAA", "BBB"))
    intent(account, "deposit", "1000.00")

    window = open_adhoc_window()
    run_window(window.pk, broker=SimulatedBroker(slippage_bp=50))

    block = BlockOrder.objects.get(window=window, security__symbol="AAA")
    # 500.00 in dollars at 10.05: 49.751243 shares for 500.00 (rounded up to the cent).
    assert (block.net_side, block.net_quantity, block.settlement_amount) == (
        "buy",
        Decimal("49.751243"),
        Decimal("500.00"),
    )
    assert block.fill_price == Decimal("10.0500")
    order = Order.objects.get(window=window, security__symbol="AAA")
    assert (order.quantity, order.filled_amount) == (Decimal("49.751243"), Decimal("500.00"))
    assert (block.house_quantity, block.house_cash) == (0, 0)
    assert Account.system(AccountKind.HOUSE).cash == 0
    assert verify_books() == []


def test_a_buy_and_a_sell_of_one_security_cross_and_only_the_net_goes_to_the_broker(
    alice, bob, settings
):
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    buyer, _ = build_account(alice, {"slices": [{"name": "VTI", "target_percent": "100"}]})
    seller, _ = build_account(
        bob, {"slices": [{"name": "VTI", "target_percent": "100", "value": "1000"}]}
    )
    intent(buyer, "deposit", "300.00")
    intent(seller, "withdrawal", "200.00")

    window = open_adhoc_window()
    run_window(window.pk)

    block = BlockOrder.objects.get(window=window)
    assert (block.buy_quantity, block.sell_quantity) == (Decimal("30"), Decimal("20"))
    assert (block.crossed_quantity, block.net_side, block.net_quantity) == (
        Decimal("20"),
        "buy",
        Decimal("10"),
    )
    broker_fills = Fill.objects.filter(block=block).exclude(broker_reference="internal cross")
    assert [(f.side, f.quantity) for f in broker_fills] == [("buy", Decimal("10"))]
    assert block.settlement_amount == Decimal("100.00")
    assert verify_books() == []


def test_a_withdrawal_of_everything_sells_every_position_and_pays_all_cash(alice):
    account, _ = build_account(alice, two("AAA", "BBB", "123.45", "678.90"))
    add_cash(account, "1.11")
    intent(account, "withdrawal", withdraw_all=True)

    run_window(open_adhoc_window().pk)

    account.refresh_from_db()
    assert account.cash == 0
    assert not Position.objects.filter(account=account, quantity__gt=0).exists()
    paid = -sum(e.amount for e in LedgerEntry.objects.filter(account=account, kind="withdrawal"))
    assert paid == Decimal("803.46")
    assert verify_books() == []


@pytest.mark.parametrize(
    ("method", "sold_from"),
    [("fifo", "2020-01-02"), ("lifo", "2024-06-03"), ("hifo", "2024-06-03")],
)
def test_a_sell_consumes_lots_by_the_account_lot_method(alice, method, sold_from):
    account, leaves = build_account(alice, two("AAA", "BBB", "0", "0"), lot_method=method)
    position = Position.objects.get(slice=leaves["AAA"])
    Lot.objects.create(
        position=position,
        acquired_on=date(2020, 1, 2),
        quantity=10,
        remaining_quantity=10,
        cost_basis=50,
        remaining_cost=50,
    )
    Lot.objects.create(
        position=position,
        acquired_on=date(2024, 6, 3),
        quantity=10,
        remaining_quantity=10,
        cost_basis=120,
        remaining_cost=120,
    )
    Position.objects.filter(pk=position.pk).update(quantity=20)
    intent(account, "withdrawal", "50.00")

    run_window(open_adhoc_window().pk)

    [disposal] = Disposal.objects.filter(account=account)
    assert str(disposal.acquired_on) == sold_from
    assert disposal.quantity == 5 and disposal.proceeds == Decimal("50.00")
    assert disposal.cost_basis == (Decimal("25.00") if method == "fifo" else Decimal("60.00"))
    assert verify_books() == []


def test_a_scheduled_window_serves_its_session_and_large_accounts_and_says_it_is_late(
    make_user,
):
    morning, _ = build_account(make_user("early"), two("AAA", "BBB"))
    afternoon, _ = build_account(
        make_user("late"), two("AAA", "BBB"), window_preference="afternoon"
    )
    rich, _ = build_account(
        make_user("rich"), two("AAA", "BBB", "20000", "5000"), window_preference="afternoon"
    )
    now = timezone.now()
    taken = [intent(a, "deposit", "100.00") for a in (morning, afternoon, rich)]
    too_late = intent(morning, "deposit", "7.00")
    Intent.objects.filter(pk__in=[i.pk for i in taken]).update(
        created_at=now - timezone.timedelta(minutes=3)
    )
    window = TradeWindow.objects.create(
        trade_date=date(2025, 3, 11),  # an ordinary Tuesday
        session="morning",
        scheduled_at=now - timezone.timedelta(minutes=2),  # after the prices (5 minutes ago)
    )

    report = run_window(window.pk)

    statuses = {i.pk: (i.status, i.window_id) for i in Intent.objects.all()}
    assert statuses[taken[0].pk] == ("done", window.pk)
    assert statuses[taken[1].pk] == ("pending", None)  # afternoon account, small
    assert statuses[taken[2].pk] == ("done", window.pk)  # worth 25,000.00: both windows
    assert statuses[too_late.pk] == ("pending", None)  # created after the start
    assert report["accounts"] == 2
    assert report["late_seconds"] >= 120
    assert verify_books() == []


def test_removing_a_whole_sub_pie_sells_every_leaf_below_it_and_reinvests_in_the_parent(alice):
    from pies.services import save_pie_tree

    spec = {
        "slices": [
            {"name": "VTI", "target_percent": "60", "value": "600"},
            {
                "name": "Bonds",
                "target_percent": "40",
                "slices": [
                    {"name": "BND", "target_percent": "50", "value": "200"},
                    {"name": "TIP", "target_percent": "50", "value": "100.50"},
                ],
            },
        ]
    }
    account, leaves = build_account(alice, spec, auto_invest=False)
    security("VXUS")
    # The investor drops the Bonds sub-pie and adds VXUS: one edit, nothing trades yet.
    save_pie_tree(
        account=account,
        tree={
            "slices": [
                {"target_percent": "50", "symbol": "VTI"},
                {"target_percent": "50", "symbol": "VXUS"},
            ]
        },
        version=1,
    )
    bonds = Slice.objects.get(pie__account=account, child_pie__name="Bonds")
    removal = Intent.objects.get(account=account, kind="removal")
    assert (bonds.status, removal.slice_id) == ("removing", bonds.pk)

    window = open_adhoc_window()
    run_window(window.pk)

    assert orders_by_path(window.pk, leaves, "sell") == {
        "Bonds/BND": "200.00",
        "Bonds/TIP": "100.50",
    }
    buys = Order.objects.filter(window=window, side="buy").select_related("security")
    # 300.50 goes to the portfolio pie, whatever auto-invest says: VXUS (empty) first.
    assert {o.security.symbol: str(o.amount) for o in buys} == {"VXUS": "300.50"}
    removal.refresh_from_db()
    assert removal.status == "done"
    assert set(
        Slice.objects.filter(pie__account=account, status="removed").values_list("pk", flat=True)
    ) == {bonds.pk, leaves["Bonds/BND"].pk, leaves["Bonds/TIP"].pk}
    assert verify_books() == []
