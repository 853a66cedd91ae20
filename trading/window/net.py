"""Phase 3, net: per security, across all accounts, sum the planned buys and sells, cross them
at the window price w and keep only the net for the broker (allocation.md, Execution).

The side is decided by shares: planned buy shares are the buys' planned quantities (each
floor6(amount / w)), sell shares S the sells' planned quantities. More buy shares than S is a
net buy, sent in dollars: N = the buy amounts less the sellers' proceeds at w (each
floor_cents(quantity x w)). Otherwise it is a net sell, sent in shares: S less the buy shares,
as a limit order at the window's limit price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from trading.models import Side
from trading.money import ZERO
from trading.window.common import Run, fetch, statuses


@dataclass
class Block:
    security_id: int
    symbol: str
    window_price: Decimal
    limit_price: Decimal
    buy_quantity: Decimal = ZERO  # planned buy shares
    buy_amount: Decimal = ZERO  # the buys' amounts
    sell_quantity: Decimal = ZERO  # S
    sell_proceeds: Decimal = ZERO  # the sellers' proceeds in a net buy, each floored at w
    orders: int = 0

    @property
    def crossed(self) -> Decimal:
        return min(self.buy_quantity, self.sell_quantity)

    @property
    def net_side(self) -> str:
        return Side.BUY if self.buy_quantity > self.sell_quantity else Side.SELL

    @property
    def sell_to_broker(self) -> Decimal:
        """A net sell's shares for the broker (zero when the buys take every share sold)."""
        return self.sell_quantity - self.buy_quantity if self.net_side == Side.SELL else ZERO

    @property
    def buy_from_broker(self) -> Decimal:
        """N: a net buy's dollars for the broker (positive: the buy shares exceed S at w)."""
        return self.buy_amount - self.sell_proceeds if self.net_side == Side.BUY else ZERO


class SideTotals(NamedTuple):
    """One security's planned orders on one side, summed (a row of ``_TOTALS``)."""

    security_id: int
    side: str
    quantity: Decimal  # shares
    amount: Decimal
    orders: int
    proceeds_at_window_price: Decimal  # the sum of each order's floor_cents(quantity x w)


# Per security and side: shares, amounts, orders, and the sum of floor_cents(quantity x w)
# (numeric is exact, so FLOOR here is the floor_cents allocation uses for each seller).
_TOTALS = """
    SELECT o.security_id, o.side, SUM(o.quantity), SUM(o.amount), COUNT(*),
           SUM(FLOOR(o.quantity * p.price * 100) / 100)
    FROM trading_order o
    JOIN unnest(%(securities)s::bigint[], %(prices)s::numeric[]) AS p(security_id, price)
        ON p.security_id = o.security_id
    WHERE o.window_id = %(window)s AND o.status = %(planned)s
    GROUP BY o.security_id, o.side
    ORDER BY o.security_id, o.side
"""


def net_orders(run: Run) -> list[Block]:
    rows = fetch(
        _TOTALS,
        {
            **statuses(),
            "window": run.window_id,
            "securities": list(run.prices),
            "prices": list(run.prices.values()),
        },
    )
    return blocks_from_rows(rows, symbols=run.symbols, prices=run.prices, limits=run.limit_prices())


def blocks_from_rows(
    rows: Iterable[tuple[int, str, Decimal, Decimal, int, Decimal]],
    *,
    symbols: Mapping[int, str],
    prices: Mapping[int, Decimal],
    limits: Mapping[int, Decimal],
) -> list[Block]:
    """One block per security from ``SideTotals`` rows (or plain tuples in that order), in the
    order the securities first appear; a side seen twice adds up."""
    blocks: dict[int, Block] = {}
    for row in map(SideTotals._make, rows):
        block = blocks.get(row.security_id)
        if block is None:
            block = blocks[row.security_id] = Block(
                row.security_id,
                symbols[row.security_id],
                prices[row.security_id],
                limits[row.security_id],
            )
        if row.side == Side.BUY:
            block.buy_quantity += row.quantity
            block.buy_amount += row.amount
        else:
            block.sell_quantity += row.quantity
            block.sell_proceeds += row.proceeds_at_window_price
        block.orders += row.orders
    return list(blocks.values())
