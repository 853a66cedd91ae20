"""Phase 4, execute: the broker fills the net blocks; each security gets one fill price.

The fill price is the volume-weighted average of what traded: the crossed shares at the window
price and the broker's fills at theirs, rounded half-up to the 4-decimal tick. Everything the
rounding (and allocation at that price) leaves over is the house's: see ``post.close``.

Cash with the broker settles through CLEARING: a net buy costs its fills' value rounded *up*
to cents, a net sell brings it rounded *down*, so rounding never leaves the house short.
Blocks, fills, settlement entries and the progress mark are one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal, localcontext

from django.db import transaction

from trading.brokers import BlockRequest, Broker, BrokerFill
from trading.money import CENT, ZERO, floor_cents, quantize_price
from trading.window.common import (
    LedgerRow,
    Run,
    add_to,
    insert_ledger,
    save_progress,
    update_cash,
    write_all,
)
from trading.window.net import Block

CROSS_REFERENCE = "internal cross"

_BLOCKS = """
    INSERT INTO trading_blockorder (window_id, security_id, buy_quantity, sell_quantity,
        crossed_quantity, net_side, net_quantity, window_price, fill_price, house_quantity,
        settlement_amount, house_cash)
    SELECT %s, u.security_id, u.buy, u.sell, u.crossed, u.side, u.net, u.window_price,
        u.fill_price, 0, u.settlement, 0
    FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::text[],
                %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[])
        AS u(security_id, buy, sell, crossed, side, net, window_price, fill_price, settlement)
    RETURNING id, security_id
"""
_FILLS = """
    INSERT INTO trading_fill (block_id, side, quantity, price, broker_reference, executed_at)
    SELECT w0.id, u.side, u.quantity, u.price, u.reference, statement_timestamp()
    FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::numeric[], %s::text[])
        AS u(security_id, side, quantity, price, reference)
    JOIN w0 ON w0.security_id = u.security_id
    RETURNING 1
"""


class BrokerError(RuntimeError):
    pass


def ceil_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_CEILING)


def _check(block: Block, fills: Sequence[BrokerFill]) -> None:
    filled = sum((fill.quantity for fill in fills), ZERO)
    if filled != block.net_quantity or any(fill.side != block.net_side for fill in fills):
        raise BrokerError(
            f"The broker filled {filled} of {block.symbol} for a {block.net_side} block of "
            f"{block.net_quantity}: blocks must be filled in full, on their side."
        )
    if any(fill.price <= 0 or fill.quantity <= 0 for fill in fills):
        raise BrokerError(f"The broker reported a fill of {block.symbol} without a positive price.")


def execute(run: Run, blocks: list[Block], broker: Broker) -> dict[int, Decimal]:
    """Fill the blocks; returns the fill price per security (also stored on the blocks)."""
    requests = [
        BlockRequest(b.security_id, b.symbol, b.net_side, b.net_quantity, b.window_price)
        for b in blocks
        if b.net_quantity > 0
    ]
    broker_fills = broker.execute(requests) if requests else []
    fills_of: dict[int, list[BrokerFill]] = {}
    for fill in broker_fills:
        fills_of.setdefault(fill.security_id, []).append(fill)

    fill_prices: dict[int, Decimal] = {}
    settlements: dict[int, Decimal] = {}
    fill_rows: list[tuple[int, str, Decimal, Decimal, str]] = []
    ledger: list[LedgerRow] = []
    cash: dict[int, Decimal] = {}
    with localcontext() as context:
        context.prec = 60
        for block in blocks:
            fills = fills_of.pop(block.security_id, [])
            _check(block, fills)
            broker_value = sum((fill.quantity * fill.price for fill in fills), ZERO)
            volume = block.crossed + block.net_quantity
            if volume:
                average = (block.crossed * block.window_price + broker_value) / volume
                fill_prices[block.security_id] = quantize_price(average)
            else:
                fill_prices[block.security_id] = block.window_price
            if block.crossed:
                fill_rows.append(
                    (block.security_id, "buy", block.crossed, block.window_price, CROSS_REFERENCE)
                )
            for fill in fills:
                fill_rows.append(
                    (block.security_id, fill.side, fill.quantity, fill.price, fill.reference)
                )
            if block.net_side == "buy":
                settlement = ceil_cents(broker_value)
            elif block.net_side == "sell":
                settlement = -floor_cents(broker_value)
            else:
                settlement = ZERO
            settlements[block.security_id] = settlement
            reference = f"window:{run.window_id}:settlement:{block.symbol}"
            ledger.append((run.system.clearing, -settlement, "settlement", reference, None))
            ledger.append((run.system.external, settlement, "settlement", reference, None))
            add_to(cash, run.system.clearing, -settlement)
            add_to(cash, run.system.external, settlement)
    if fills_of:
        raise BrokerError(f"The broker filled securities it was not asked for: {sorted(fills_of)}")

    run.progress["execute"] = True
    run.progress["blocks"] = len(blocks)
    run.progress["fills"] = len(fill_rows)
    with transaction.atomic():
        write_all(
            [
                (
                    _BLOCKS,
                    [
                        run.window_id,
                        [b.security_id for b in blocks],
                        [b.buy_quantity for b in blocks],
                        [b.sell_quantity for b in blocks],
                        [b.crossed for b in blocks],
                        [b.net_side for b in blocks],
                        [b.net_quantity for b in blocks],
                        [b.window_price for b in blocks],
                        [fill_prices[b.security_id] for b in blocks],
                        [settlements[b.security_id] for b in blocks],
                    ],
                ),
                (_FILLS, [list(column) for column in zip(*fill_rows, strict=True)] or [[]] * 5),
                insert_ledger(run.window_id, ledger),
                update_cash(cash),
                save_progress(run, "execute"),
            ]
        )
    return fill_prices
