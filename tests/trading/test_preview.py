from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from pies.models import Pie, Slice
from pies.services import open_account
from trading.models import Account, Lot, Position
from trading.services import (
    IntentError,
    preview_rebalance,
    preview_removal,
    preview_withdrawal,
)

RECENTLY = timezone.now().date() - timedelta(days=30)  # short-term for any window soon


def holding(pie: Pie, security, target_bp: int, lots: list[tuple[date, str, str]]) -> Slice:
    slice_ = Slice.objects.create(pie=pie, security=security, target_bp=target_bp)
    total = sum((Decimal(quantity) for _, quantity, _ in lots), Decimal(0))
    position = Position.objects.create(
        account=pie.account, security=security, slice=slice_, quantity=total
    )
    for acquired_on, quantity, cost in lots:
        Lot.objects.create(
            position=position,
            acquired_on=acquired_on,
            quantity=Decimal(quantity),
            remaining_quantity=Decimal(quantity),
            cost_basis=Decimal(cost),
            remaining_cost=Decimal(cost),
        )
    return slice_


def build_core(account: Account, make_security) -> dict[str, Slice]:
    """api.md's example: VTI 60% worth 7,000; Bonds 40% (BND 70%, TIP 30%) worth 3,000."""
    root = Pie.objects.get(account=account, is_root=True)
    bonds = Pie.objects.create(account=account, name="Bonds")
    vti = holding(
        root,
        make_security("VTI", "250.00"),
        6000,
        [(date(2024, 3, 1), "10", "2117.00"), (RECENTLY, "18", "4860.00")],
    )
    Slice.objects.create(pie=root, child_pie=bonds, target_bp=4000, order=1)
    bnd = holding(bonds, make_security("BND", "100.00"), 7000, [(date(2024, 5, 1), "20", "1900")])
    tip = holding(bonds, make_security("TIP", "50.00"), 3000, [(RECENTLY, "20", "1100.00")])
    return {"VTI": vti, "BND": bnd, "TIP": tip}


def test_a_rebalance_preview_lists_the_planned_orders_at_current_prices(
    alice_account, make_security
):
    build_core(alice_account, make_security)
    preview = preview_rebalance(account=alice_account).as_dict()
    assert preview["orders"] == [
        {
            "path": "VTI",
            "symbol": "VTI",
            "side": "sell",
            "amount": "1000.00",
            "quantity": "4.000000",
        },
        {"path": "Bonds/BND", "symbol": "BND", "side": "buy", "amount": "800.00"},
        {"path": "Bonds/TIP", "symbol": "TIP", "side": "buy", "amount": "200.00"},
    ]


def test_tax_min_sells_the_short_term_loss_first(alice_account, make_security):
    build_core(alice_account, make_security)
    tax = preview_rebalance(account=alice_account).as_dict()["tax"]
    # 4 of the 18 recent shares bought at 270.00: cost 4860 x 4/18 = 1080.00, a loss of 80.00.
    assert tax == {
        "taxable": True,
        "short_term_gain": "-80.00",
        "long_term_gain": "0.00",
        "lots": [
            {
                "path": "VTI",
                "symbol": "VTI",
                "acquired_on": RECENTLY.isoformat(),
                "quantity": "4.000000",
                "cost_basis": "1080.00",
                "proceeds": "1000.00",
                "gain": "-80.00",
                "term": "short",
            }
        ],
    }


def test_fifo_sells_the_oldest_lot_for_a_long_term_gain(alice_account, make_security):
    build_core(alice_account, make_security)
    alice_account.lot_method = "fifo"
    alice_account.save(update_fields=["lot_method"])
    tax = preview_rebalance(account=alice_account).as_dict()["tax"]
    # api.md's example numbers: 4 of 10 shares costing 2,117.00 -> 846.80, gain 153.20.
    assert (tax["short_term_gain"], tax["long_term_gain"]) == ("0.00", "153.20")
    assert [(lot["acquired_on"], lot["cost_basis"], lot["term"]) for lot in tax["lots"]] == [
        ("2024-03-01", "846.80", "long")
    ]


