"""Phase 5, allocate: one account's fills at each security's fill price (product.md, Allocate).

Pure: plain rows in, rows to write out. Per account: sells first (quantities as planned,
proceeds = quantity x price floored to cents, lots consumed by the account's lot method);
then withdrawals are paid from the cash; then buys (shares = amount / price floored to 6
decimals), prorated down in proportion (floored to cents) when the cash falls short.

Buyers never get more shares than the block delivered: their shares are computed at the higher
of the fill price and the window price. The two differ only when the broker filled away from
the window price; a fill below it only happens on a net sell, where every buyer's shares were
crossed at the window price anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from trading.lots import OpenLot, consume_lots
from trading.money import ZERO, floor_cents, floor_shares
from trading.window.common import LedgerRow, SystemAccounts, add_to


@dataclass(frozen=True)
class OrderRow:
    id: int
    account_id: int
    position_id: int
    security_id: int
    side: str
    amount: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class Withdrawal:
    intent_id: int
    amount: Decimal | None
    withdraw_all: bool


@dataclass
class Settlement:
    """Everything a chunk writes, accumulated over its accounts."""

    window_id: int
    sold_on: date
    system: SystemAccounts
    orders: list[tuple[int, Decimal, Decimal, Decimal]] = field(default_factory=list)
    new_lots: list[tuple[int, int, Decimal, Decimal]] = field(default_factory=list)
    lot_updates: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)
    disposals: list[tuple] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    cash: dict[int, Decimal] = field(default_factory=dict)
    positions: dict[int, Decimal] = field(default_factory=dict)
    short_withdrawals: list[dict] = field(default_factory=list)
    prorated: int = 0

    def _move(self, account_id: int, amount: Decimal, kind: str, ref: str, intent: int | None):
        counter = self.system.external if kind == "withdrawal" else self.system.clearing
        self.ledger.append((account_id, amount, kind, ref, intent))
        self.ledger.append((counter, -amount, kind, ref, intent))
        add_to(self.cash, account_id, amount)
        add_to(self.cash, counter, -amount)

    def settle_account(
        self,
        *,
        account_id: int,
        cash: Decimal,
        lot_method: str,
        orders: list[OrderRow],
        lots: dict[int, list[OpenLot]],
        withdrawals: list[Withdrawal],
        prices: dict[int, tuple[Decimal, Decimal]],
    ) -> None:
        for order in orders:
            if order.side != "sell":
                continue
            price = prices[order.security_id][0]
            proceeds = floor_cents(order.quantity * price)
            self.orders.append((order.id, order.quantity, price, proceeds))
            add_to(self.positions, order.position_id, -order.quantity)
            consumed = consume_lots(
                lots.get(order.position_id, []),
                quantity=order.quantity,
                proceeds=proceeds,
                method=lot_method,
                sold_on=self.sold_on,
            )
            by_id = {lot.id: lot for lot in lots.get(order.position_id, [])}
            for part in consumed:
                lot = by_id[part.lot_id]
                self.lot_updates.append(
                    (lot.id, lot.remaining_quantity - part.quantity, lot.remaining_cost - part.cost)
                )
                self.disposals.append(
                    (
                        part.lot_id,
                        order.id,
                        account_id,
                        order.security_id,
                        part.acquired_on,
                        part.quantity,
                        part.proceeds,
                        part.cost,
                        part.gain,
                        part.term,
                    )
                )
            self._move(
                account_id, proceeds, "sell", f"window:{self.window_id}:order:{order.id}", None
            )
            cash += proceeds

        # Fixed amounts first, then a withdrawal of everything takes what is left.
        for withdrawal in sorted(withdrawals, key=lambda w: w.withdraw_all):
            wanted = cash if withdrawal.withdraw_all else withdrawal.amount
            assert wanted is not None
            paid = min(wanted, cash)
            if paid < wanted:
                self.short_withdrawals.append(
                    {"intent": withdrawal.intent_id, "amount": str(wanted), "paid": str(paid)}
                )
            if paid > 0:
                ref = f"intent:{withdrawal.intent_id}"
                self._move(account_id, -paid, "withdrawal", ref, withdrawal.intent_id)
            cash -= paid

        buys = [order for order in orders if order.side == "buy"]
        wanted = sum((order.amount for order in buys), ZERO)
        scale = None
        if wanted > cash:
            scale = (max(cash, ZERO), wanted)
            self.prorated += 1
        for order in buys:
            fill_price, window_price = prices[order.security_id]
            amount = order.amount
            if scale is not None:
                amount = floor_cents(amount * scale[0] / scale[1])
            share_price = max(fill_price, window_price)
            quantity = floor_shares(amount / share_price)
            if quantity <= 0:
                amount = ZERO  # nothing bought, nothing paid
            self.orders.append((order.id, quantity, share_price, amount))
            if quantity > 0:
                self.new_lots.append((order.position_id, order.id, quantity, amount))
                add_to(self.positions, order.position_id, quantity)
                self._move(
                    account_id, -amount, "buy", f"window:{self.window_id}:order:{order.id}", None
                )
            cash -= amount
