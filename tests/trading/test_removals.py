"""Removals always finish (product.md, Pies and slices; issue 12, problem 5): every path ends
with no money parked in a removing pie and every intent final, and a removal or withdrawal of
everything that meets a security without a price waits, with a reason, instead of completing
in part."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from pies.models import Slice
from pies.services import save_pie_tree
from tests.api.conftest import client_for
from tests.trading.engine_helpers import LONG_AGO, PRICE, build_account, intent, security
from trading.books import verify_books
from trading.models import Account, Intent, LedgerEntry, Lot, Order, Position, Price
from trading.window import open_adhoc_window, run_window


def give(account: Account, slice_: Slice, value: str) -> None:
    """Shares worth ``value`` at 10.00 in the slice's position, with their lot."""
    position, _ = Position.objects.get_or_create(
        account=account, security=slice_.security, slice=slice_
    )
    quantity = Decimal(value) / PRICE
    Position.objects.filter(pk=position.pk).update(quantity=position.quantity + quantity)
    Lot.objects.create(
        position=position,
        acquired_on=LONG_AGO,
        quantity=quantity,
        remaining_quantity=quantity,
        cost_basis=Decimal(value),
        remaining_cost=Decimal(value),
    )


def slices(account: Account) -> dict[str, str]:
    return {
        (s.security.symbol if s.security else s.child_pie.name): s.status
        for s in Slice.objects.filter(pie__account=account).select_related("security", "child_pie")
    }


def bought(window_id: int) -> dict[str, Decimal]:
    return {
        o.security.symbol: o.amount
        for o in Order.objects.filter(window_id=window_id, side="buy").select_related("security")
    }


def save(account: Account, *items: dict[str, Any]) -> None:
    root = account.pies.get(is_root=True)
    save_pie_tree(
        account=account, tree={"name": "Portfolio", "slices": list(items)}, version=root.version
    )


def sub(name: str, *items: dict[str, Any], target: str = "50") -> dict:
    node: dict[str, Any] = {"name": name, "slices": list(items)}
    return {"target_percent": target, "pie": node}


def leaf(symbol: str, target: str) -> dict[str, str]:
    return {"target_percent": target, "symbol": symbol}


def no_removing_pie_holds_money(account: Account) -> bool:
    """Every slice still removing has a pending removal intent that will sell it."""
    removing = Slice.objects.filter(pie__account=account, status="removing")
    return all(
        Intent.objects.filter(slice=s, kind="removal", status="pending").exists() for s in removing
    )


def test_a_removal_inside_a_removing_sub_pie_reinvests_above_it_and_everything_finishes(alice):
    """Problem 5: S holds XXX; YYY (no shares) is added; XXX is removed; then S."""
    for symbol in ("TTT", "XXX", "YYY"):
        security(symbol)
    account, _ = build_account(alice, {"slices": []}, auto_invest=False)
    save(account, leaf("TTT", "50"), sub("S", leaf("XXX", "100")))
    give(account, Slice.objects.get(security__symbol="XXX"), "500")
    save(account, leaf("TTT", "50"), sub("S", leaf("XXX", "50"), leaf("YYY", "50")))
    save(account, leaf("TTT", "50"), sub("S", leaf("YYY", "100")))
    save(account, leaf("TTT", "100"))
    assert slices(account) == {"TTT": "active", "S": "removing", "XXX": "removing", "YYY": "active"}

    window = open_adhoc_window()
    run_window(window.pk)

    assert bought(window.pk) == {"TTT": Decimal("500.00")}  # the top-level slice gets it
    assert slices(account) == {"TTT": "active", "S": "removed", "XXX": "removed", "YYY": "removed"}
    assert set(Intent.objects.filter(account=account).values_list("status", flat=True)) == {"done"}
    assert Position.objects.get(account=account, security__symbol="TTT").quantity == 50
    assert verify_books() == []


