"""Phase 2, plan: per account, turn its intents and cash into orders (product.md, Plan).

Per account, in this order: credit deposits; withdrawals (cash first, then sells by
``allocate_sell``; more than the account is worth fails and sells nothing); slice removals
(sold in full, the proceeds bought into the same parent pie, whatever auto-invest says);
rebalances; auto-invest of the cash above ``min_cash`` when it reaches the trigger. Every step
sees the values the earlier ones planned. A buy and a sell of one position net into one order;
one security in two positions keeps two orders (the books stay per position; the block nets).

Orders on a security with no window price are written with status ``waiting`` and never
executed: their money stays cash, a removal waits for the next window (its intent is released).

A chunk is one transaction: three reads, one write statement (positions for new slices,
orders, deposit entries, cash, intents, the window's progress).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from django.conf import settings
from django.db import transaction

from pies.allocation import Allocation, Node, allocate_buy, allocate_sell, leaf, pie, rebalance
from trading.money import ZERO, ceil_shares, floor_cents, floor_shares
from trading.window.common import (
    LedgerRow,
    Run,
    add_to,
    dump_json,
    fetch,
    insert_ledger,
    save_progress,
    update_cash,
    write_all,
)


@dataclass
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
    ) -> None:
        self.symbols = symbols
        self.account_id = account_id
        self.free = cash
        self.min_cash = min_cash
        self.auto_invest = auto_invest
        self.root_id = root_id
        self.outcome = Outcome()
        self.children: dict[int, list[tuple[int, Leaf | int]]] = {}  # pie -> (target, leaf|pie)
        self.leaves: dict[str, Leaf] = {}
        self.by_slice: dict[int, Leaf] = {}
        self.child_target: dict[int, int] = {}
        self.paths: dict[int, str] = {}
        # sub-pie slice -> (its parent pie, its own pie, status), for removals of whole sub-pies
        self.subpies: dict[int, tuple[int, int, str]] = {}
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
                self.children.setdefault(pie_id, []).append((target_bp, child_id))
                self.child_target[child_id] = target_bp
                self.subpies[slice_id] = (pie_id, child_id, status)
                continue
            price = prices.get(security_id)
            quantity = quantity or ZERO
            item = Leaf(
                slice_id,
                pie_id,
                security_id,
                position_id,
                quantity,
                price,
                target_bp,
                status,
                value=quantity * price if price is not None else ZERO,
            )
            self.children.setdefault(pie_id, []).append((target_bp, item))
            self.by_slice[slice_id] = item
        self.names = pies
        if root_id is not None:
            self._name(root_id, "")

    def _name(self, pie_id: int, path: str) -> None:
        self.paths[pie_id] = path
        for _, child in self.children.get(pie_id, []):
            if isinstance(child, Leaf):
                child.path = f"{path}/{self.symbol_of(child)}" if path else self.symbol_of(child)
                self.leaves[child.path] = child
            else:
                name = self.names.get(child, str(child))
                self._name(child, f"{path}/{name}" if path else name)

    def symbol_of(self, item: Leaf) -> str:
        return self.symbols.get(item.security_id, str(item.security_id))

    # --- The tree as allocation input, at the planned values ----------------------------------

    def node(self, pie_id: int, target_bp: int = 10_000) -> Node:
        kids = []
        for child_target, child in self.children.get(pie_id, []):
            if isinstance(child, Leaf):
                kids.append(leaf(child.path, child_target, child.value, ref=child.slice_id))
            else:
                kids.append(self.node(child, child_target))
        return pie(self.paths.get(pie_id, ""), target_bp, kids)

    def has_active(self, pie_id: int | None) -> bool:
        return pie_id is not None and any(target > 0 for target, _ in self.children.get(pie_id, []))

    def sellable(self) -> Decimal:
        return sum((floor_cents(item.value) for item in self.leaves.values()), ZERO)

    # --- Applying allocations ----------------------------------------------------------------

    def _buy(self, allocation: Allocation, rule: str, intent_id: int | None) -> Decimal:
        for key, amount in allocation.amounts.items():
            item = self.leaves[key]
            item.value += amount
            explanation = allocation.explanations[key].as_dict()
            item.flows.append((amount, rule, intent_id, explanation))
        total = allocation.total
        self.free -= total
        return total

    def _sell(
        self, amounts: dict[str, Decimal], rule: str, intent_id: int | None, explanations: dict
    ) -> Decimal:
        total = ZERO
        for key, amount in amounts.items():
            item = self.leaves[key]
            if amount >= floor_cents(item.value):
                item.sold_all = True
                item.value = ZERO
            else:
                item.value -= amount
            explanation = explanations[key].as_dict() if key in explanations else {"rule": rule}
            item.flows.append((-amount, rule, intent_id, explanation))
            total += amount
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
        available = self.free + self.sellable()
        if amount > available:
            self.outcome.intents[intent_id] = (
                "failed",
                f"The account is worth {available:,.2f} at this window's prices, less than the "
                f"withdrawal of {amount:,.2f}; nothing was sold.",
                False,
            )
            return False
        from_cash = min(amount, self.free)
        self.free -= from_cash
        need = amount - from_cash
        if need > 0 and self.root_id is not None:
            allocation = allocate_sell(self.node(self.root_id), need, rule="withdrawal")
            self._sell(allocation.amounts, "withdrawal", intent_id, allocation.explanations)
        return False

    def leaves_under(self, pie_id: int) -> list[Leaf]:
        found: list[Leaf] = []
        for _, child in self.children.get(pie_id, []):
            found.extend([child] if isinstance(child, Leaf) else self.leaves_under(child))
        return found

    def reinvest(self, pie_id: int, amount: Decimal, intent_id: int) -> None:
        """Removal proceeds go back into the same parent pie, whatever auto-invest says."""
        if amount >= 1 and self.has_active(pie_id):
            target = self.child_target.get(pie_id, 10_000)
            self._buy(
                allocate_buy(self.node(pie_id, target), amount, rule="removal"),
                "removal",
                intent_id,
            )

    def remove_subpie(self, intent_id: int, slice_id: int) -> None:
        """A removed sub-pie is sold whole, every leaf below it, and reinvested in its parent."""
        parent_id, pie_id, status = self.subpies[slice_id]
        if status != "removing":
            return  # cancelled meanwhile: the intent is simply done
        held = [
            item for item in self.leaves_under(pie_id) if item.quantity > 0 and not item.sold_all
        ]
        if any(item.price is None for item in held):
            self.outcome.intents[intent_id] = ("pending", "", True)  # waits for every price
            return
        amounts = {item.path: floor_cents(item.value) for item in held}
        proceeds = self._sell(amounts, "removal", intent_id, {})
        for item in held:
            item.sold_all = True
        self.free += proceeds
        self.reinvest(parent_id, proceeds, intent_id)

    def remove(self, intent_id: int, slice_id: int | None) -> None:
        if slice_id in self.subpies:
            self.remove_subpie(intent_id, slice_id)
            return
        item = self.by_slice.get(slice_id) if slice_id is not None else None
        if item is None or item.status != "removing" or item.quantity <= 0:
            return  # cancelled meanwhile, or nothing held: the intent is simply done
        if item.price is None:
            # No price: nothing can be sold; the removal waits for the next window.
            self.outcome.intents[intent_id] = ("pending", "", True)
            return
        amount = floor_cents(item.value)
        self._sell({item.path: amount}, "removal", intent_id, {})
        item.sold_all = True
        self.free += amount
        self.reinvest(item.pie_id, amount, intent_id)

    def rebalance(self, intent_id: int, pie_id: int | None) -> None:
        if pie_id is None or pie_id not in self.paths:
            return
        is_root = pie_id == self.root_id
        extra = ZERO
        if is_root and self.auto_invest:
            extra = max(self.free - self.min_cash, ZERO)
        result = rebalance(
            self.node(pie_id, self.child_target.get(pie_id, 10_000)), extra_cash=extra
        )
        sells = {}
        buys = {}
        for key, signed in result.orders.items():
            item = self.leaves[key]
            if item.price is None:
                continue  # no price: a rebalance skips it and completes
            if signed < 0:
                sells[key] = -signed
            else:
                buys[key] = signed
        sold = self._sell(sells, "rebalance", intent_id, result.explanations)
        self.free += sold
        wanted = sum(buys.values(), ZERO)
        available = max(self.free - self.min_cash, min(self.free, sold))
        if wanted > available:
            # The targets are floored per leaf, so the buys can exceed sells plus cash by a few
            # cents per untouched leaf: prorate them, as the window would (allocation.md).
            buys = {key: floor_cents(amount * available / wanted) for key, amount in buys.items()}
        amounts = {key: amount for key, amount in buys.items() if amount > 0}
        self._buy(Allocation(amounts, result.explanations), "rebalance", intent_id)

    def auto_invest_cash(self, trigger: Decimal, rule: str) -> None:
        if not self.auto_invest or not self.has_active(self.root_id):
            return
        excess = self.free - self.min_cash
        if excess <= 0 or excess < trigger:
            return
        assert self.root_id is not None
        self._buy(allocate_buy(self.node(self.root_id), excess, rule=rule), rule, None)

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
                    quantity = min(ceil_shares(amount / item.price), item.quantity)
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


_ACCOUNTS = """
    SELECT a.id, a.cash, a.min_cash, a.auto_invest, root.id
    FROM trading_windowaccount wa
    JOIN trading_account a ON a.id = wa.account_id
    LEFT JOIN pies_pie root ON root.account_id = a.id AND root.is_root
    WHERE wa.window_id = %s AND wa.chunk = %s
    ORDER BY a.id
