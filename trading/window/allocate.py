"""Phase 5, allocate: one account's fills by the exact formulas of allocation.md, Execution.

Pure: plain rows in, rows to write out. Each account's result is computed from its own orders
and its blocks' terms (``BlockTerms``, one row per security), so post chunks are independent.
Per account: sells first (proceeds by the block's side, lots consumed by the account's lot
method ranked at the window price w); then withdrawals are paid from the cash; then buys.

- Net buy: a seller gets floor_cents(quantity x w); a buyer gets
  floor6(amount x (S + q) / sum of buy amounts) shares and pays its amount.
- Net sell: a buyer gets floor6(amount / w) shares and pays its amount; a seller gets
  floor_cents(pool x quantity / S) of the pool = buy amounts + P, and never less than its
  shares at the limit price L: floor_cents(quantity x L). The pool always holds at least
  floor_cents(S x L) (the buyers paid at least their shares at w >= L, the broker at least the
  rest at L), so when the pool's share per share falls under L every seller gets exactly its
  shares at L and the sum still fits; without that floor, a seller's cent lost to the pool's
  rounding would leave its withdrawal a cent short.
The house takes what is left (``post.close``): never negative.

The plan sized every sell so that these proceeds cover its planned amount and every buy and
withdrawal is paid for; post checks it and raises (``FundingError``) rather than prorating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from trading.lots import OpenLot, consume_lots
from trading.money import ZERO, floor_cents, floor_shares, quantize_price
from trading.window.common import LedgerRow, SystemAccounts, add_to


class FundingError(RuntimeError):
    """An account's fills do not pay for what its plan committed: a broken guarantee."""


@dataclass(frozen=True)
class BlockTerms:
    """What a block hands to allocation: its side and the numbers of its formulas."""

    side: str  # "buy": a net buy; anything else: a net sell (or fully crossed)
    window_price: Decimal
    limit_price: Decimal | None  # a net sell's limit (None: sized at w, as before b existed)
    sell_quantity: Decimal  # S
    buy_amount: Decimal  # the buys' amounts
    broker_quantity: Decimal  # q of a net buy; S - buyer shares of a net sell
    broker_cash: Decimal  # c charged for a net buy; P paid for a net sell

    def seller_proceeds(self, quantity: Decimal) -> Decimal:
        if self.side == "buy":
            return floor_cents(quantity * self.window_price)
        pool = self.buy_amount + self.broker_cash
        limit = self.limit_price or self.window_price
        return max(floor_cents(pool * quantity / self.sell_quantity), floor_cents(quantity * limit))

    def buyer_shares(self, amount: Decimal) -> Decimal:
        if self.side == "buy":
            return floor_shares(
                amount * (self.sell_quantity + self.broker_quantity) / self.buy_amount
            )
        return floor_shares(amount / self.window_price)


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
    # Withdrawals paid: intent -> (amount paid, note); the note says why it is short.
    paid: dict[int, tuple[Decimal, str]] = field(default_factory=dict)
    # Fixed-amount withdrawals paid less than asked: (account, intent, asked, paid). Only an
    # account that sold every share may be here (post checks it).
    short_withdrawals: list[tuple[int, int, Decimal, Decimal]] = field(default_factory=list)

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
        blocks: dict[int, BlockTerms],
    ) -> None:
        for order in orders:
            if order.side != "sell":
                continue
            terms = blocks[order.security_id]
            proceeds = terms.seller_proceeds(order.quantity)
            price = quantize_price(proceeds / order.quantity) if order.quantity else ZERO
            self.orders.append((order.id, order.quantity, price or terms.window_price, proceeds))
            add_to(self.positions, order.position_id, -order.quantity)
            consumed = consume_lots(
                lots.get(order.position_id, []),
                quantity=order.quantity,
                proceeds=proceeds,
                price=terms.window_price,
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

        # Fixed amounts first, then a withdrawal of everything takes what is left. A fixed
        # amount is paid in full; only one that had to sell every share can find less.
        for withdrawal in sorted(withdrawals, key=lambda w: w.withdraw_all):
            wanted = cash if withdrawal.withdraw_all else withdrawal.amount
            assert wanted is not None
            paid = max(min(wanted, cash), ZERO)
            note = ""
            if paid < wanted:
                self.short_withdrawals.append((account_id, withdrawal.intent_id, wanted, paid))
                note = (
                    f"Every share was sold and raised less than asked: paid {paid:,.2f} of "
                    f"{wanted:,.2f}."
                )
            self.paid[withdrawal.intent_id] = (paid, note)
            if paid > 0:
                ref = f"intent:{withdrawal.intent_id}"
                self._move(account_id, -paid, "withdrawal", ref, withdrawal.intent_id)
            cash -= paid

        buys = [order for order in orders if order.side == "buy"]
        wanted = sum((order.amount for order in buys), ZERO)
        if wanted > cash:
            raise FundingError(
                f"Account {account_id} has {cash:,.2f} after its sells and withdrawals in window "
                f"{self.window_id}, less than its buys of {wanted:,.2f}: the plan guarantees "
                "them, so the window stops rather than prorate."
            )
        for order in buys:
            terms = blocks[order.security_id]
            amount = order.amount
            quantity = terms.buyer_shares(amount)
            price = quantize_price(amount / quantity) if quantity > 0 else terms.window_price
            self.orders.append((order.id, quantity, price, amount))
            if quantity > 0:
                self.new_lots.append((order.position_id, order.id, quantity, amount))
                add_to(self.positions, order.position_id, quantity)
            self._move(
                account_id, -amount, "buy", f"window:{self.window_id}:order:{order.id}", None
            )
            cash -= amount
