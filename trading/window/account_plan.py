"""One account's plan in a window (phase 2): its intents and cash in, its orders out.

Plain Python over the rows ``trading.window.plan`` read for the chunk, with the money rules of
``pies.allocation``: no database here, so the rules of product.md ("Plan") read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pies.allocation import Row, buy_rows, rebalance_rows, sell_rows
from trading.money import ZERO, ceil_shares, floor_cents, floor_shares, withdrawable

MINIMUM_ORDER_CENTS = 100  # allocation.md, Buying 3: 1.00


def _cents(amount: Decimal) -> int:
    """Whole cents of an amount >= 0, rounded down."""
    return int(floor_cents(amount).scaleb(2))


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@dataclass
class Split:
    """An allocation of the kernel (``pies.allocation``'s row entry) by leaf path: the amounts
    in cents as Decimals, and each one's explanation (as ``Explanation.as_dict`` gives it)."""

    amounts: dict[str, Decimal]
    explanations: dict[str, dict]

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


@dataclass
class PieRows:
    """A pie's subtree as the kernel's rows: (pie, target, value in units, sub-pie), the rows'
    keys (leaf and sub-pie paths), and the scale of the units (decimals, at least 2)."""

    rows: list[Row]
    keys: list[str]
    scale: int


@dataclass(slots=True)  # tens of thousands a chunk: slots make them smaller and quicker
class Leaf:
    slice_id: int
    pie_id: int
    security_id: int
    position_id: int | None
    quantity: Decimal
    price: Decimal | None
    target_bp: int
    status: str
    path: str = ""
    value: Decimal = ZERO  # planned value: quantity x price, moved by the orders planned so far
    sold_all: bool = False
    flows: list[tuple[Decimal, str, int | None, dict]] = field(default_factory=list)
    limit: Decimal | None = None  # the limit price its sells are sized at (allocation.md)
    bought: Decimal = ZERO  # planned buy amounts so far
    sold: Decimal = ZERO  # planned sell amounts so far

    def sells_whole_position(self) -> bool:
        """Whether its planned sells, net of its buys, take every share at the limit price."""
        net = self.sold - self.bought
        if net <= 0 or self.limit is None:
            return False
        return self.sold_all or ceil_shares(net / self.limit) >= self.quantity

    def proceeds(self) -> Decimal:
        """What its planned sells are sure to raise at any fill the window accepts: their
        amounts (sized at the limit price, each raises at least its amount), except a sell of
        the whole position, which raises its shares at the limit price (and the buys it
        cancels)."""
        if not self.sells_whole_position():
            return self.sold
        assert self.limit is not None
        return self.bought + floor_cents(self.quantity * self.limit)


@dataclass
class PlannedOrder:
    account_id: int
    leaf: Leaf
    side: str
    status: str  # planned | waiting
    amount: Decimal
    quantity: Decimal | None
    reason: str
    intent_id: int | None
    explanation: dict


@dataclass
class Outcome:
    """What the plan of one account decided, besides its orders."""

    deposits: list[tuple[int, Decimal]] = field(default_factory=list)  # (intent, amount)
    intents: dict[int, tuple[str, str, bool]] = field(default_factory=dict)  # id -> (status,
    # reason, release): done / failed now, or released back to pending for the next window


class AccountPlan:
    """One account's plan. Money is tracked as ``free``: cash not yet committed to a buy or a
    withdrawal (sell proceeds are counted at their planned amounts)."""

    def __init__(
        self,
        *,
        account_id: int,
        cash: Decimal,
        min_cash: Decimal,
        auto_invest: bool,
        root_id: int | None,
        pies: dict[int, str],
        rows: list[tuple],
        prices: dict[int, Decimal],
        symbols: dict[int, str],
        limits: dict[int, Decimal] | None = None,
    ) -> None:
        """``limits``: per security, the limit price sells are sized at (default: the window
        price, as with b = 0)."""
        self.symbols = symbols
        limits = prices if limits is None else limits
        self.account_id = account_id
        self.free = cash
        self.min_cash = min_cash
        self.auto_invest = auto_invest
        self.root_id = root_id
        self.outcome = Outcome()
        # What the account was worth when its first withdrawal was planned, less the fixed
        # withdrawals planned since: the API's "available to withdraw" at the window's prices.
        self.worth: Decimal | None = None
        self.children: dict[int, list[tuple[int, Leaf | int]]] = {}  # pie -> (target, leaf|pie)
        self.leaves: dict[str, Leaf] = {}
        self.by_slice: dict[int, Leaf] = {}
        self.child_target: dict[int, int] = {}
        self.paths: dict[int, str] = {}
        # sub-pie slice -> (its parent pie, its own pie, status), for removals of whole sub-pies
        self.subpies: dict[int, tuple[int, int, str]] = {}
        # sub-pie -> (its parent pie, the status of the slice that holds it)
        self.parent_of: dict[int, tuple[int, str]] = {}
        # The hot loop of a plan (ten leaves an account, 5,000 accounts a chunk): the Leaf is
        # built with every field positional, which skips the dataclass's keyword and default
        # handling.
        children = self.children
        by_slice = self.by_slice
        for (
            slice_id,
            pie_id,
            security_id,
            child_id,
            target_bp,
            status,
            position_id,
            quantity,
        ) in rows:
            if child_id is not None:
                children.setdefault(pie_id, []).append((target_bp, child_id))
                self.child_target[child_id] = target_bp
                self.subpies[slice_id] = (pie_id, child_id, status)
                self.parent_of[child_id] = (pie_id, status)
                continue
            price = prices.get(security_id)
            if quantity is None:
                quantity = ZERO
            if price is None:
                value, limit = ZERO, None
            else:
                value, limit = quantity * price, limits.get(security_id)
            item = Leaf(
                slice_id,
                pie_id,
                security_id,
                position_id,
                quantity,
                price,
                target_bp,
                status,
                "",  # path: named once the tree is built (_name)
                value,
                False,  # sold_all
                [],  # flows
                limit,
            )
            children.setdefault(pie_id, []).append((target_bp, item))
            by_slice[slice_id] = item
        self.names = pies
        if root_id is not None:
            self._name(root_id, "")

    def _name(self, pie_id: int, path: str) -> None:
        self.paths[pie_id] = path
        prefix = f"{path}/" if path else ""
        for _, child in self.children.get(pie_id, []):
            if isinstance(child, Leaf):
                child.path = prefix + self.symbol_of(child)
                self.leaves[child.path] = child
            else:
                name = self.names.get(child, str(child))
                self._name(child, prefix + name)

    def symbol_of(self, item: Leaf) -> str:
        return self.symbols.get(item.security_id, str(item.security_id))

    # --- The tree as allocation input, at the planned values ----------------------------------

    def pie_rows(self, pie_id: int, *, extra: Decimal = ZERO) -> PieRows:
        """The pie below ``pie_id`` as rows, values (and ``extra``) at one exact scale."""
        found: list[tuple[int, int, Decimal | None, int | None, str]] = []
        self._visit(pie_id, found)
        exponents = [value.as_tuple().exponent for _, _, value, _, _ in found if value is not None]
        scale = max(2, -int(extra.as_tuple().exponent), *(-int(e) for e in exponents))
        rows: list[Row] = [
            (pie, target, 0 if value is None else int(value.scaleb(scale)), sub)
            for pie, target, value, sub, _ in found
        ]
        return PieRows(rows, [key for *_, key in found], scale)

    def _visit(self, pie: int, found: list) -> None:
        """The pie's rows into ``found``, depth first (a method, not a recursive closure: that
        would be a reference cycle holding the whole plan until the cycle collector runs)."""
        for target, child in self.children.get(pie, []):
            if isinstance(child, Leaf):
                found.append((pie, target, child.value, None, child.path))
            else:
                found.append((pie, target, None, child, self.paths.get(child, "")))
                self._visit(child, found)

    def split_buy(self, pie_id: int, amount: Decimal, rule: str) -> Split:
        """Buying ``amount`` into the pie (allocation.md 1-4)."""
        pie = self.pie_rows(pie_id)
        split = buy_rows(
            pie.rows, _cents(amount), root=pie_id, minimum=MINIMUM_ORDER_CENTS, scale=pie.scale
        )
        return self._split(pie, split.amounts, split.explain, rule, pie_id)

    def split_sell(self, pie_id: int, amount: Decimal, rule: str) -> Split:
        """Selling ``amount`` from the pie (allocation.md 1-3), on sellable values."""
        pie = self.pie_rows(pie_id)
        split = sell_rows(pie.rows, _cents(amount), root=pie_id, scale=pie.scale)
        return self._split(pie, split.amounts, split.explain, rule, pie_id)

    def _split(
        self, pie: PieRows, amounts: dict[int, int], explain: Any, rule: str, pie_id: int
    ) -> Split:
        root_key = self.paths.get(pie_id, "")
        keys = pie.keys
        return Split(
            {keys[row]: _money(cents) for row, cents in amounts.items()},
            {keys[row]: explain(row, keys, rule, root_key) for row in amounts},
        )

    def has_active(self, pie_id: int | None) -> bool:
        return pie_id is not None and any(target > 0 for target, _ in self.children.get(pie_id, []))

    def available(self) -> Decimal:
        """What the account can still withdraw at the window's prices (allocation.md, the one
        valuation): its free cash plus each leaf's planned value rounded down to cents."""
        return withdrawable(cash=self.free, values=(item.value for item in self.leaves.values()))

    # --- Applying allocations ----------------------------------------------------------------

    def _buy(self, allocation: Split, rule: str, intent_id: int | None) -> Decimal:
        for key, amount in allocation.amounts.items():
            item = self.leaves[key]
            item.value += amount
            item.bought += amount
            explanation = allocation.explanations[key]
            item.flows.append((amount, rule, intent_id, explanation))
        total = allocation.total
        self.free -= total
        return total

    def _sell(
        self, amounts: dict[str, Decimal], rule: str, intent_id: int | None, explanations: dict
    ) -> Decimal:
        """Plan the sells; returns what they are sure to raise (``Leaf.proceeds``): their
        amounts, less what a whole position falls short of its amount at the limit price."""
        total = ZERO
        for key, amount in amounts.items():
            item = self.leaves[key]
            before = item.proceeds()
            item.sold += amount
            if amount >= floor_cents(item.value) or item.sells_whole_position():
                item.sold_all = True
                item.value = ZERO
            else:
                item.value -= amount
            explanation = explanations.get(key) or {"rule": rule}
            last = item.flows[-1] if item.flows else None
            if last is not None and last[0] < 0 and last[1:3] == (rule, intent_id):
                # A withdrawal topping up its own sell: one flow, one explanation.
                item.flows[-1] = (last[0] - amount, *last[1:])
            else:
                item.flows.append((-amount, rule, intent_id, explanation))
            total += item.proceeds() - before
        return total

    # --- The steps, in product.md's order ------------------------------------------------------

    def deposit(self, intent_id: int, amount: Decimal) -> None:
        self.free += amount
        self.outcome.deposits.append((intent_id, amount))
        self.outcome.intents[intent_id] = ("done", "", False)

    def withdraw(self, intent_id: int, amount: Decimal | None, withdraw_all: bool) -> bool:
        """Plan a withdrawal; False when it failed (nothing sold). True for withdraw-all."""
        if withdraw_all:
            everything = {
                key: floor_cents(item.value)
                for key, item in self.leaves.items()
                if item.quantity > 0 and item.price is not None
            }
            self._sell(everything, "withdrawal", intent_id, {})
            self.free = ZERO
            return True
        assert amount is not None
        if self.worth is None:
            self.worth = self.available()
        # An earlier withdrawal that sold a whole position counted it at the limit price, less
        # than its value: what was accepted against the value at these prices still passes
        # (and, if every share goes, is paid what they raise).
        available = max(self.available(), self.worth)
        if amount > available:
            self.outcome.intents[intent_id] = (
                "failed",
                f"The account is worth {available:,.2f} at this window's prices, less than the "
                f"withdrawal of {amount:,.2f}; nothing was sold.",
                False,
            )
            return False
        self.worth = available - amount
        from_cash = min(amount, self.free)
        self.free -= from_cash
        need = amount - from_cash
        # Sells are sure to raise their amounts, except whole positions, which raise their shares
        # at the limit price: what those fall short is sold again from what is left, until the
        # amount is covered or every share is sold (then it pays what they raise).
        while need > 0 and self.root_id is not None:
            allocation = self.split_sell(self.root_id, need, "withdrawal")
            if not allocation.amounts:
                break
            need -= self._sell(allocation.amounts, "withdrawal", intent_id, allocation.explanations)
        if need < 0:
            self.free -= need  # a whole position raised more than asked: it stays cash
        return False

    def unpriced_holdings(self) -> list[str]:
        return sorted(
            {
                self.symbol_of(item)
                for item in self.by_slice.values()
                if item.quantity > 0 and item.price is None
            }
        )

    def wait_for_prices(self, intents: list[tuple[int, str, bool]]) -> bool:
        """A withdrawal of everything needs a price for every holding: without one it waits,
        and with it everything else the account asked for but deposits (which are credited),
        so nothing is sold or bought from a value the window cannot know. True when it waits.
        """
        if not any(kind == "withdrawal" and all_ for _, kind, all_ in intents):
            return False
        missing = self.unpriced_holdings()
        if not missing:
            return False
        symbols = ", ".join(missing)
        for intent_id, kind, withdraw_all in intents:
            if kind == "deposit":
                continue
            if kind == "withdrawal" and withdraw_all:
                reason = (
                    f"Waiting for a price of {symbols}: the withdrawal of everything sells every "
                    "holding, so it waits for the next window with a price for each."
                )
            else:
                reason = f"Waiting with the withdrawal of everything (no price yet for {symbols})."
            self.outcome.intents[intent_id] = ("pending", reason, True)
        return True

    def removed_above(self, pie_id: int) -> bool:
        """Whether the pie is being removed: its slice, or one above it, is removing."""
        while pie_id in self.parent_of:
            parent, status = self.parent_of[pie_id]  # status: the slice holding ``pie_id``
            if status == "removing":
                return True
            pie_id = parent
        return False

    def home_of(self, pie_id: int) -> int:
        """Where the proceeds of a removal inside ``pie_id`` go: the pie itself, or, when it is
        being removed too, the parent of the highest removing sub-pie above it, so no money is
        ever bought into a pie that is on its way out."""
        home = pie_id
        while pie_id in self.parent_of:
            parent, status = self.parent_of[pie_id]
            if status == "removing":
                home = parent
            pie_id = parent
        return home

    def leaves_under(self, pie_id: int) -> list[Leaf]:
        found: list[Leaf] = []
        for _, child in self.children.get(pie_id, []):
            found.extend([child] if isinstance(child, Leaf) else self.leaves_under(child))
        return found

    def reinvest(self, pie_id: int, amount: Decimal, intent_id: int) -> None:
        """Removal proceeds go back into the same parent pie, whatever auto-invest says (or
        above it, when that pie is being removed too: ``home_of``)."""
        pie_id = self.home_of(pie_id)
        if amount >= 1 and self.has_active(pie_id):
            self._buy(self.split_buy(pie_id, amount, "removal"), "removal", intent_id)

    def remove_subpie(self, intent_id: int, slice_id: int) -> None:
        """A removed sub-pie is sold whole, every leaf below it, and reinvested in its parent."""
        parent_id, pie_id, status = self.subpies[slice_id]
        if status != "removing":
            return  # cancelled meanwhile: the intent is simply done
        held = [
            item for item in self.leaves_under(pie_id) if item.quantity > 0 and not item.sold_all
        ]
        missing = sorted({self.symbol_of(item) for item in held if item.price is None})
        if missing:  # sold whole or not at all: it waits for every price
            self.outcome.intents[intent_id] = (
                "pending",
                f"Waiting for a price of {', '.join(missing)}: the sub-pie is sold whole at the "
                "next window with a price for each of its holdings.",
                True,
            )
            return
        amounts = {item.path: floor_cents(item.value) for item in held}
        proceeds = self._sell(amounts, "removal", intent_id, {})  # at the limit prices
        for item in held:
            item.sold_all = True
        self.free += proceeds
        self.reinvest(parent_id, proceeds, intent_id)

    def remove(self, intent_id: int, slice_id: int | None) -> None:
        if slice_id in self.subpies:
            self.remove_subpie(intent_id, slice_id)
            return
        item = self.by_slice.get(slice_id) if slice_id is not None else None
        if item is None or item.status != "removing" or item.quantity <= 0 or item.sold_all:
            # cancelled meanwhile, nothing held, or sold already (its removing sub-pie's
            # removal came first): the intent is simply done
            return
        if item.price is None:
            # No price: nothing can be sold; the removal waits for the next window.
            self.outcome.intents[intent_id] = (
                "pending",
                f"Waiting for a price of {self.symbol_of(item)}: it is sold at the next window "
                "with a price.",
                True,
            )
            return
        proceeds = self._sell({item.path: floor_cents(item.value)}, "removal", intent_id, {})
        item.sold_all = True
        self.free += proceeds  # the whole position at the limit price
        self.reinvest(item.pie_id, proceeds, intent_id)

    def rebalance(self, intent_id: int, pie_id: int | None) -> None:
        if pie_id is None or pie_id not in self.paths or self.removed_above(pie_id):
            return  # gone, or being sold whole: nothing to bring back to target
        is_root = pie_id == self.root_id
        extra = ZERO
        if is_root and self.auto_invest:
            extra = max(self.free - self.min_cash, ZERO)
        pie = self.pie_rows(pie_id, extra=extra)
        result = rebalance_rows(
            pie.rows, root=pie_id, extra=int(extra.scaleb(pie.scale)), scale=pie.scale
        )
        root_key = self.paths.get(pie_id, "")
        explanations = {}
        sells = {}
        buys = {}
        for row, signed in result.orders.items():
            key = pie.keys[row]
            item = self.leaves[key]
            if item.price is None:
                continue  # no price: a rebalance skips it and completes
            explanations[key] = result.explain(row, pie.keys, root_key)
            if signed < 0:
                sells[key] = _money(-signed)
            else:
                buys[key] = _money(signed)
        sold = self._sell(sells, "rebalance", intent_id, explanations)
        self.free += sold
        wanted = sum(buys.values(), ZERO)
        available = max(self.free - self.min_cash, min(self.free, sold))
        if wanted > available:
            # The targets are floored per leaf, so the buys can exceed sells plus cash by a few
            # cents per untouched leaf: prorate them, as the window would (allocation.md).
            buys = {key: floor_cents(amount * available / wanted) for key, amount in buys.items()}
        amounts = {key: amount for key, amount in buys.items() if amount > 0}
        self._buy(Split(amounts, explanations), "rebalance", intent_id)

    def auto_invest_cash(self, trigger: Decimal, rule: str) -> None:
        if not self.auto_invest or not self.has_active(self.root_id):
            return
        excess = self.free - self.min_cash
        if excess <= 0 or excess < trigger:
            return
        assert self.root_id is not None
        self._buy(self.split_buy(self.root_id, excess, rule), rule, None)

    # --- Orders ----------------------------------------------------------------------------------

    def orders(self) -> list[PlannedOrder]:
        planned = []
        for item in self.by_slice.values():
            if not item.flows:
                continue
            net = sum((flow[0] for flow in item.flows), ZERO)
            bought = any(flow[0] > 0 for flow in item.flows)
            if net == 0 and (bought or not item.sold_all or item.quantity <= 0):
                continue  # a whole-position sell worth under a cent still empties it
            first = max(item.flows, key=lambda flow: abs(flow[0]))
            if len(item.flows) == 1:
                explanation = {**first[3], "intent": first[2]}
            else:
                explanation = {
                    "rule": "netted",
                    "parts": [
                        {"amount": str(amount), "rule": rule, "intent": intent, **why}
                        for amount, rule, intent, why in item.flows
                    ],
                }
            side = "buy" if net > 0 else "sell"
            amount = abs(net)
            quantity: Decimal | None = None
            status = "waiting" if item.price is None else "planned"
            if item.price is not None:
                if side == "buy":
                    quantity = floor_shares(amount / item.price)
                    if quantity <= 0:
                        continue  # too little for a millionth of a share: the cash stays
                elif item.sold_all and not bought:
                    quantity = item.quantity
                else:
                    assert item.limit is not None
                    quantity = min(ceil_shares(amount / item.limit), item.quantity)
            planned.append(
                PlannedOrder(
                    self.account_id,
                    item,
                    side,
                    status,
                    amount,
                    quantity,
                    first[1],
                    first[2],
                    explanation,
                )
            )
        return planned
