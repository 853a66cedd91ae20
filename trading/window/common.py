"""What the phases of a window share: the run's context and the set-based SQL helpers.

Reads go through ``fetch`` (one statement, rows as tuples). Writes are staged by binary COPY
(``trading.window.staging``) and applied by one statement of data-modifying CTEs per step, so
a chunk's whole effect is a fixed number of round trips whatever its size (performance.md: a
fixed number of statements per chunk). Data-modifying CTEs all run exactly once, on one
snapshot: a row is never written by two of them (the statements aggregate per row first).
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any, TypeVar

from django.db import connection, transaction

from pies.models import SliceStatus
from trading.models import (
    Account,
    AccountKind,
    IntentStatus,
    LedgerKind,
    OrderStatus,
    Side,
    WindowStatus,
)
from trading.money import limit_price
from trading.valuation import latest_price_sql
from trading.window.staging import LEDGER, ensure_stages, take

T = TypeVar("T")

# PostgreSQL advisory-lock namespace of the window engine (first key of the two-int form).
LOCK_NAMESPACE = 5_700_001


class WindowFault(RuntimeError):
    """Injected by ``run_window(fail_after_chunk=k)``: a crash after chunk k committed."""


@contextmanager
def timed_into(totals: dict[str, float], key: str) -> Iterator[None]:
    """Add the block's wall time to ``totals[key]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        totals[key] = totals.get(key, 0.0) + time.perf_counter() - started


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

    def ids(self) -> list[int]:
        return [self.house, self.external, self.clearing]


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

    def timed(self, phase: str) -> AbstractContextManager[None]:
        return timed_into(self.timings, phase)

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


# The collector is the process's, and chunks may run on several threads at once (``do_phase``):
# it pauses when the first chunk starts and comes back when the last one ends.
_pause_lock = threading.Lock()
_pauses = 0
_collector_was_enabled = False


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """A chunk builds hundreds of thousands of short-lived objects (rows, orders, explanations,
    lots) and keeps many alive until it writes them, so the cyclic garbage collector runs again
    and again over everything alive: a third of plan's CPU time at 5,000 accounts, measured. They
    form no cycles (reference counting frees them), so the collector pauses for the chunk."""
    global _pauses, _collector_was_enabled
    with _pause_lock:
        if _pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_enabled:
                gc.enable()


def in_chunk_transaction(work: Callable[[], T]) -> T:
    """``work()`` (a chunk) in one transaction, at 60 significant digits, with the cycle
    collector paused. The work is a function so that what it built is freed (by reference
    counting) when it returns, before the collector comes back: the collector's first pass
    would otherwise walk all of it (0.16 s of a 5,000-account plan chunk, measured)."""
    ensure_stages()  # before the transaction: created once per session, whatever it does
    with transaction.atomic(), localcontext() as context, cycle_collector_paused():
        context.prec = 60
        return work()


