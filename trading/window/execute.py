"""Phase 4, execute: the broker fills the net blocks, net sells first (allocation.md, Execution).

1. Every net sell goes to the broker in shares, as a limit order at the window's limit price;
   the blocks it filled (with the blocks the buys cross completely, which need no broker) are
   recorded in one transaction: block rows, fills, settlement entries, progress.
2. Only then every net buy goes to it in dollars, and those blocks are recorded the same way.
A refused order fails the window: what the broker filled before refusing is recorded first
(the window knows a fill exists), and nothing after it is sent, so a refused net sell fails
the window before any buy is sent. A rerun sends only the blocks not recorded yet: a block
recorded as filled is never sent twice.

Cash with the broker settles through CLEARING (a net buy pays the cash charged c, a net sell
receives the cash paid P); post then moves it between CLEARING and the accounts, and ``close``
gives the house what the formulas leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import NamedTuple

from django.db import transaction

from trading.brokers import Broker, BrokerRefused, Execution, NetBuy, NetSell
from trading.models import LedgerKind, Side
from trading.money import ZERO, floor_cents, quantize_price
from trading.window.common import (
    LEDGER_CTES,
    PROGRESS_CTE,
    SYSTEM_CASH_CTE,
    LedgerRow,
    Run,
    fetch,
    progress_params,
)
from trading.window.net import Block
from trading.window.staging import BROKER_FILLS, LEDGER, copy_rows, ensure_stages, take

CROSS_REFERENCE = "internal cross"

_RECORDED = "SELECT security_id FROM trading_blockorder WHERE window_id = %(window)s"


class BlockRow(NamedTuple):
    """One block as recorded (a ``trading_blockorder`` row before close sets the house's
    share): ``_APPLY`` takes one array parameter per field, named like it."""

    security_id: int
    buy_quantity: Decimal
    buy_amount: Decimal
    sell_quantity: Decimal
    crossed_quantity: Decimal
    net_side: str
    net_quantity: Decimal  # the broker's shares
    window_price: Decimal
    limit_price: Decimal | None  # net sells only
    fill_price: Decimal
    settlement_amount: Decimal  # the broker's cash: + paid for a buy, - received for a sell


# One step's blocks, their fills and settlement entries (staged), cash and progress.
# blocks: the block rows (``BlockRow``), the house's share zero until close;
# broker_fills/fills: each block's fills (the internal cross, the broker's), by security.
_APPLY = f"""
WITH
    {PROGRESS_CTE}
    blocks AS (
        INSERT INTO trading_blockorder (window_id, security_id, buy_quantity, buy_amount,
            sell_quantity, crossed_quantity, net_side, net_quantity, window_price, limit_price,
            fill_price, house_quantity, settlement_amount, house_cash)
        SELECT %(window)s, u.security_id, u.buy_quantity, u.buy_amount, u.sell_quantity,
            u.crossed_quantity, u.net_side, u.net_quantity, u.window_price, u.limit_price,
            u.fill_price, 0, u.settlement_amount, 0
        FROM unnest(%(security_id)s::bigint[], %(buy_quantity)s::numeric[],
                    %(buy_amount)s::numeric[], %(sell_quantity)s::numeric[],
                    %(crossed_quantity)s::numeric[], %(net_side)s::text[],
                    %(net_quantity)s::numeric[], %(window_price)s::numeric[],
                    %(limit_price)s::numeric[], %(fill_price)s::numeric[],
                    %(settlement_amount)s::numeric[])
            AS u(security_id, buy_quantity, buy_amount, sell_quantity, crossed_quantity,
                 net_side, net_quantity, window_price, limit_price, fill_price,
                 settlement_amount)
        RETURNING id, security_id
    ),
    broker_fills AS ({take(BROKER_FILLS)}),
    fills AS (
        INSERT INTO trading_fill (block_id, side, quantity, price, broker_reference,
            executed_at)
        SELECT b.id, f.side, f.quantity, f.price, f.broker_reference, statement_timestamp()
        FROM broker_fills f JOIN blocks b ON b.security_id = f.security_id
        RETURNING 1
    ),
    {LEDGER_CTES},
    {SYSTEM_CASH_CTE}
