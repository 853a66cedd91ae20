"""Staging tables: a chunk's rows go to PostgreSQL by binary COPY, then a few set-based
statements apply them (performance.md, section 2: COPY is the write path's floor).

The staging tables are temporary: each database session has its own, created on its first
chunk (``IF NOT EXISTS``) and emptied at every commit (``ON COMMIT DELETE ROWS``). So a chunk's
apply statement reads exactly the rows it copied (``DELETE FROM stage RETURNING ...``), a chunk
that fails rolls its staged rows back with everything else, and the tables never grow: the
planner sizes them by their pages, and tables shared by every session (unlogged, until trading
migration 0018) swelled with the rows earlier chunks had deleted, so that by a window's tenth
chunk it took a chunk's 18,000 fills for 150,000 and joined them to every order by hash,
reading the whole table (measured at 100,000 accounts). The engine therefore needs session
pooling (README, "Running on several machines").

COPY goes through Django's execute wrappers (``copy_rows``), so statement counters see one
statement per staged table, and one more for the tables on a session's first chunk.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import connection, transaction


class Stage(NamedTuple):
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type), in COPY order

    def ddl(self) -> str:
        columns = ", ".join(f"{name} {kind}" for name, kind in self.columns)
        return f"CREATE TEMP TABLE IF NOT EXISTS {self.table} ({columns}) ON COMMIT DELETE ROWS"


# Plan: new orders (a null position_id is a slice that gets its position in the same statement).
ORDERS = Stage(
    "trading_stage_order",
    (
        ("account_id", "bigint"),
        ("slice_id", "bigint"),
        ("position_id", "bigint"),
        ("security_id", "bigint"),
        ("intent_id", "bigint"),
        ("side", "text"),
        ("status", "text"),
        ("amount", "numeric"),
        ("quantity", "numeric"),
        ("reason", "text"),
        ("explanation", "text"),
    ),
)
# Execute: the broker's fills (and internal crosses) of the blocks just recorded, by security.
BROKER_FILLS = Stage(
    "trading_stage_broker_fill",
    (
        ("security_id", "bigint"),
        ("side", "text"),
        ("quantity", "numeric"),
        ("price", "numeric"),
        ("broker_reference", "text"),
    ),
)
# Post: filled orders (new lots and position moves are derived from them in SQL).
FILLS = Stage(
    "trading_stage_fill",
    (
        ("order_id", "bigint"),
        ("position_id", "bigint"),
        ("side", "text"),
        ("quantity", "numeric"),
        ("price", "numeric"),
        ("filled_amount", "numeric"),
    ),
)
# Post: one row per lot consumed by a sell: the disposal, and what the lot has left.
DISPOSALS = Stage(
    "trading_stage_disposal",
    (
        ("lot_id", "bigint"),
        ("order_id", "bigint"),
        ("account_id", "bigint"),
        ("security_id", "bigint"),
        ("acquired_on", "date"),
        ("quantity", "numeric"),
        ("proceeds", "numeric"),
        ("cost", "numeric"),
        ("gain", "numeric"),
        ("term", "text"),
        ("lot_remaining_quantity", "numeric"),
        ("lot_remaining_cost", "numeric"),
    ),
)
# Plan, execute and post: ledger entries (cash moves are their sums per account).
LEDGER = Stage(
    "trading_stage_ledger",
    (
        ("account_id", "bigint"),
        ("amount", "numeric"),
        ("kind", "text"),
        ("reference", "text"),
        ("intent_id", "bigint"),
    ),
)
STAGES = (ORDERS, BROKER_FILLS, FILLS, DISPOSALS, LEDGER)

_BINARY_TYPES = {"bigint": "int8", "numeric": "numeric", "text": "text", "date": "date"}


def ensure_stages() -> None:
    """This session's staging tables, created unless it has them (one statement).

    Remembered per database connection once created for good: at once in autocommit (the
    engine calls this before each chunk's transaction), else when the enclosing transaction
    commits (a rollback takes the tables back too; until then each call creates them again,
    which ``IF NOT EXISTS`` makes harmless)."""
    connection.ensure_connection()
    session = connection.connection
    if getattr(connection, "_pies_stages_of", None) is session:
        return
    with connection.cursor() as cursor:
        cursor.execute("; ".join(stage.ddl() for stage in STAGES))

    def remember() -> None:
        connection._pies_stages_of = session  # type: ignore[attr-defined]

    if connection.in_atomic_block:
        transaction.on_commit(remember)
    else:
        remember()


def copy_rows(stage: Stage, rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY of ``rows`` into ``stage``: one statement, whatever the number of rows."""
    ensure_stages()
    names = ", ".join(name for name, _ in stage.columns)
    sql = f"COPY {stage.table} ({names}) FROM STDIN (FORMAT BINARY)"
    types = [_BINARY_TYPES[kind] for _, kind in stage.columns]
    with connection.cursor() as cursor:

        def run(sql: str, params: Any, many: bool, context: dict) -> None:
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)

        # The same chain Django's cursor runs a statement through (statement counters).
        executor: Any = run
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        executor(sql, None, False, {"connection": connection, "cursor": cursor})


def take(stage: Stage) -> str:
    """The CTE body that reads and clears this transaction's staged rows of ``stage``."""
    names = ", ".join(name for name, _ in stage.columns)
    return f"DELETE FROM {stage.table} RETURNING {names}"