def fetch(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def window_prices(at: datetime) -> tuple[dict[int, Decimal], dict[int, str]]:
    """Every security's window price (latest at or before ``at``) and every symbol, one query.

    The universe is small (hundreds to a few thousand securities), so reading it whole once per
    run is cheaper than asking per chunk.
    """
    prices: dict[int, Decimal] = {}
    symbols: dict[int, str] = {}
    rows = fetch(
        f"""
        SELECT s.id, s.symbol, lp.price
        FROM trading_security s
        LEFT JOIN {latest_price_sql(security="s.id", at="%(at)s")} lp ON TRUE
        """,
        {"at": at},
    )
    for security_id, symbol, price in rows:
        symbols[security_id] = symbol
        if price is not None:
            prices[security_id] = price
    return prices, symbols


def save_progress(run: Run) -> None:
    fetch(
        "UPDATE trading_tradewindow SET progress = %s::jsonb WHERE id = %s RETURNING 1",
        [dump_json(run.progress), run.window_id],
    )


def load_json(value: Any) -> dict[str, Any]:
    """A jsonb value as read by a raw cursor (Django's psycopg setup returns it as text)."""
    if isinstance(value, str):
        return json.loads(value)
    return dict(value or {})


# One encoder for every call: json.dumps with options builds a new one each time, and the
# plan encodes an explanation per order.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def dump_json(value: Any) -> str:
    return _ENCODER.encode(value)


LedgerRow = tuple[int, Decimal, str, str, int | None]  # account, amount, kind, reference, intent


def add_to(totals: dict[Any, Decimal], key: Any, amount: Decimal) -> None:
    totals[key] = totals.get(key, Decimal(0)) + amount


def statuses() -> dict[str, str]:
    """The statuses, sides and ledger kinds the engine's SQL names, as parameters (from the
    models' choices, never literals in the SQL)."""
    return {
        "buy": Side.BUY,
        "sell": Side.SELL,
        "planned": OrderStatus.PLANNED,
        "filled": OrderStatus.FILLED,
        "waiting": OrderStatus.WAITING,
        "pending": IntentStatus.PENDING,
        "done": IntentStatus.DONE,
        "active": SliceStatus.ACTIVE,
        "removing": SliceStatus.REMOVING,
        "removed": SliceStatus.REMOVED,
        "running": WindowStatus.RUNNING,
        "deposit": LedgerKind.DEPOSIT,
        "cancelled": OrderStatus.CANCELLED,
        "window_done": WindowStatus.DONE,
        "settlement": LedgerKind.SETTLEMENT,
        "residue": LedgerKind.RESIDUE,
    }


# The window's heartbeat and phase (and, for the once-per-window steps, its progress): written
# by execute with its effects, and by every chunk in its last statement (``chunks.finish``),
# where it is also the lock that orders the chunks' writes to the system accounts.
# Needs %(window)s, %(phase)s, %(progress)s (null: keep).
PROGRESS_CTE = """
    beat AS (
        UPDATE trading_tradewindow
        SET progress = COALESCE(%(progress)s::jsonb, progress), phase = %(phase)s,
            heartbeat_at = clock_timestamp()
        WHERE id = %(window)s
        RETURNING id
    ),"""


def progress_params(run: Run | None, phase: str) -> dict[str, Any]:
    """PROGRESS_CTE's parameters: ``run``'s progress saved, or (None) the saved one kept."""
    return {"progress": dump_json(run.progress) if run else None, "phase": phase}


# The staged ledger entries (``staging.LEDGER``) written, and each customer account's cash
# moved by their sum (relative, so a dividend paid meanwhile is kept). Needs %(window)s and
# %(system)s (the system accounts' ids). The system accounts' own sums are ``deltas`` rows:
# SYSTEM_CASH_CTE moves them in a once-per-window statement; a chunk reads them with
# SYSTEM_DELTAS and moves them in its last statement (``chunks.finish``).
LEDGER_CTES = f"""
    -- ledger entries, and each account's cash moved by their sum
    ledger AS ({take(LEDGER)}),
    entries AS (
        INSERT INTO trading_ledgerentry (account_id, amount, kind, reference, window_id,
            intent_id, dividend_id, created_at)
        SELECT account_id, amount, kind, reference, %(window)s, intent_id, NULL,
            statement_timestamp()
        FROM ledger
        RETURNING 1
    ),
    deltas AS (
        SELECT account_id, SUM(amount) AS delta FROM ledger
        GROUP BY account_id HAVING SUM(amount) <> 0
    ),
    cash AS (
        UPDATE trading_account a SET cash = a.cash + d.delta
        FROM deltas d
        WHERE a.id = d.account_id AND a.id <> ALL(%(system)s::bigint[])
        RETURNING 1
    )"""

# The system accounts' cash moved by their ``deltas`` (after LEDGER_CTES and PROGRESS_CTE).
SYSTEM_CASH_CTE = """
    system_cash AS (
        UPDATE trading_account a SET cash = a.cash + d.delta
        FROM deltas d, beat
        WHERE a.id = d.account_id AND a.id = ANY(%(system)s::bigint[])
        RETURNING 1
    )"""

# Two output columns of a chunk's apply statement: the system accounts its entries move, and
# by how much (after LEDGER_CTES).
SYSTEM_DELTAS = """
    (SELECT COALESCE(array_agg(account_id ORDER BY account_id), '{}') FROM deltas
     WHERE account_id = ANY(%(system)s::bigint[])),
    (SELECT COALESCE(array_agg(delta ORDER BY account_id), '{}') FROM deltas
     WHERE account_id = ANY(%(system)s::bigint[]))"""
