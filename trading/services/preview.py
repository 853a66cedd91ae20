"""Previews: what a deposit would buy, and the tax impact of what a rebalance, a withdrawal or
a slice removal would sell now.

Estimates at the latest prices, with the same money rules the window uses (pies.allocation)
and the account's lot method (trading.lots): the planned orders, the lots the sells would
consume, and the short- and long-term gains. Read-only: nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from pies.allocation import Allocation, Node, allocate_buy, allocate_sell, pie, rebalance
from pies.models import Pie, Slice
from pies.tree import PortfolioView, SliceView, load_portfolio, open_lots
from trading.lots import LONG, Consumption, OpenLot, consume_lots
from trading.models import Account, Intent, IntentKind
from trading.money import MAX_DEPOSIT, ZERO, ceil_shares, floor_cents, limit_price
from trading.services.errors import IntentError, intent_amount
from trading.valuation import available_to_withdraw, window_for_account

RETIREMENT_NOTE = (
    "This is a retirement account: sales in it realise no taxable gains, so there is nothing "
    "to estimate."
)


@dataclass(frozen=True)
class PlannedOrder:
    path: str
    symbol: str
    side: str  # "buy" | "sell"
    amount: Decimal
    quantity: Decimal | None = None  # sells only: shares at the current price, rounded up

    def as_dict(self) -> dict:
        data = {"path": self.path, "symbol": self.symbol, "side": self.side}
        data["amount"] = f"{self.amount:.2f}"
        if self.quantity is not None:
            data["quantity"] = f"{self.quantity:.6f}"
        return data


@dataclass(frozen=True)
class LotUse:
    path: str
    symbol: str
    consumption: Consumption

    def as_dict(self) -> dict:
        used = self.consumption
        return {
            "path": self.path,
            "symbol": self.symbol,
            "acquired_on": used.acquired_on.isoformat(),
            "quantity": f"{used.quantity:.6f}",
            "cost_basis": f"{used.cost:.2f}",
            "proceeds": f"{used.proceeds:.2f}",
            "gain": f"{used.gain:.2f}",
            "term": used.term,
        }


@dataclass(frozen=True)
class Preview:
    orders: list[PlannedOrder]
    lots: list[LotUse]
    taxable: bool
    sold_on: date  # the trade date of the window that would run it
    missing_prices: list[str] = field(default_factory=list)
    # The intents pending now that the preview counts, as the window will (deposits are
    # credited first; earlier withdrawals are paid first): the page says so.
    pending_deposits: Decimal = ZERO
    pending_withdrawals: Decimal = ZERO

    @property
    def short_term_gain(self) -> Decimal:
        return sum((u.consumption.gain for u in self.lots if u.consumption.term != LONG), ZERO)

    @property
    def long_term_gain(self) -> Decimal:
        return sum((u.consumption.gain for u in self.lots if u.consumption.term == LONG), ZERO)

    def as_dict(self) -> dict:
        """The api.md "Rebalance preview" shape; retirement accounts get ``taxable: false``
        and a note instead of numbers (the keys stay, with null gains and no lots)."""
        if self.taxable:
            tax: dict = {
                "taxable": True,
                "short_term_gain": f"{self.short_term_gain:.2f}",
                "long_term_gain": f"{self.long_term_gain:.2f}",
                "lots": [use.as_dict() for use in self.lots],
            }
        else:
            tax = {
                "taxable": False,
                "note": RETIREMENT_NOTE,
                "short_term_gain": None,
                "long_term_gain": None,
                "lots": [],
            }
        return {
            "orders": [order.as_dict() for order in self.orders],
            "tax": tax,
            "sold_on": self.sold_on.isoformat(),
            "missing_prices": self.missing_prices,
        }


def _build(
    *,
    account: Account,
    view: PortfolioView,
    sells: dict[str, Decimal],
    buys: dict[str, Decimal],
    pending_deposits: Decimal = ZERO,
    pending_withdrawals: Decimal = ZERO,
) -> Preview:
    """Turn planned amounts per leaf path into orders, and the sells into lot consumptions."""
    leaves = {leaf_.path: leaf_ for leaf_ in view.leaves}
    sold_on = window_for_account(account, timezone.now()).trade_date
    priced = {path: leaf_ for path, leaf_ in leaves.items() if leaf_.price is not None}
    lots_by_position = open_lots(
        leaf_.position_id
        for path, leaf_ in priced.items()
        if path in sells and leaf_.position_id is not None
    )
    orders: list[PlannedOrder] = []
    uses: list[LotUse] = []
    for path, amount in sells.items():
        leaf_ = priced.get(path)
        if leaf_ is None or leaf_.price is None or amount <= 0 or leaf_.quantity <= 0:
            continue  # no price: the window would skip it too
        price = leaf_.price
        quantity = _sell_quantity(leaf_, amount, price)
        orders.append(PlannedOrder(path, leaf_.symbol or "", "sell", amount, quantity))
        lots = [
            OpenLot(lot.id, lot.acquired_on, lot.remaining_quantity, lot.remaining_cost)
            for lot in (lots_by_position.get(leaf_.position_id, []) if leaf_.position_id else [])
        ]
        held = sum((lot.remaining_quantity for lot in lots), ZERO)
        if not lots or held <= 0:
            continue
        quantity = min(quantity, held)
        proceeds = floor_cents(quantity * price)
        for used in consume_lots(
            lots,
            quantity=quantity,
            proceeds=proceeds,
            price=price,
            method=account.lot_method,
            sold_on=sold_on,
        ):
            uses.append(LotUse(path, leaf_.symbol or "", used))
    for path, amount in buys.items():
        leaf_ = priced.get(path)
        if leaf_ is None or amount <= 0:
            continue
        orders.append(PlannedOrder(path, leaf_.symbol or "", "buy", amount))
    return Preview(
        orders=orders,
        lots=uses,
        taxable=not account.is_retirement,
        sold_on=sold_on,
        missing_prices=view.missing_prices,
        pending_deposits=pending_deposits,
        pending_withdrawals=pending_withdrawals,
    )


def _sell_quantity(leaf_: SliceView, amount: Decimal, price: Decimal) -> Decimal:
    """allocation.md, Selling 4: shares at the limit price the window sizes sells at, rounded
    up, never more than held; an amount that is the whole (sellable) value sells the whole
    position."""
    if amount >= floor_cents(leaf_.exact_value):
        return leaf_.quantity
    limit = limit_price(price, settings.PIES_MAX_SLIPPAGE_BP)
    return min(ceil_shares(amount / limit), leaf_.quantity)


def _split(allocation: Allocation) -> dict[str, Decimal]:
    return dict(allocation.amounts)


def _pending_sum(account: Account, kind: str) -> Decimal:
    total = (
        Intent.objects.pending()
        .filter(account=account, kind=kind)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or ZERO


def preview_rebalance(*, account: Account, pie: Pie | int | None = None) -> Preview:
    """What rebalancing ``pie`` (default the portfolio pie) would trade at the latest prices.

    For the portfolio pie with auto-invest on, the investable cash joins the rebalance
    (allocation.md): cash plus pending deposits (the window credits them first) minus pending
    withdrawals and ``min_cash``, when positive.
    """
    view = load_portfolio(account)
    pie_id = pie.pk if isinstance(pie, Pie) else pie
    if pie_id is not None and view.find_pie(int(pie_id)) is None:
        raise IntentError("pie", "Choose one of this account's pies.")
    is_root = pie_id is None or int(pie_id) == view.root.id
    extra = deposits = withdrawals = ZERO
    if is_root and account.auto_invest:
        deposits = _pending_sum(account, IntentKind.DEPOSIT)
        withdrawals = _pending_sum(account, IntentKind.WITHDRAWAL)
        extra = account.cash + deposits - withdrawals - account.min_cash
        extra = max(floor_cents(extra), ZERO)
    node = view.to_node(None if is_root or pie_id is None else int(pie_id))
    plan = rebalance(node, extra_cash=extra)
    sells = {path: -amount for path, amount in plan.orders.items() if amount < 0}
    buys = {path: amount for path, amount in plan.orders.items() if amount > 0}
    return _build(
        account=account,
        view=view,
        sells=sells,
        buys=buys,
        pending_deposits=deposits,
        pending_withdrawals=withdrawals,
    )


def preview_deposit(
    *, account: Account, amount: object, view: PortfolioView | None = None
) -> list[tuple[str, Decimal]]:
    """How a deposit of ``amount`` would be split over the pie at the latest prices, as (leaf
    path, amount) pairs: the same rule the window applies (allocation.md, Buying), the most
    underweight slices first. Empty while the pie has no slices. ``view`` is the account's
    portfolio when the caller has loaded it already."""
    value = intent_amount(amount, maximum=MAX_DEPOSIT)
    view = view or load_portfolio(account)
    if not view.root.slices:
        return []
    return list(allocate_buy(view.to_node(), value, rule="deposit").amounts.items())


def preview_withdrawal(
    *, account: Account, amount: object = None, withdraw_all: bool = False
) -> Preview:
    """What the next window will sell for a withdrawal of ``amount`` (or of everything), with
    the intents pending now, in the window's order: pending deposits are credited first, the
    pending withdrawals are paid before this one, cash is used first, and the rest comes out
    of the most overweight slices (allocation.md, Selling). What may be withdrawn never counts
    the pending deposits (allocation.md, Notation): they can still be cancelled."""
    view = load_portfolio(account)
    deposits = _pending_sum(account, IntentKind.DEPOSIT)
    withdrawals = _pending_sum(account, IntentKind.WITHDRAWAL)
    if withdraw_all:
        to_raise = view.root.value + account.cash  # at least everything: sells every leaf
    else:
        value = intent_amount(amount)
        available = available_to_withdraw(account=account)
        if value > available:
            raise IntentError("amount", f"You can withdraw at most {available:,.2f}.")
        to_raise = withdrawals + value - account.cash - deposits
    sells: dict[str, Decimal] = {}
    if to_raise > 0:
        sells = _split(allocate_sell(view.to_node(), to_raise, rule="withdrawal"))
    return _build(
        account=account,
        view=view,
        sells=sells,
        buys={},
        pending_deposits=deposits,
        pending_withdrawals=withdrawals,
    )


def _without(node: Node, ref: object) -> Node:
    children = [child for child in node.children if child.ref != ref]
    return pie(node.key, node.target_bp, children, ref=node.ref)


def preview_removal(*, account: Account, slice: Slice | int) -> Preview:
    """What removing a security slice would trade: sell it in full and reinvest the proceeds in
    the same parent pie (allocation.md, Buying: reinvested removal proceeds)."""
    slice_id = slice.pk if isinstance(slice, Slice) else int(slice)
    view = load_portfolio(account)
    target = next((leaf_ for leaf_ in view.leaves if leaf_.id == slice_id), None)
    if target is None:
        raise IntentError("slice", "Choose one of this account's security slices.")
    sells: dict[str, Decimal] = {}
    buys: dict[str, Decimal] = {}
    if target.price is not None and target.quantity > 0:
        sells[target.path] = floor_cents(target.exact_value)
        proceeds = floor_cents(target.quantity * target.price)
        parent = view.find_pie(target.pie_id)
        if parent is not None and proceeds > 0:
            # The slice itself takes no part of its own proceeds, whatever its target now.
            node = _without(parent.to_node(), target.id)
            buys = _split(allocate_buy(node, proceeds, rule="removal"))
    return _build(account=account, view=view, sells=sells, buys=buys)