SELECT (SELECT COUNT(*) FROM blocks), (SELECT COUNT(*) FROM fills)
"""


class BrokerError(RuntimeError):
    """The broker reported something the window cannot accept (nothing of it is recorded)."""


def _reference(run: Run, block: Block, side: str) -> str:
    return f"pies:window:{run.window_id}:{block.symbol}:{side}"


def _checked_sells(orders: dict[int, NetSell], executions: Sequence[Execution]) -> list:
    checked = []
    for execution in executions:
        order = orders.get(execution.security_id)
        with localcontext() as context:
            context.prec = 60
            least = floor_cents(execution.quantity * order.limit_price) if order else ZERO
        if (
            order is None
            or execution.quantity != order.quantity
            or execution.price <= 0
            or execution.cash < least
        ):
            raise BrokerError(
                f"The broker reported a sell it was not asked for, or below its limit: "
                f"{execution}; asked {order}."
            )
        checked.append(execution)
    return checked


def _checked_buys(orders: dict[int, NetBuy], executions: Sequence[Execution]) -> list:
    checked = []
    for execution in executions:
        order = orders.get(execution.security_id)
        if (
            order is None
            or execution.quantity < 0
            or not ZERO <= execution.cash <= order.amount
            or (execution.quantity > 0 and execution.price <= 0)
        ):
            raise BrokerError(
                f"The broker reported a buy it was not asked for, or charging more than the "
                f"amount: {execution}; asked {order}."
            )
        checked.append(execution)
    return checked


def _record(run: Run, filled: list[tuple[Block, Execution | None]], *, finished: bool) -> None:
    """Blocks with their fills, settlement entries and the progress: one transaction."""
    rows: list[BlockRow] = []
    fill_rows: list[tuple[int, str, Decimal, Decimal, str]] = []
    ledger: list[LedgerRow] = []
    with localcontext() as context:
        context.prec = 60
        for block, execution in filled:
            side = block.net_side
            shares = execution.quantity if execution else ZERO
            paid = execution.cash if execution else ZERO
            settlement = paid if side == Side.BUY else -paid
            price = quantize_price(paid / shares) if shares > 0 else block.window_price
            rows.append(
                BlockRow(
                    security_id=block.security_id,
                    buy_quantity=block.buy_quantity,
                    buy_amount=block.buy_amount,
                    sell_quantity=block.sell_quantity,
                    crossed_quantity=block.crossed,
                    net_side=side,
                    net_quantity=shares,
                    window_price=block.window_price,
                    limit_price=block.limit_price if side == Side.SELL else None,
                    fill_price=price,
                    settlement_amount=settlement,
                )
            )
            if block.crossed:
                fill_rows.append(
                    (
                        block.security_id,
                        Side.BUY,
                        block.crossed,
                        block.window_price,
                        CROSS_REFERENCE,
                    )
                )
            if execution is not None and shares > 0:
                fill_rows.append(
                    (block.security_id, side, shares, execution.price, execution.reference)
                )
            reference = f"window:{run.window_id}:settlement:{block.symbol}"
            ledger.append(
                (run.system.clearing, -settlement, LedgerKind.SETTLEMENT, reference, None)
            )
            ledger.append((run.system.external, settlement, LedgerKind.SETTLEMENT, reference, None))

    run.progress["blocks"] = run.progress.get("blocks", 0) + len(rows)
    run.progress["fills"] = run.progress.get("fills", 0) + len(fill_rows)
    if finished:
        run.progress["execute"] = True
    columns = {field: [getattr(row, field) for row in rows] for field in BlockRow._fields}
    ensure_stages()  # before the transaction: created once per session
    with transaction.atomic():
        copy_rows(BROKER_FILLS, fill_rows)
        copy_rows(LEDGER, (row for row in ledger if row[1] != 0))
        fetch(
            _APPLY,
            {
                "window": run.window_id,
                "system": run.system.ids(),
                **columns,
                **progress_params(run, "execute"),
            },
        )


def _sell(run: Run, blocks: list[Block], broker: Broker) -> None:
    orders = {
        b.security_id: NetSell(
            b.security_id,
            b.symbol,
            b.sell_to_broker,
            b.limit_price,
            b.window_price,
            _reference(run, b, Side.SELL),
        )
        for b in blocks
        if b.sell_to_broker > 0
    }
    try:
        executions = broker.sell(list(orders.values())) if orders else []
    except BrokerRefused as refused:
        done = {e.security_id: e for e in _checked_sells(orders, refused.filled)}
        if done:
            _record(
                run,
                [(b, done[b.security_id]) for b in blocks if b.security_id in done],
                finished=False,
            )
        raise
    done = {e.security_id: e for e in _checked_sells(orders, executions)}
    if set(done) != set(orders) or len(executions) != len(orders):
        raise BrokerError(
            f"The broker filled {len(done)} of {len(orders)} net sells without refusing the "
            "others: each must be filled in full or refused."
        )
    _record(run, [(b, done.get(b.security_id)) for b in blocks], finished=False)


def _buy(run: Run, blocks: list[Block], broker: Broker) -> None:
    orders = {
        b.security_id: NetBuy(
            b.security_id,
            b.symbol,
            b.buy_from_broker,
            b.window_price,
            _reference(run, b, Side.BUY),
        )
        for b in blocks
    }
    try:
        executions = broker.buy(list(orders.values())) if orders else []
    except BrokerRefused as refused:
        done = {e.security_id: e for e in _checked_buys(orders, refused.filled)}
        if done:
            _record(
                run,
                [(b, done[b.security_id]) for b in blocks if b.security_id in done],
                finished=False,
            )
        raise
    done = {e.security_id: e for e in _checked_buys(orders, executions)}
    if set(done) != set(orders) or len(executions) != len(orders):
        raise BrokerError(
            f"The broker filled {len(done)} of {len(orders)} net buys without refusing the "
            "others: each must be filled in full or refused."
        )
    _record(run, [(b, done[b.security_id]) for b in blocks], finished=True)


def execute(run: Run, blocks: list[Block], broker: Broker) -> None:
    """Net sells, recorded; then net buys, recorded. Blocks already recorded (by an earlier run
    that failed after them) are not sent again."""
    recorded: set[int] = set()
    if run.progress.get("blocks"):  # an earlier run recorded some: read which
        recorded = {security_id for (security_id,) in fetch(_RECORDED, {"window": run.window_id})}
    sells = [b for b in blocks if b.net_side == Side.SELL and b.security_id not in recorded]
    buys = [b for b in blocks if b.net_side == Side.BUY and b.security_id not in recorded]
    # Always two transactions (even with one side empty): a fixed number of statements.
    _sell(run, sells, broker)
    _buy(run, buys, broker)
