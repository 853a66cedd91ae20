"""What accounts are worth at the latest prices, and what follows from it.

The read side under the services and the pages: the latest price of a security, the value of
positions and accounts, what may still be withdrawn, the next window an account trades in
(accounts worth 25,000.00 or more trade in both), and today's market change. Reads only, each
in a fixed number of queries whatever the number of accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from trading.calendar import CalendarRangeError, WindowSlot, next_window_for, previous_close
from trading.models import Account, Intent, IntentKind, Order, OrderStatus, Position, Side
from trading.money import ZERO, half_up_cents, sellable_value, withdrawable


def latest_price_sql(*, security: str, at: str) -> str:
    """The one "latest price at or before t" of the engine's and the pages' SQL: a LATERAL
    subquery giving the ``price`` and ``at`` of the latest stored price of ``security`` at or
    before ``at`` (both SQL expressions of the outer query: ``"s.id"``, ``"%(at)s"``).

    ``JOIN {...} lp ON TRUE`` drops a security without a price yet; ``LEFT JOIN`` keeps it with
    NULLs. Per security it is one backward step on the (security, at) unique index, however long
    the price history is (DISTINCT ON over the prices would read all of it).
    """
    return f"""LATERAL (
        SELECT candidate.price, candidate.at FROM trading_price candidate
        WHERE candidate.security_id = {security} AND candidate.at <= {at}
        ORDER BY candidate.at DESC LIMIT 1
    )"""


def latest_prices(
    security_ids: Iterable[int], at: datetime | None = None
) -> dict[int, tuple[Decimal, datetime]]:
    """The latest stored price at or before ``at`` (default now) for each security, one query."""
    ids = sorted(set(security_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.id, lp.price, lp.at
            FROM trading_security s
            JOIN {latest_price_sql(security="s.id", at="%(at)s")} lp ON TRUE
            WHERE s.id = ANY(%(ids)s)
            """,
            {"ids": ids, "at": at or timezone.now()},
        )
        return {sid: (price, when) for sid, price, when in cursor.fetchall()}


def holding_values(
    account_ids: Iterable[int], at: datetime | None = None
) -> dict[int, list[Decimal]]:
    """Per account, the exact value (quantity x latest price) of each priced holding, in one
    query. A holding without a price is worth nothing yet (it cannot be sold)."""
    ids = sorted(set(account_ids))
    found: dict[int, list[Decimal]] = {account_id: [] for account_id in ids}
    if not ids:
        return found
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT p.account_id, p.quantity * lp.price
            FROM trading_position p
            JOIN {latest_price_sql(security="p.security_id", at="%(at)s")} lp ON TRUE
            WHERE p.account_id = ANY(%(accounts)s) AND p.quantity > 0
            """,
            {"at": at or timezone.now(), "accounts": ids},
        )
        for account_id, value in cursor.fetchall():
            found[account_id].append(value)
    return found


def invested_values(account_ids: Iterable[int], at: datetime | None = None) -> dict[int, Decimal]:
    """Each account's holdings at the latest prices, as their sellable values (each rounded
    down to cents: allocation.md, Notation), in one query."""
    return {
        account_id: sum((sellable_value(value) for value in values), ZERO)
        for account_id, values in holding_values(account_ids, at).items()
    }


def account_value(*, account: Account, at: datetime | None = None) -> Decimal:
    """Cash plus the holdings' sellable values at the latest prices (the value the
    both-windows threshold is judged by, and the total value shown everywhere)."""
    return account.cash + invested_values([account.pk], at)[account.pk]


@dataclass(frozen=True)
class Valuation:
    invested_value: Decimal  # the sum of the holdings' sellable values
    total_value: Decimal  # cash + invested_value
    available_to_withdraw: Decimal


def valuations(accounts: Iterable[Account]) -> dict[int, Valuation]:
    """Per account, its values now and what it can withdraw (``trading.money.withdrawable``:
    cash plus the sellable values less the pending withdrawals; nothing once a withdrawal of
    everything is pending), in two queries for any number of accounts."""
    accounts = list(accounts)
    values = holding_values(account.pk for account in accounts)
    reserved: dict[int, tuple[Decimal, bool]] = {
        row["account_id"]: (row["total"] or ZERO, row["everything"] > 0)
        for row in Intent.objects.pending()
        .filter(account__in=[account.pk for account in accounts], kind=IntentKind.WITHDRAWAL)
        .values("account_id")
        .annotate(total=Sum("amount"), everything=Count("id", filter=Q(withdraw_all=True)))
    }
    found = {}
    for account in accounts:
        invested = sum((sellable_value(value) for value in values[account.pk]), ZERO)
        pending, everything = reserved.get(account.pk, (ZERO, False))
        available = withdrawable(
            cash=account.cash, values=values[account.pk], pending_withdrawals=pending
        )
        found[account.pk] = Valuation(
            invested, account.cash + invested, ZERO if everything else available
        )
    return found


def with_values(accounts: list[Account]) -> list[Account]:
    """Set ``invested_value``, ``total_value`` (cash included) and ``available_to_withdraw``
    on each account, at the latest prices: two queries for any number of accounts."""
    found = valuations(accounts)
    for account in accounts:
        account.invested_value = found[account.pk].invested_value
        account.total_value = found[account.pk].total_value
        account.available_to_withdraw = found[account.pk].available_to_withdraw
    return accounts


def available_to_withdraw(*, account: Account) -> Decimal:
    """What ``account`` can withdraw now: the one valuation the API, the forms, the intent
    services and the window's planner check a withdrawal against (allocation.md, Notation)."""
    return valuations([account])[account.pk].available_to_withdraw


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
    """Per account: what the market did, since the previous close, to the shares held at that
    close (shares a window bought since then gained nothing of that move, and shares sold
    since then were held through it). Securities without a price at both times count as
    unchanged (a new listing is not a gain), and cash flows are not market moves."""
    try:
        before_at = previous_close(now)
    except CalendarRangeError:
        return {}
    # Per position, the shares filled since the close: bought (+) and sold (-).
    since = {
        position_id: (bought or ZERO) - (sold or ZERO)
        for position_id, bought, sold in Order.objects.filter(
            account_id__in=account_ids,
            status=OrderStatus.FILLED,
            window__scheduled_at__gt=before_at,
            window__scheduled_at__lte=now,
        )
        .values("position_id")
        .annotate(
            bought=Sum("quantity", filter=Q(side=Side.BUY)),
            sold=Sum("quantity", filter=Q(side=Side.SELL)),
        )
        .values_list("position_id", "bought", "sold")
    }
    held = [
        (account_id, security_id, quantity - since.get(position_id, ZERO))
        for position_id, account_id, security_id, quantity in Position.objects.filter(
            Q(quantity__gt=0) | Q(pk__in=list(since)), account_id__in=account_ids
        ).values_list("id", "account_id", "security_id", "quantity")
    ]
    securities = {security_id for _, security_id, quantity in held if quantity > 0}
    now_prices = latest_prices(securities, now)
    then_prices = latest_prices(securities, before_at)
    changes: dict[int, Decimal] = {}
    for account_id, security_id, quantity in held:
        if quantity > 0 and security_id in now_prices and security_id in then_prices:
            move = quantity * (now_prices[security_id][0] - then_prices[security_id][0])
            changes[account_id] = changes.get(account_id, ZERO) + move
    return {account_id: half_up_cents(change) for account_id, change in changes.items()}