def test_a_sub_pie_rebalance_only_trades_inside_it(alice_account, make_security):
    build_core(alice_account, make_security)
    bonds = Pie.objects.get(account=alice_account, name="Bonds")
    orders = preview_rebalance(account=alice_account, pie=bonds).as_dict()["orders"]
    # Bonds is worth 3,000: BND 2,100 (holds 2,000), TIP 900 (holds 1,000).
    assert orders == [
        {
            "path": "Bonds/TIP",
            "symbol": "TIP",
            "side": "sell",
            "amount": "100.00",
            "quantity": "2.000000",
        },
        {"path": "Bonds/BND", "symbol": "BND", "side": "buy", "amount": "100.00"},
    ]


def test_investable_cash_joins_a_portfolio_rebalance_with_auto_invest(alice_account, make_security):
    build_core(alice_account, make_security)
    alice_account.cash = Decimal("1000.00")  # only read by the preview, never saved
    orders = preview_rebalance(account=alice_account).as_dict()["orders"]
    # V = 11,000: VTI 6,600 (sell 400), BND 3,080 (buy 1,080), TIP 1,320 (buy 320).
    assert [(o["symbol"], o["side"], o["amount"]) for o in orders] == [
        ("VTI", "sell", "400.00"),
        ("BND", "buy", "1080.00"),
        ("TIP", "buy", "320.00"),
    ]


def test_a_withdrawal_preview_uses_cash_first_then_trims_the_most_overweight(
    alice_account, make_security
):
    build_core(alice_account, make_security)
    alice_account.cash = Decimal("100.00")
    Account.objects.filter(pk=alice_account.pk).update(cash=Decimal("100.00"))
    preview = preview_withdrawal(account=alice_account, amount="600.00").as_dict()
    assert preview["orders"] == [
        {"path": "VTI", "symbol": "VTI", "side": "sell", "amount": "500.00", "quantity": "2.000000"}
    ]
    assert preview["tax"]["short_term_gain"] == "-40.00"  # 2 x (250 - 270)


def test_a_withdrawal_preview_over_the_available_value_is_refused(alice_account, make_security):
    build_core(alice_account, make_security)
    with pytest.raises(IntentError) as error:
        preview_withdrawal(account=alice_account, amount="10000.01")
    assert error.value.errors == {"amount": ["You can withdraw at most 10,000.00."]}
    with pytest.raises(IntentError):
        preview_withdrawal(account=alice_account, amount="NaN")


def test_a_withdraw_all_preview_sells_every_position_in_full(alice_account, make_security):
    build_core(alice_account, make_security)
    orders = preview_withdrawal(account=alice_account, withdraw_all=True).as_dict()["orders"]
    assert {(o["symbol"], o["quantity"]) for o in orders} == {
        ("VTI", "28.000000"),
        ("BND", "20.000000"),
        ("TIP", "20.000000"),
    }


def test_a_removal_preview_sells_the_slice_and_reinvests_in_its_parent_pie(
    alice_account, make_security
):
    slices = build_core(alice_account, make_security)
    preview = preview_removal(account=alice_account, slice=slices["TIP"]).as_dict()
    assert preview["orders"] == [
        {
            "path": "Bonds/TIP",
            "symbol": "TIP",
            "side": "sell",
            "amount": "1000.00",
            "quantity": "20.000000",
        },
        {"path": "Bonds/BND", "symbol": "BND", "side": "buy", "amount": "1000.00"},
    ]
    assert preview["tax"]["short_term_gain"] == "-100.00"  # 1,000 proceeds, 1,100 cost


def test_a_removal_preview_of_someone_elses_slice_is_refused(
    alice_account, bob_account, make_security
):
    slices = build_core(bob_account, make_security)
    with pytest.raises(IntentError):
        preview_removal(account=alice_account, slice=slices["VTI"])


def test_a_retirement_account_preview_says_gains_are_not_taxable(alice, make_security):
    roth = open_account(user=alice, kind="roth_ira")
    build_core(roth, make_security)
    preview = preview_rebalance(account=roth).as_dict()
    assert len(preview["orders"]) == 3
    tax = preview["tax"]
    assert tax["taxable"] is False
    assert "retirement" in tax["note"]
    assert (tax["short_term_gain"], tax["long_term_gain"], tax["lots"]) == (None, None, [])


def test_a_preview_runs_a_constant_number_of_queries(
    alice_account, make_security, django_assert_max_num_queries
):
    build_core(alice_account, make_security)
    with django_assert_max_num_queries(12):
        preview_rebalance(account=alice_account)
