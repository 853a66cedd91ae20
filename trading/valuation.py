"""What accounts are worth at the latest prices, and what follows from it.

The read side under the services and the pages: the latest price of a security, the value of
positions and accounts, what may still be withdrawn, the next window an account trades in
(accounts worth 25,000.00 or more trade in both), and today's market change. Reads only, each
in a fixed number of queries whatever the number of accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from trading.calendar import CalendarRangeError, WindowSlot, next_window_for, previous_close
from trading.models import Account, Intent, IntentKind, Position
from trading.money import ZERO, half_up_cents


def latest_prices(
    security_ids: Iterable[int], at: datetime | None = None
) -> dict[int, tuple[Decimal, datetime]]:
    """The latest stored price at or before ``at`` (default now) for each security, one query."""
    ids = sorted(set(security_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (security_id) security_id, price, at
            FROM trading_price
            WHERE security_id = ANY(%s) AND at <= %s
            ORDER BY security_id, at DESC
            """,
            [ids, at or timezone.now()],
        )
        return {sid: (price, when) for sid, price, when in cursor.fetchall()}


def invested_values(account_ids: Iterable[int], at: datetime | None = None) -> dict[int, Decimal]:
    """Market value of each account's positions at the latest prices, in one query."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.account_id, COALESCE(SUM(p.quantity * lp.price), 0)
            FROM trading_position p
            JOIN LATERAL (
                SELECT price FROM trading_price pr
                WHERE pr.security_id = p.security_id AND pr.at <= %s
                ORDER BY pr.at DESC LIMIT 1
            ) lp ON TRUE
            WHERE p.account_id = ANY(%s) AND p.quantity > 0
            GROUP BY p.account_id
            """,
            [at or timezone.now(), ids],
        )
        found = {account_id: half_up_cents(value) for account_id, value in cursor.fetchall()}
    return {account_id: found.get(account_id, ZERO) for account_id in ids}


def with_values(accounts: list[Account]) -> list[Account]:
    """Set ``invested_value`` and ``total_value`` (cash included) on each account, at the
    latest prices: one query for any number of accounts."""
    values = invested_values(account.pk for account in accounts)
    for account in accounts:
        account.invested_value = values.get(account.pk, ZERO)
        account.total_value = account.cash + account.invested_value
    return accounts


def account_value(*, account: Account, at: datetime | None = None) -> Decimal:
    """Cash plus positions at the latest prices (the value the withdrawal limit and the
    both-windows threshold are judged by)."""
    return account.cash + invested_values([account.pk], at)[account.pk]


def available_to_withdraw(*, account: Account) -> Decimal:
    """The account's value net of the withdrawals already pending (nothing once a withdrawal
    of everything is pending)."""
    pending = Intent.objects.pending().filter(account=account, kind=IntentKind.WITHDRAWAL)
    if pending.filter(withdraw_all=True).exists():
        return ZERO
    reserved = pending.aggregate(total=Sum("amount"))["total"] or ZERO
    return max(account_value(account=account) - reserved, ZERO)


def window_for_account(
    account: Account, now: datetime, *, value: Decimal | None = None
) -> WindowSlot:
    """The next window ``account`` trades in after ``now``, judged by its value at the latest
    prices (or by ``value``, when the caller already has it: pages do not query it twice)."""
    if value is None:
        value = account_value(account=account)
    return next_window_for(now=now, preference=account.window_preference, value=value)


def next_window_or_none(account: Account, value: Decimal, now: datetime) -> WindowSlot | None:
    """``window_for_account``, or None past the end of the exchange calendar (a page still
    renders then, saying "the next trading day")."""
    try:
        return window_for_account(account, now, value=value)
    except CalendarRangeError:
        return None


def market_changes(account_ids: list[int], now: datetime) -> dict[int, Decimal]:
    """Per account: what today's prices did to the shares held now, against the previous
    close. Securities without a price at both times count as unchanged (a new listing is
    not a gain), and cash flows are not market moves, so they are left out too."""
    try:
        before_at = previous_close(now)
    except CalendarRangeError:
        return {}
    held = list(
        Position.objects.filter(account_id__in=account_ids, quantity__gt=0).values_list(
            "account_id", "security_id", "quantity"
        )
    )
    securities = {security_id for _, security_id, _ in held}
    now_prices = latest_prices(securities, now)
    then_prices = latest_prices(securities, before_at)
    changes: dict[int, Decimal] = {}
    for account_id, security_id, quantity in held:
        if security_id in now_prices and security_id in then_prices:
            move = quantity * (now_prices[security_id][0] - then_prices[security_id][0])
            changes[account_id] = changes.get(account_id, ZERO) + move
    return {account_id: half_up_cents(change) for account_id, change in changes.items()}