def test_a_leaf_removed_inside_a_sub_pie_already_removing_is_sold_once_with_the_sub_pie(alice):
    for symbol in ("TTT", "XXX", "YYY"):
        security(symbol)
    account, _ = build_account(alice, {"slices": []}, auto_invest=False)
    save(account, leaf("TTT", "50"), sub("S", leaf("XXX", "50"), leaf("YYY", "50")))
    give(account, Slice.objects.get(security__symbol="XXX"), "300")
    give(account, Slice.objects.get(security__symbol="YYY"), "200")
    save(account, leaf("TTT", "100"))  # S removing first
    save(account, leaf("TTT", "100"), sub("S", leaf("YYY", "100"), target="0"))  # then XXX

    window = open_adhoc_window()
    run_window(window.pk)

    sold = Order.objects.filter(window=window, side="sell").values_list(
        "security__symbol", "amount"
    )
    assert sorted(sold) == [("XXX", Decimal("300.00")), ("YYY", Decimal("200.00"))]
    assert bought(window.pk) == {"TTT": Decimal("500.00")}
    assert slices(account) == {"TTT": "active", "S": "removed", "XXX": "removed", "YYY": "removed"}
    assert set(Intent.objects.filter(account=account).values_list("status", flat=True)) == {"done"}
    assert verify_books() == []


def test_a_leaf_removal_in_a_sub_pie_that_waits_for_a_price_still_leaves_the_sub_pie(alice):
    for symbol in ("TTT", "XXX", "NOP"):
        security(symbol)
    account, _ = build_account(alice, {"slices": []}, auto_invest=False)
    save(account, leaf("TTT", "50"), sub("S", leaf("XXX", "50"), leaf("NOP", "50")))
    give(account, Slice.objects.get(security__symbol="XXX"), "300")
    give(account, Slice.objects.get(security__symbol="NOP"), "200")
    save(account, leaf("TTT", "50"), sub("S", leaf("NOP", "100")))  # XXX removing
    save(account, leaf("TTT", "100"))  # S removing
    Price.objects.filter(security__symbol="NOP").delete()

    first = open_adhoc_window()
    report = run_window(first.pk)

    assert bought(first.pk) == {"TTT": Decimal("300.00")}
    s_removal = Intent.objects.get(account=account, kind="removal", slice__child_pie__name="S")
    assert (s_removal.status, s_removal.window_id) == ("pending", None)
    assert "Waiting for a price of NOP" in s_removal.failure_reason
    assert report["skipped"]["removals_waiting"] == 1
    assert no_removing_pie_holds_money(account)
    assert verify_books() == []

    security("NOP")  # the price arrives
    second = open_adhoc_window()
    run_window(second.pk)

    assert bought(second.pk) == {"TTT": Decimal("200.00")}
    s_removal.refresh_from_db()
    assert (s_removal.status, s_removal.failure_reason) == ("done", "")
    assert slices(account) == {"TTT": "active", "S": "removed", "XXX": "removed", "NOP": "removed"}
    assert verify_books() == []


def test_a_rebalance_of_a_sub_pie_being_removed_moves_no_money_inside_it(alice):
    for symbol in ("TTT", "XXX", "YYY", "NOP"):
        security(symbol)
    account, _ = build_account(alice, {"slices": []}, auto_invest=False)
    save(
        account,
        leaf("TTT", "50"),
        sub("S", leaf("XXX", "50"), leaf("YYY", "25"), leaf("NOP", "25")),
    )
    give(account, Slice.objects.get(security__symbol="XXX"), "300")
    give(account, Slice.objects.get(security__symbol="NOP"), "100")
    s_pie = account.pies.get(name="S")
    intent(account, "rebalance", pie=s_pie)
    save(account, leaf("TTT", "100"))  # S removing (it holds shares), its rebalance stays
    Price.objects.filter(security__symbol="NOP").delete()  # so S's removal waits

    window = open_adhoc_window()
    run_window(window.pk)

    assert not Order.objects.filter(window=window).exists()
    rebalance = Intent.objects.get(account=account, kind="rebalance")
    assert rebalance.status == "done"
    assert no_removing_pie_holds_money(account)
    assert verify_books() == []


