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

from django.db import transaction

from trading.brokers import Broker, BrokerRefused, Execution, NetBuy, NetSell
from trading.money import ZERO, floor_cents, quantize_price
from trading.window.common import (
    LEDGER_CTES,
    PROGRESS_CTE,
    LedgerRow,
    Run,
    fetch,
    progress_params,
)
from trading.window.net import Block
from trading.window.staging import BROKER_FILLS, LEDGER, copy_rows, take

CROSS_REFERENCE = "internal cross"

_RECORDED = "SELECT security_id FROM trading_blockorder WHERE window_id = %s"
# One step's blocks, their fills and settlement entries (staged), cash and progress.
_APPLY = f"""
WITH
    {PROGRESS_CTE}
    blocks AS (
        INSERT INTO trading_blockorder (window_id, security_id, buy_quantity, buy_amount,
            sell_quantity, crossed_quantity, net_side, net_quantity, window_price, limit_price,
            fill_price, house_quantity, settlement_amount, house_cash)
        SELECT %(window)s, u.security_id, u.buy, u.buy_amount, u.sell, u.crossed, u.side,
            u.net, u.window_price, u.limit_price, u.fill_price, 0, u.settlement, 0
        FROM unnest(%(securities)s::bigint[], %(buys)s::numeric[], %(buy_amounts)s::numeric[],
                    %(sells)s::numeric[], %(crossed)s::numeric[], %(sides)s::text[],
                    %(nets)s::numeric[], %(window_prices)s::numeric[],
                    %(limit_prices)s::numeric[], %(fill_prices)s::numeric[],
                    %(settlements)s::numeric[])
            AS u(security_id, buy, buy_amount, sell, crossed, side, net, window_price,
                 limit_price, fill_price, settlement)
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
    {LEDGER_CTES}
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
    rows = []
    fill_rows: list[tuple[int, str, Decimal, Decimal, str]] = []
    ledger: list[LedgerRow] = []
    with localcontext() as context:
        context.prec = 60
        for block, execution in filled:
            side = block.net_side
            shares = execution.quantity if execution else ZERO
            paid = execution.cash if execution else ZERO
            settlement = paid if side == "buy" else -paid
            price = quantize_price(paid / shares) if shares > 0 else block.window_price
            rows.append(
                (
                    block.security_id,
                    block.buy_quantity,
                    block.buy_amount,
                    block.sell_quantity,
                    block.crossed,
                    side,
                    shares,
                    block.window_price,
                    block.limit_price if side == "sell" else None,
                    price,
                    settlement,
                )
            )
            if block.crossed:
                fill_rows.append(
                    (block.security_id, "buy", block.crossed, block.window_price, CROSS_REFERENCE)
                )
            if execution is not None and shares > 0:
                fill_rows.append(
                    (block.security_id, side, shares, execution.price, execution.reference)
                )
            reference = f"window:{run.window_id}:settlement:{block.symbol}"
            ledger.append((run.system.clearing, -settlement, "settlement", reference, None))
            ledger.append((run.system.external, settlement, "settlement", reference, None))

    run.progress["blocks"] = run.progress.get("blocks", 0) + len(rows)
    run.progress["fills"] = run.progress.get("fills", 0) + len(fill_rows)
    if finished:
        run.progress["execute"] = True
    columns = [list(column) for column in zip(*rows, strict=True)] or [[]] * 11
    names = [
        "securities",
        "buys",
        "buy_amounts",
        "sells",
        "crossed",
        "sides",
        "nets",
        "window_prices",
        "limit_prices",
        "fill_prices",
        "settlements",
    ]
    with transaction.atomic():
        copy_rows(BROKER_FILLS, fill_rows)
        copy_rows(LEDGER, (row for row in ledger if row[1] != 0))
        fetch(
            _APPLY,
            {
                "window": run.window_id,
                "system": run.system.ids(),
                **dict(zip(names, columns, strict=True)),
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
            _reference(run, b, "sell"),
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
            _reference(run, b, "buy"),
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
        recorded = {security_id for (security_id,) in fetch(_RECORDED, [run.window_id])}
    sells = [b for b in blocks if b.net_side == "sell" and b.security_id not in recorded]
    buys = [b for b in blocks if b.net_side == "buy" and b.security_id not in recorded]
    # Always two transactions (even with one side empty): a fixed number of statements.
    _sell(run, sells, broker)
    _buy(run, buys, broker)
