"""Data for the daily-jobs benchmark (performance.md section 4), written with COPY.

``generate`` writes N investor accounts opened before the first day of a history of trading
days, each holding K positions over a universe of securities with a close every trading day.
Every ``BUY_EVERY`` trading days an account deposits and buys one lot of each position (a
ledger deposit, a done deposit intent, one buy entry and one lot per position); halfway it
sells half of its first lots and withdraws the proceeds (disposals, sell and withdrawal
entries). Cash and positions are the sums of the entries and lots, as the books keep them.
Each account also has a weekly recurring deposit whose next occurrence is the last day, so
the recurring job has N schedules due. Ids are reserved from the sequences, as in
``bench.trade_window``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from bench.trade_window import (
    ACCOUNT_COLUMNS,
    USER_COLUMNS,
    account_row,
    bench_securities,
    copy_into,
    reserve_ids,
    user_row,
)
from trading.calendar import MARKET_TZ, close_of
from trading.money import floor_shares

BUY_EVERY = 21  # trading days: about once a month
CENT = Decimal("0.01")


@dataclass
class History:
    days: list[date]
    accounts: int
    rows: dict[str, int]


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=MARKET_TZ)


def _universe(days: list[date], size: int, rng: random.Random) -> dict[int, list[Decimal]]:
    """Securities D000.. with a close on every day (a random walk); {id: closes by day}."""
    ids = bench_securities("D", size, "Daily Bench Fund")
    closes: dict[int, list[Decimal]] = {}
    for pk in ids:
        price = Decimal(rng.randint(2000, 40000)) / 100
        walk = []
        for _ in days:
            price = max(Decimal("1.00"), (price * Decimal(rng.randint(970, 1030)) / 1000))
            walk.append(price.quantize(CENT))
        closes[pk] = walk
    copy_into(
        "trading_price",
        ["security_id", "at", "price"],
        ((pk, close_of(day), walk[n]) for pk, walk in closes.items() for n, day in enumerate(days)),
    )
    return closes


def generate(
    *, accounts: int, positions: int, days: list[date], seed: int, securities: int = 500
) -> History:
    """Write the benchmark's accounts and their history over ``days`` (trading days)."""
    rng = random.Random(seed)
    closes = _universe(days, securities, rng)
    security_ids = list(closes)
    opened = _at(days[0], 8) - timedelta(days=1)
    token = f"{seed}-{datetime.now().timestamp():.0f}"
    buy_days = list(range(0, len(days), BUY_EVERY))
    sell_day = len(days) // 2

    user0 = reserve_ids("auth_user", accounts)
    account0 = reserve_ids("trading_account", accounts)
    position0 = reserve_ids("trading_position", accounts * positions)
    lot0 = reserve_ids("trading_lot", accounts * positions * len(buy_days))

    users, rows_accounts, rows_positions, lots, disposals = [], [], [], [], []
    entries: list[tuple[Any, ...]] = []
    intents, schedules = [], []
    lot_id = lot0
    last = days[-1]
    for n in range(accounts):
        user_id, account_id = user0 + n, account0 + n
        users.append(user_row(user_id, f"daily-{token}-{n}", opened))
        held = rng.sample(security_ids, positions)
        quantity = dict.fromkeys(held, Decimal(0))
        cash = Decimal(0)
        first_lots: dict[int, tuple[int, Decimal, Decimal]] = {}
        for index in buy_days:
            day = days[index]
            costs = []
            for offset, security_id in enumerate(held):
                cost = Decimal(rng.randint(2000, 20000)) / 100
                shares = floor_shares(cost / closes[security_id][index])
                lots.append(
                    (lot_id, position0 + n * positions + offset, day, shares, shares, cost, cost)
                )
                first_lots.setdefault(security_id, (lot_id, shares, cost))
                quantity[security_id] += shares
                costs.append(cost)
                lot_id += 1
            deposit = sum(costs, Decimal(0)) + Decimal("5.00")
            entries.append((account_id, deposit, "deposit", f"bench:{n}:{index}", _at(day, 9)))
            intents.append((account_id, deposit, _at(day, 8), _at(day, 10)))
            for cost in costs:
                entries.append((account_id, -cost, "buy", f"bench:{n}:{index}", _at(day, 10)))
            cash += Decimal("5.00")
            if index <= sell_day < index + BUY_EVERY and len(buy_days) > 1:
                sold_on = days[sell_day]
                proceeds_total = Decimal(0)
                for security_id, (sold_lot, shares, cost) in first_lots.items():
                    half = floor_shares(shares / 2)
                    if half <= 0:
                        continue
                    basis = (cost * half / shares).quantize(CENT)
                    proceeds = (half * closes[security_id][sell_day]).quantize(CENT)
                    row = (sold_lot, account_id, security_id, days[0], sold_on, half)
                    disposals.append((*row, proceeds, basis, proceeds - basis, "short"))
                    quantity[security_id] -= half
                    proceeds_total += proceeds
                    entries.append((account_id, proceeds, "sell", f"bench:{n}:s", _at(sold_on, 10)))
                entries.append(
                    (account_id, -proceeds_total, "withdrawal", f"bench:{n}:w", _at(sold_on, 11))
                )
        for offset, security_id in enumerate(held):
            rows_positions.append(
                (position0 + n * positions + offset, account_id, security_id, quantity[security_id])
            )
        rows_accounts.append(account_row(account_id, user_id, cash, opened))
        start = last - timedelta(days=28)
        schedules.append((account_id, Decimal(rng.randint(1000, 50000)) / 100, start, last))

    # A lot is sold from by at most one disposal here: its remaining is what the disposal left.
    sold_shares = {row[0]: row[5] for row in disposals}
    sold_cost = {row[0]: row[7] for row in disposals}
    written = {
        "users": copy_into("auth_user", USER_COLUMNS, users),
        "accounts": copy_into("trading_account", ACCOUNT_COLUMNS, rows_accounts),
        "positions": copy_into(
            "trading_position", ["id", "account_id", "security_id", "quantity"], rows_positions
        ),
        "lots": copy_into(
            "trading_lot",
            [
                "id",
                "position_id",
                "acquired_on",
                "quantity",
                "remaining_quantity",
                "cost_basis",
                "remaining_cost",
            ],
            (
                (
                    pk,
                    position,
                    day,
                    shares,
                    shares - sold_shares.get(pk, 0),
                    cost,
                    cost - sold_cost.get(pk, 0),
                )
                for pk, position, day, shares, _, cost, _ in lots
            ),
        ),
        "disposals": copy_into(
            "trading_disposal",
            [
                "lot_id",
                "account_id",
                "security_id",
                "acquired_on",
                "sold_on",
                "quantity",
                "proceeds",
                "cost_basis",
                "gain",
                "term",
            ],
            disposals,
        ),
        "ledger": copy_into(
            "trading_ledgerentry",
            ["account_id", "amount", "kind", "reference", "created_at"],
            entries,
        ),
        "intents": copy_into(
            "trading_intent",
            [
                "account_id",
                "kind",
                "amount",
                "withdraw_all",
                "status",
                "request_fingerprint",
                "failure_reason",
                "created_at",
                "finished_at",
            ],
            (
                (account, "deposit", amount, False, "done", "", "", created, finished)
                for account, amount, created, finished in intents
            ),
        ),
        "schedules": copy_into(
            "trading_recurringdeposit",
            [
                "account_id",
                "amount",
                "frequency",
                "start_date",
                "paused",
                "next_date",
                "last_occurrence",
                "created_at",
                "updated_at",
            ],
            (
                (
                    account,
                    amount,
                    "weekly",
                    start,
                    False,
                    due,
                    due - timedelta(days=7),
                    opened,
                    opened,
                )
                for account, amount, start, due in schedules
            ),
        ),
    }
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return History(days=days, accounts=accounts, rows=written)
