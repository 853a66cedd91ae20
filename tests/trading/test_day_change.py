"""Today's change counts only the shares held at the previous close (issue 14): money a window
invested since that close is not credited with the close-to-close move, shares sold since were
held through it. Across a weekend and across a holiday (Good Friday 2026)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.web.builders import build_pie, hold
from trading.calendar import MARKET_TZ, close_of
from trading.models import Order, Position, Price, Security, TradeWindow
from trading.valuation import market_changes

pytestmark = pytest.mark.django_db


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MARKET_TZ)


def price(symbol: str, when: datetime, value: str) -> None:
    Price.objects.create(
        security=Security.objects.get(symbol=symbol), at=when, price=Decimal(value)
    )


def filled(position: Position, when: datetime, side: str, shares: str) -> None:
    """A window at ``when`` that filled ``shares`` of ``position`` (and moved the position)."""
    window = TradeWindow.objects.create(
        trade_date=when.date(), session="morning", scheduled_at=when, status="done"
    )
    quantity = Decimal(shares)
    Order.objects.create(
        window=window,
        account=position.account,
        position=position,
        security=position.security,
        side=side,
        status="filled",
        amount=Decimal("1.00"),
        quantity=quantity,
        price=Decimal("100.00"),
        filled_amount=Decimal("1.00"),
        reason="deposit" if side == "buy" else "withdrawal",
    )
    position.quantity += quantity if side == "buy" else -quantity
    position.save(update_fields=["quantity"])


@pytest.fixture
def vti(alice_account, make_security) -> Position:
    make_security("VTI", None)
    build_pie(alice_account, [{"target_percent": "100", "symbol": "VTI"}])
    return hold(alice_account, "VTI", "10", "900.00")


def test_over_a_weekend_only_the_shares_held_at_thursdays_close_get_fridays_move(
    vti, alice_account
):
    thursday, friday, saturday = date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 7)
    price("VTI", close_of(thursday), "100.00")
    filled(vti, at(friday, 9, 30), "sell", "4")  # held at Thursday's close: it had the move
    price("VTI", close_of(friday), "110.00")
    filled(vti, at(saturday, 10), "buy", "5")  # an ad-hoc window on Saturday
    assert vti.quantity == Decimal("11")

    changes = market_changes([alice_account.pk], at(saturday, 12))

    assert changes == {alice_account.pk: Decimal("100.00")}  # 10 x 10.00, not 11 x 10.00


def test_after_a_holiday_the_previous_close_is_the_last_trading_day_before_it(vti, alice_account):
    thursday, monday = date(2026, 4, 2), date(2026, 4, 6)  # Good Friday between them
    price("VTI", close_of(thursday), "100.00")
    price("VTI", at(monday, 11), "105.00")
    filled(vti, at(monday, 9, 30), "buy", "5")  # bought this morning, after Thursday's close

    changes = market_changes([alice_account.pk], at(monday, 12))

    assert changes == {alice_account.pk: Decimal("50.00")}  # 10 x 5.00


def test_a_position_sold_out_since_the_close_still_had_the_move(vti, alice_account):
    thursday, friday = date(2026, 3, 5), date(2026, 3, 6)
    price("VTI", close_of(thursday), "100.00")
    price("VTI", at(friday, 9, 0), "98.00")
    filled(vti, at(friday, 9, 30), "sell", "10")  # sold at the window, after the move

    changes = market_changes([alice_account.pk], at(friday, 12))

    assert changes == {alice_account.pk: Decimal("-20.00")}


def test_new_money_alone_shows_no_change(alice_account, make_security):
    make_security("VTI", None)
    build_pie(alice_account, [{"target_percent": "100", "symbol": "VTI"}])
    friday, saturday = date(2026, 3, 6), date(2026, 3, 7)
    price("VTI", close_of(date(2026, 3, 5)), "100.00")
    price("VTI", close_of(friday), "102.23")
    position = hold(alice_account, "VTI", "0", "0.00")
    filled(position, at(saturday, 10), "buy", "9.781864")  # a first 1,000.00, on Saturday

    assert market_changes([alice_account.pk], at(saturday, 12)) == {}