"""
_INTENTS = """
    SELECT t.id, t.account_id, t.kind, t.amount, t.withdraw_all, t.pie_id, t.slice_id
    FROM trading_intent t
    WHERE t.account_id = ANY(%s::bigint[]) AND t.window_id = %s AND t.status = 'pending'
    ORDER BY t.created_at, t.id
"""
_SLICES = """
    SELECT p.account_id, p.id, p.name, s.id, s.security_id, s.child_pie_id, s.target_bp,
           s.status, pos.id, pos.quantity
    FROM pies_pie p
    LEFT JOIN pies_slice s ON s.pie_id = p.id AND s.status <> 'removed'
    LEFT JOIN trading_position pos ON pos.slice_id = s.id
    WHERE p.account_id = ANY(%s::bigint[])
    ORDER BY p.id, s."order", s.id
"""
_NEW_POSITIONS = """
    INSERT INTO trading_position (account_id, security_id, slice_id, quantity)
    SELECT u.account_id, u.security_id, u.slice_id, 0
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS u(account_id, security_id, slice_id)
    ON CONFLICT (slice_id) DO UPDATE SET quantity = trading_position.quantity
    RETURNING id, slice_id
"""
_ORDERS = """
    INSERT INTO trading_order (window_id, account_id, position_id, security_id, intent_id, side,
        status, amount, quantity, price, filled_amount, reason, explanation, created_at)
    SELECT %s, u.account_id, COALESCE(u.position_id, w0.id), u.security_id, u.intent_id, u.side,
        u.status, u.amount, u.quantity, NULL, NULL, u.reason, u.explanation::jsonb,
        statement_timestamp()
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],
                %s::text[], %s::text[], %s::numeric[], %s::numeric[], %s::text[], %s::text[])
        AS u(account_id, slice_id, position_id, security_id, intent_id, side, status, amount,
             quantity, reason, explanation)
    LEFT JOIN w0 ON w0.slice_id = u.slice_id
    RETURNING 1
