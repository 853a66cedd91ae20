"""A small history made by the real services and the real window engine, at past dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from pies.services import open_account, save_pie_tree
from trading.calendar import MARKET_TZ, close_of
from trading.models import Account, Intent, Price, Security, TradeWindow
from trading.services import request_deposit, request_withdrawal
from trading.window import open_adhoc_window, run_window

MON, TUE, WED, THU, FRI = (date(2026, 3, d) for d in (2, 3, 4, 5, 6))


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MARKET_TZ)


def close_price(security: Security, day: date, price: str) -> None:
    Price.objects.update_or_create(
        security=security, at=close_of(day), defaults={"price": Decimal(price)}
    )


def investor_account(user, *, symbol: str = "VTI", opened: date) -> Account:
    account = open_account(user=user, kind="individual")
    save_pie_tree(
        account=account,
        tree={"name": "Core", "slices": [{"target_percent": "100.00", "symbol": symbol}]},
        version=1,
    )
    Account.objects.filter(pk=account.pk).update(created_at=ny(opened, 8))
    account.refresh_from_db()
    return account


def window_on(day: date, *requests: tuple[Account, str, str]) -> TradeWindow:
    """Deposits and withdrawals made an hour before an ad-hoc window at 11:00 on ``day``."""
    at = ny(day, 11)
    ids = []
    for account, kind, amount in requests:
        request = request_deposit if kind == "deposit" else request_withdrawal
        ids.append(request(account=account, amount=amount).intent.pk)
    Intent.objects.filter(pk__in=ids).update(created_at=at - timedelta(hours=1))
    window = open_adhoc_window(now=at)
    run_window(window.pk)
    window.refresh_from_db()
    assert window.status == "done", window.error
    return window
