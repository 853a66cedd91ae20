"""Data for the trade-window benchmark (performance.md section 2), written with COPY.

``generate`` writes N accounts, each with a K-leaf pie (three leaves in a "Bonds" sub-pie when
K >= 5) over a universe of securities with prices, one open lot per position, and one pending
intent per account (70 % deposits, 10 % withdrawals, 20 % rebalances), all created a minute
ago, so an ad-hoc window opened now takes them. Ids are reserved from the tables' sequences so
the rows can reference each other without reading anything back.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from trading.money import floor_shares

UNIVERSE = 500


def reserve_ids(table: str, count: int) -> int:
    """The first of ``count`` fresh ids of ``table`` (its sequence moved past them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [sequence])
        (first,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + max(count, 1) - 1])
    return first


def copy_into(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


# The columns of the users and accounts both generators write, and one row of each.
USER_COLUMNS = [
    "id",
    "password",
    "is_superuser",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
]
ACCOUNT_COLUMNS = [
    "id",
    "owner_id",
    "kind",
    "name",
    "auto_invest",
    "min_cash",
    "window_preference",
    "lot_method",
    "cash",
    "created_at",
    "notify",
]


def user_row(user_id: int, username: str, joined: Any) -> tuple[Any, ...]:
    """A user who cannot log in (unusable password)."""
    return (user_id, "!", False, username, "", "", "", False, True, joined)


def account_row(account_id: int, user_id: int, cash: Any, created: Any) -> tuple[Any, ...]:
    """An individual morning account, auto-invest on, tax-min lots, confirmations on."""
    return (
        account_id,
        user_id,
        "individual",
        "",
        True,
        "0",
        "morning",
        "tax_min",
        cash,
        created,
        True,
    )


def bench_securities(prefix: str, size: int, fund: str) -> list[int]:
    """Securities ``<prefix>000``.. (ETFs named "<symbol> <fund>"), made unless they exist;
    their ids, in symbol order."""
    symbols = [f"{prefix}{n:03d}" for n in range(size)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO trading_security (symbol, name, kind, active)
            SELECT s, s || ' ' || %s, 'etf', true FROM unnest(%s::text[]) AS s
            ON CONFLICT (symbol) DO NOTHING
            """,
            [fund, symbols],
        )
        cursor.execute(
            "SELECT id FROM trading_security WHERE symbol = ANY(%s) ORDER BY symbol", [symbols]
        )
        return [pk for (pk,) in cursor.fetchall()]


def universe(size: int = UNIVERSE, *, seed: int = 1) -> dict[int, Decimal]:
    """Securities B000.. with a price an hour ago; returns {security id: price}."""
    rng = random.Random(seed)
    at = timezone.now() - timedelta(hours=1)
    ids = bench_securities("B", size, "Bench Fund")
    prices = {pk: Decimal(rng.randint(500, 50000)) / 100 for pk in ids}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO trading_price (security_id, at, price)
            SELECT u.id, %s, u.price FROM unnest(%s::bigint[], %s::numeric[]) AS u(id, price)
            ON CONFLICT (security_id, at) DO NOTHING
            """,
            [at, list(prices), list(prices.values())],
        )
    return prices


def generate(*, accounts: int, slices: int, seed: int, securities: int = UNIVERSE) -> dict:
    """Write the benchmark's accounts; returns counts of what was written."""
    rng = random.Random(seed)
    prices = universe(securities, seed=seed)
    security_ids = list(prices)
    now = timezone.now()
    created = now - timedelta(minutes=1)
    token = f"{seed}-{now.timestamp():.0f}"
    bonds = 3 if slices >= 5 else 0
    pies_per_account = 2 if bonds else 1

    user0 = reserve_ids("auth_user", accounts)
    account0 = reserve_ids("trading_account", accounts)
    pie0 = reserve_ids("pies_pie", accounts * pies_per_account)
    slice0 = reserve_ids("pies_slice", accounts * (slices + (1 if bonds else 0)))
    position0 = reserve_ids("trading_position", accounts * slices)

    rows: list[list[tuple[Any, ...]]] = [[] for _ in range(7)]
    users, rows_accounts, rows_pies, rows_slices, positions, lots, intents = rows
    slice_id, position_id = slice0, position0
    for n in range(accounts):
        user_id, account_id = user0 + n, account0 + n
        root = pie0 + n * pies_per_account
        users.append(user_row(user_id, f"bench-{token}-{n}", now))
        rows_accounts.append(account_row(account_id, user_id, "0", now))
        rows_pies.append((root, account_id, "Portfolio", True, 1, now))
        chosen = rng.sample(security_ids, slices)
        direct = chosen[: slices - bonds]
        top_children = len(direct) + (1 if bonds else 0)
        top_targets = _split(top_children)
        for order, security_id in enumerate(direct):
            rows_slices.append(
                (
                    slice_id,
                    root,
                    security_id,
                    None,
                    top_targets[order],
                    order,
                    "active",
                    now,
                    order % 10,
                )
            )
            _hold(rng, prices, account_id, security_id, slice_id, position_id, positions, lots)
            slice_id += 1
            position_id += 1
        if bonds:
            child = root + 1
            rows_pies.append((child, account_id, "Bonds", False, 1, now))
            rows_slices.append(
                (
                    slice_id,
                    root,
                    None,
                    child,
                    top_targets[-1],
                    len(direct),
                    "active",
                    now,
                    len(direct),
                )
            )
            slice_id += 1
            inner = _split(bonds)
            for order, security_id in enumerate(chosen[slices - bonds :]):
                rows_slices.append(
                    (
                        slice_id,
                        child,
                        security_id,
                        None,
                        inner[order],
                        order,
                        "active",
                        now,
                        order % 10,
                    )
                )
                _hold(rng, prices, account_id, security_id, slice_id, position_id, positions, lots)
                slice_id += 1
                position_id += 1
        roll = rng.random()
        if roll < 0.7:
            intents.append((account_id, "deposit", Decimal(rng.randint(5000, 200000)) / 100, None))
        elif roll < 0.8:
            intents.append(
                (account_id, "withdrawal", Decimal(rng.randint(1000, 30000)) / 100, None)
            )
        else:
            intents.append((account_id, "rebalance", None, root))

    written = {"users": copy_into("auth_user", USER_COLUMNS, users)}
    written["accounts"] = copy_into("trading_account", ACCOUNT_COLUMNS, rows_accounts)
    written["pies"] = copy_into(
        "pies_pie", ["id", "account_id", "name", "is_root", "version", "created_at"], rows_pies
    )
    written["slices"] = copy_into(
        "pies_slice",
        [
            "id",
            "pie_id",
            "security_id",
            "child_pie_id",
            "target_bp",
            '"order"',
            "status",
            "created_at",
            "colour",
        ],
        rows_slices,
    )
    written["positions"] = copy_into(
        "trading_position", ["id", "account_id", "security_id", "slice_id", "quantity"], positions
    )
    written["lots"] = copy_into(
        "trading_lot",
        [
            "position_id",
            "acquired_on",
            "quantity",
            "remaining_quantity",
            "cost_basis",
            "remaining_cost",
        ],
        lots,
    )
    written["intents"] = copy_into(
        "trading_intent",
        [
            "account_id",
            "kind",
            "amount",
            "withdraw_all",
            "pie_id",
            "status",
            "request_fingerprint",
            "failure_reason",
            "created_at",
        ],
        [(a, k, amount, False, p, "pending", "", "", created) for a, k, amount, p in intents],
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return written


def _split(children: int) -> list[int]:
    share, rest = divmod(10_000, children)
    return [share + (1 if i < rest else 0) for i in range(children)]


def _hold(
    rng: random.Random,
    prices: dict[int, Decimal],
    account_id: int,
    security_id: int,
    slice_id: int,
    position_id: int,
    positions: list,
    lots: list,
) -> None:
    value = Decimal(rng.randint(10000, 500000)) / 100
    quantity = floor_shares(value / prices[security_id])
    cost = (value * Decimal(rng.randint(80, 120)) / 100).quantize(Decimal("0.01"))
    positions.append((position_id, account_id, security_id, slice_id, quantity))
    acquired = date(2024, 1, 2) + timedelta(days=rng.randint(0, 600))
    lots.append((position_id, acquired, quantity, quantity, cost, cost))


# What a window did to the books, in a form that compares across two databases generated
# with the same seed: accounts by their order of creation, securities by symbol, no ids or
# timestamps. One md5 per part.
_BOOKS_DIGEST = """
WITH ordinal AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM trading_account
),
ledger AS (
    SELECT o.n, a.cash, COALESCE(SUM(l.amount), 0) AS total, COUNT(l.id) AS entries
    FROM ordinal o JOIN trading_account a ON a.id = o.id
    LEFT JOIN trading_ledgerentry l ON l.account_id = a.id
    GROUP BY o.n, a.cash
),
lots AS (
    SELECT o.n, s.symbol, l.acquired_on, l.quantity, l.remaining_quantity, l.cost_basis,
           l.remaining_cost
    FROM trading_lot l JOIN trading_position p ON p.id = l.position_id
    JOIN ordinal o ON o.id = p.account_id JOIN trading_security s ON s.id = p.security_id
),
fills AS (
    SELECT s.symbol, f.side, f.quantity, f.price
    FROM trading_fill f JOIN trading_blockorder b ON b.id = f.block_id
    JOIN trading_security s ON s.id = b.security_id
),
residues AS (
    SELECT s.symbol, b.net_side, b.net_quantity, b.house_quantity, b.house_cash
    FROM trading_blockorder b JOIN trading_security s ON s.id = b.security_id
)
SELECT md5(COALESCE((SELECT string_agg(x::text, ';' ORDER BY x::text) FROM ledger x), '')),
       md5(COALESCE((SELECT string_agg(x::text, ';' ORDER BY x::text) FROM lots x), '')),
       md5(COALESCE((SELECT string_agg(x::text, ';' ORDER BY x::text) FROM fills x), '')),
       md5(COALESCE((SELECT string_agg(x::text, ';' ORDER BY x::text) FROM residues x), ''))
"""


def books_digest() -> dict[str, str]:
    """md5s of every account's cash and ledger sum, every lot, every fill and every block's
    house residues."""
    with connection.cursor() as cursor:
        cursor.execute(_BOOKS_DIGEST)
        ledger, lots, fills, residues = cursor.fetchone()
    return {"ledger": ledger, "lots": lots, "fills": fills, "residues": residues}