def test_a_withdrawal_of_everything_waits_for_a_price_of_every_holding(alice):
    account, _ = build_account(
        alice,
        {
            "slices": [
                {"name": "AAA", "target_percent": "50", "value": "100"},
                {"name": "NOP", "target_percent": "50", "value": "50"},
            ]
        },
    )
    Price.objects.filter(security__symbol="NOP").delete()
    everything = intent(account, "withdrawal", withdraw_all=True)
    rebalance = intent(account, "rebalance", pie=account.pies.get(is_root=True))
    deposit = intent(account, "deposit", "30.00")

    first = open_adhoc_window()
    run_window(first.pk)

    everything.refresh_from_db()
    assert (everything.status, everything.window_id) == ("pending", None)
    assert "Waiting for a price of NOP" in everything.failure_reason
    rebalance.refresh_from_db()
    assert (rebalance.status, rebalance.window_id) == ("pending", None)
    deposit.refresh_from_db()
    assert deposit.status == "done"  # credited; not invested: everything is to be withdrawn
    assert not Order.objects.filter(window=first).exists()
    assert not LedgerEntry.objects.filter(kind="withdrawal").exists()
    listed = client_for(alice).get(f"/api/v1/accounts/{account.pk}/intents/").json()["results"]
    shown = {item["id"]: item["failure_reason"] for item in listed}
    assert "Waiting for a price of NOP" in shown[everything.pk]
    assert verify_books() == []

    security("NOP")
    second = open_adhoc_window()
    run_window(second.pk)

    everything.refresh_from_db()
    assert (everything.status, everything.failure_reason) == ("done", "")
    paid = LedgerEntry.objects.get(intent=everything, account=account).amount
    assert paid == Decimal("-180.00")  # 100 + 50 of shares and the 30.00 deposited
    account.refresh_from_db()
    assert account.cash == 0
    assert sum(p.quantity for p in Position.objects.filter(account=account)) == 0
    assert verify_books() == []


def test_a_removal_without_a_price_says_why_it_waits(alice):
    account, leaves = build_account(
        alice,
        {
            "slices": [
                {"name": "AAA", "target_percent": "100", "value": "100"},
                {"name": "NOP", "target_percent": "0", "value": "50"},
            ]
        },
    )
    Price.objects.filter(security__symbol="NOP").delete()
    removal = intent(account, "removal", slice=leaves["NOP"])

    run_window(open_adhoc_window().pk)

    removal.refresh_from_db()
    assert (removal.status, removal.window_id) == ("pending", None)
    assert removal.failure_reason == (
        "Waiting for a price of NOP: it is sold at the next window with a price."
    )
    assert verify_books() == []


# --- ad-hoc windows are dated like the session they stand in for ------------------------------


def test_an_adhoc_window_on_a_weekend_or_holiday_takes_the_next_trading_days_date(alice):
    from trading.calendar import MARKET_TZ
    from trading.valuation import window_for_account

    account, _ = build_account(alice, {"slices": [{"name": "AAA", "target_percent": "100"}]})
    intent(account, "deposit", "100.00")
    saturday = timezone.datetime(2030, 3, 9, 12, 0, tzinfo=MARKET_TZ)
    monday = timezone.datetime(2030, 3, 11, 18, 0, tzinfo=MARKET_TZ)  # after the close
    christmas = timezone.datetime(2030, 12, 25, 10, 0, tzinfo=MARKET_TZ)

    window = open_adhoc_window(now=saturday)
    run_window(window.pk)

    assert window.trade_date == date(2030, 3, 11)
    assert window.trade_date == window_for_account(account, saturday).trade_date  # the preview's
    assert Lot.objects.get(position__account=account).acquired_on == date(2030, 3, 11)
    assert open_adhoc_window(now=monday).trade_date == date(2030, 3, 11)
    assert open_adhoc_window(now=christmas).trade_date == date(2030, 12, 26)
    assert verify_books() == []
