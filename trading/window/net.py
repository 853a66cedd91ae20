"""Phase 3, net: per security, across all accounts, sum the planned buys and sells in shares,
cross them internally, and keep only the net for the broker (product.md, Net).

The planned quantities are the ones allocation will use at the window price (buys: amount /
price floored; sells: as planned), so the net is what the accounts need from outside.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from trading.money import ZERO
from trading.window.common import Run, fetch


@dataclass
class Block:
    security_id: int
    symbol: str
    window_price: Decimal
    buy_quantity: Decimal = ZERO
    sell_quantity: Decimal = ZERO
    orders: int = 0

    @property
    def crossed(self) -> Decimal:
        return min(self.buy_quantity, self.sell_quantity)

    @property
    def net_side(self) -> str:
        if self.buy_quantity > self.sell_quantity:
            return "buy"
        if self.sell_quantity > self.buy_quantity:
            return "sell"
        return ""

    @property
    def net_quantity(self) -> Decimal:
        return abs(self.buy_quantity - self.sell_quantity)


def net_orders(run: Run) -> list[Block]:
    rows = fetch(
        """
        SELECT security_id, side, SUM(quantity), COUNT(*)
        FROM trading_order
        WHERE window_id = %s AND status = 'planned'
        GROUP BY security_id, side
        ORDER BY security_id, side
        """,
        [run.window_id],
    )
    return blocks_from_rows(rows, symbols=run.symbols, prices=run.prices)


def blocks_from_rows(
    rows: Iterable[tuple[int, str, Decimal, int]],
    *,
    symbols: Mapping[int, str],
    prices: Mapping[int, Decimal],
) -> list[Block]:
    """One block per security from ``(security_id, side, quantity, orders)`` rows, in the order
    the securities first appear; a side seen twice adds up."""
    blocks: dict[int, Block] = {}
    for security_id, side, quantity, count in rows:
        block = blocks.get(security_id)
        if block is None:
            block = blocks[security_id] = Block(
                security_id, symbols[security_id], prices[security_id]
            )
        if side == "buy":
            block.buy_quantity += quantity
        else:
            block.sell_quantity += quantity
        block.orders += count
    return list(blocks.values())
