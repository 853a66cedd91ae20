"""Staging tables: a chunk's rows go to PostgreSQL by binary COPY, then a few set-based
statements apply them (performance.md, section 2: COPY is the write path's floor).

The staging tables are UNLOGGED (no WAL: their rows never outlive a transaction) and carry no
key: a transaction sees only its own uncommitted rows in them, so ``DELETE FROM stage RETURNING
...`` inside the apply statement takes exactly the rows this chunk copied, whoever else is
copying into the same table at the same time (another worker's chunk), and leaves the table as
it found it. A chunk that fails rolls its staged rows back with everything else.

COPY goes through Django's execute wrappers (``copy_rows``), so statement counters see one
statement per staged table.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import connection


class Stage(NamedTuple):
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type), in COPY order

    def ddl(self) -> str:
        columns = ", ".join(f"{name} {kind}" for name, kind in self.columns)
        return f"CREATE UNLOGGED TABLE {self.table} ({columns})"


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


def copy_rows(stage: Stage, rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY of ``rows`` into ``stage``: one statement, whatever the number of rows."""
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