"""
_INTENT_OUTCOMES = """
    UPDATE trading_intent t
    SET status = u.status, failure_reason = u.reason,
        finished_at = CASE WHEN u.status = 'pending' THEN NULL ELSE statement_timestamp() END,
        window_id = CASE WHEN u.release THEN NULL ELSE t.window_id END
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::boolean[])
        AS u(id, status, reason, release)
    WHERE t.id = u.id AND t.status = 'pending'
    RETURNING 1
"""


def plan_chunk(run: Run, chunk: int) -> None:
    trigger: Decimal = settings.PIES_AUTO_INVEST_TRIGGER
    with transaction.atomic(), localcontext() as context:
        context.prec = 60
        accounts = fetch(_ACCOUNTS, [run.window_id, chunk])
        # The chunk's accounts by id from here on: the window's rows were just written and have
        # no planner statistics yet, so joining them again invites a nested loop.
        ids = [row[0] for row in accounts]
        intents = fetch(_INTENTS, [ids, run.window_id])
        slice_rows = fetch(_SLICES, [ids])

        pies: dict[int, dict[int, str]] = {}
        rows: dict[int, list[tuple]] = {}
        for account_id, pie_id, name, *slice_row in slice_rows:
            pies.setdefault(account_id, {})[pie_id] = name
            if slice_row[0] is not None:
                slice_id, security_id, child_id, target_bp, status, position_id, qty = slice_row
                rows.setdefault(account_id, []).append(
                    (slice_id, pie_id, security_id, child_id, target_bp, status, position_id, qty)
                )
        by_account: dict[int, list[tuple]] = {}
        for row in intents:
            by_account.setdefault(row[1], []).append(row)

        orders: list[PlannedOrder] = []
        outcomes: dict[int, tuple[str, str, bool]] = {}
        ledger: list[LedgerRow] = []
        cash: dict[int, Decimal] = {}
        stats = run.progress.setdefault("plan_stats", {})
        for account_id, balance, min_cash, auto_invest, root_id in accounts:
            plan = AccountPlan(
                account_id=account_id,
                cash=balance,
                min_cash=min_cash,
                auto_invest=auto_invest,
                root_id=root_id,
                pies=pies.get(account_id, {}),
                rows=rows.get(account_id, []),
                prices=run.prices,
                symbols=run.symbols,
            )
            mine = by_account.get(account_id, [])
            deposited = False
            for intent_id, _, kind, amount, _, _, _ in mine:
                if kind == "deposit":
                    plan.deposit(intent_id, amount)
                    deposited = True
            everything = False
            for intent_id, _, kind, amount, withdraw_all, _, _ in mine:
                if kind == "withdrawal":
                    everything = plan.withdraw(intent_id, amount, withdraw_all) or everything
            if not everything:
                for intent_id, _, kind, _, _, _, slice_id in mine:
                    if kind == "removal":
                        plan.remove(intent_id, slice_id)
                for intent_id, _, kind, _, _, pie_id, _ in mine:
                    if kind == "rebalance":
                        plan.rebalance(intent_id, pie_id)
                plan.auto_invest_cash(trigger, "deposit" if deposited else "auto_invest")
            orders.extend(plan.orders())
            outcomes.update(plan.outcome.intents)
            for intent_id, amount in plan.outcome.deposits:
                ledger.append((account_id, amount, "deposit", f"intent:{intent_id}", intent_id))
                ledger.append(
                    (run.system.external, -amount, "deposit", f"intent:{intent_id}", intent_id)
                )
                add_to(cash, account_id, amount)
                add_to(cash, run.system.external, -amount)

        for status, _, release in outcomes.values():
            key = "released" if release else f"intents_{status}"
            stats[key] = stats.get(key, 0) + 1
        waiting = run.progress.setdefault("waiting", {})
        for order in orders:
            if order.status == "waiting":
                symbol = run.symbols.get(order.leaf.security_id, str(order.leaf.security_id))
                entry = waiting.setdefault(symbol, {"orders": 0, "buy": "0", "sell": "0"})
                entry["orders"] += 1
                entry[order.side] = str(Decimal(entry[order.side]) + order.amount)
        stats["orders"] = stats.get("orders", 0) + len(orders)
        stats["deposits"] = stats.get("deposits", 0) + len(ledger) // 2
        run.progress["plan"] = chunk + 1

        new_positions = [o for o in orders if o.leaf.position_id is None]
        write_all(
            [
                (
                    _NEW_POSITIONS,
                    [
                        [o.account_id for o in new_positions],
                        [o.leaf.security_id for o in new_positions],
                        [o.leaf.slice_id for o in new_positions],
                    ],
                ),
                (
                    _ORDERS,
                    [
                        run.window_id,
                        [o.account_id for o in orders],
                        [o.leaf.slice_id for o in orders],
                        [o.leaf.position_id for o in orders],
                        [o.leaf.security_id for o in orders],
                        [o.intent_id for o in orders],
                        [o.side for o in orders],
                        [o.status for o in orders],
                        [o.amount for o in orders],
                        [o.quantity for o in orders],
                        [o.reason for o in orders],
                        [dump_json(o.explanation) for o in orders],
                    ],
                ),
                insert_ledger(run.window_id, ledger),
                update_cash(cash),
                (
                    _INTENT_OUTCOMES,
                    [
                        list(outcomes),
                        [status for status, _, _ in outcomes.values()],
                        [reason for _, reason, _ in outcomes.values()],
                        [release for _, _, release in outcomes.values()],
                    ],
                ),
                save_progress(run, "plan"),
            ]
        )
