"""What the phases of a window share: the run's context and the set-based SQL helpers.

Reads go through ``fetch`` (one statement, rows as tuples). Writes go through ``write_all``:
several INSERT / UPDATE statements sent as one statement of data-modifying CTEs, so a chunk's
whole effect is one round trip whatever its size (performance.md: a fixed number of statements
per chunk). Data-modifying CTEs all run exactly once, on one snapshot: a row is never written
by two of them (the callers aggregate per row first).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from trading.models import Account, AccountKind
from trading.money import limit_price

# PostgreSQL advisory-lock namespace of the window engine (first key of the two-int form).
LOCK_NAMESPACE = 5_700_001


class WindowFault(RuntimeError):
    """Injected by ``run_window(fail_after_chunk=k)``: a crash after chunk k committed."""


@dataclass
class SystemAccounts:
    house: int
    external: int
    clearing: int

    @classmethod
    def load(cls) -> SystemAccounts:
        return cls(
            house=Account.system(AccountKind.HOUSE).pk,
            external=Account.system(AccountKind.EXTERNAL).pk,
            clearing=Account.system(AccountKind.CLEARING).pk,
        )


@dataclass
class Run:
    """One run of one window: what every phase needs, read once per run."""

    window_id: int
    trade_date: date
    session: str
    scheduled_at: datetime
    chunk_size: int
    system: SystemAccounts
    progress: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    # security id -> window price (latest stored price at or before scheduled_at)
    prices: dict[int, Decimal] = field(default_factory=dict)
    symbols: dict[int, str] = field(default_factory=dict)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

    def chunks(self) -> int:
        return int(self.progress.get("chunks", 0))

    @property
    def max_slippage_bp(self) -> int:
        """b, the slippage this window accepts: fixed by its first run (``fix_slippage``), so
        a resumed run sizes and limits its orders as the plan did."""
        return int(self.progress.get("max_slippage_bp", 0))

    def fix_slippage(self, max_slippage_bp: int) -> None:
        self.progress.setdefault("max_slippage_bp", max_slippage_bp)

    def limit_prices(self) -> dict[int, Decimal]:
        """Per security, the limit price floor4(w * (1 - b)) sells are sized at."""
        b = self.max_slippage_bp
        return {security_id: limit_price(price, b) for security_id, price in self.prices.items()}


def fetch(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def write_all(writes: Sequence[tuple[str, Sequence[Any]]], *, tail: str = "SELECT 1") -> list:
    """Run the statements of ``writes`` (each an INSERT/UPDATE with %s placeholders and its
    parameters) as one statement; ``tail`` may read what they RETURNING-ed (by name w0, w1..).
    """
    parts = []
    params: list[Any] = []
    for index, (sql, values) in enumerate(writes):
        parts.append(f"w{index} AS ({sql})")
        params.extend(values)
    with connection.cursor() as cursor:
        cursor.execute("WITH " + ",\n".join(parts) + "\n" + tail, params)
        return cursor.fetchall()


def window_prices(at: datetime) -> tuple[dict[int, Decimal], dict[int, str]]:
    """Every security's window price (latest at or before ``at``) and every symbol, one query.

    The universe is small (hundreds to a few thousand securities), so reading it whole once per
    run is cheaper than asking per chunk.
    """
    prices: dict[int, Decimal] = {}
    symbols: dict[int, str] = {}
    rows = fetch(
        """
        SELECT s.id, s.symbol, lp.price
        FROM trading_security s
        LEFT JOIN LATERAL (
            SELECT price FROM trading_price p
            WHERE p.security_id = s.id AND p.at <= %s
            ORDER BY p.at DESC LIMIT 1
        ) lp ON TRUE
        """,
        [at],
    )
    for security_id, symbol, price in rows:
        symbols[security_id] = symbol
        if price is not None:
            prices[security_id] = price
    return prices, symbols


def load_json(value: Any) -> dict[str, Any]:
    """A jsonb value as read by a raw cursor (Django's psycopg setup returns it as text)."""
    if isinstance(value, str):
        return json.loads(value)
    return dict(value or {})


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


LedgerRow = tuple[int, Decimal, str, str, int | None]  # account, amount, kind, reference, intent


def insert_ledger(window_id: int, rows: Sequence[LedgerRow]) -> tuple[str, list[Any]]:
    """Ledger entries as one INSERT (zero amounts are not movements: the table refuses them)."""
    rows = [row for row in rows if row[1] != 0]
    columns: list[list[Any]] = [[], [], [], [], []]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    sql = """
        INSERT INTO trading_ledgerentry
            (account_id, amount, kind, reference, window_id, intent_id, dividend_id, created_at)
        SELECT u.account_id, u.amount, u.kind, u.reference, %s, u.intent_id, NULL,
               statement_timestamp()
        FROM unnest(%s::bigint[], %s::numeric[], %s::text[], %s::text[], %s::bigint[])
            AS u(account_id, amount, kind, reference, intent_id)
        RETURNING 1"""
    return sql, [window_id, *columns]


def update_cash(deltas: dict[int, Decimal]) -> tuple[str, list[Any]]:
    """Add each delta to its account's cash (relative, so a concurrent dividend is kept)."""
    items = [(pk, delta) for pk, delta in deltas.items() if delta != 0]
    sql = """
        UPDATE trading_account a SET cash = a.cash + u.delta
        FROM unnest(%s::bigint[], %s::numeric[]) AS u(id, delta)
        WHERE a.id = u.id
        RETURNING 1"""
    return sql, [[pk for pk, _ in items], [delta for _, delta in items]]


def save_progress(run: Run, phase: str) -> tuple[str, list[Any]]:
    """The window's progress and heartbeat, written with the chunk's effects (same statement)."""
    sql = """
        UPDATE trading_tradewindow
        SET progress = %s::jsonb, phase = %s, heartbeat_at = clock_timestamp()
        WHERE id = %s
        RETURNING 1"""
    return sql, [dump_json(run.progress), phase, run.window_id]


def add_to(totals: dict[Any, Decimal], key: Any, amount: Decimal) -> None:
    totals[key] = totals.get(key, Decimal(0)) + amount
