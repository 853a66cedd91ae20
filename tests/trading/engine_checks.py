"""The checks the engine's stateful test runs after every step (imported explicitly).

Each one states a guarantee of product.md / allocation.md from the rows, independently of the
engine's own bookkeeping where it can: money from intents and orders (not the ledger), block
results from the formulas of allocation.md, Execution (not from the engine's allocate).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, localcontext

from django.db.models import Sum

from pies.models import Slice
from trading.models import (
    Account,
    BlockOrder,
    Fill,
    Intent,
    LedgerEntry,
    Order,
    Position,
    TradeWindow,
)
from trading.money import ZERO, floor_cents, floor_shares
from trading.window.common import window_prices

CROSS = "internal cross"


def money_identity(account_ids: Iterable[int]) -> list[str]:
    """Per account: deposits + dividends + sell proceeds - buys - withdrawals paid = cash.

    Deposits are the done deposit intents, withdrawals the amounts paid on done withdrawal
    intents, sells and buys the filled orders' cash: only dividends are read from the ledger.
    """
    problems = []
    for account in Account.objects.filter(pk__in=list(account_ids)):
        intents = Intent.objects.filter(account=account, status="done")
        deposits = intents.filter(kind="deposit").aggregate(t=Sum("amount"))["t"] or ZERO
        paid = intents.filter(kind="withdrawal").aggregate(t=Sum("amount_paid"))["t"] or ZERO
        dividends = (
            LedgerEntry.objects.filter(account=account, kind="dividend").aggregate(t=Sum("amount"))[
                "t"
            ]
            or ZERO
        )
        filled = Order.objects.filter(account=account, status="filled")
        sold = filled.filter(side="sell").aggregate(t=Sum("filled_amount"))["t"] or ZERO
        bought = filled.filter(side="buy").aggregate(t=Sum("filled_amount"))["t"] or ZERO
        expected = deposits + dividends + sold - bought - paid
        if expected != account.cash:
            problems.append(
                f"account {account.pk}: deposits {deposits} + dividends {dividends} + sells "
                f"{sold} - buys {bought} - withdrawals paid {paid} = {expected}, cash "
                f"{account.cash}"
            )
    return problems


def block_identities(window_ids: Iterable[int]) -> list[str]:
    """Per block of the given done windows: the share and cash identities, the house never
    negative, and every account's result by the exact formulas of allocation.md, Execution."""
    problems = []
    for block in BlockOrder.objects.filter(window_id__in=list(window_ids)):
        orders = list(Order.objects.filter(window_id=block.window_id, security=block.security))
        buys = [o for o in orders if o.side == "buy" and o.status == "filled"]
        sells = [o for o in orders if o.side == "sell" and o.status == "filled"]
        broker = sum(
            (f.quantity for f in Fill.objects.filter(block=block).exclude(broker_reference=CROSS)),
            ZERO,
        )
        signed = broker if block.net_side == "buy" else -broker
        shares = sum((o.quantity for o in buys), ZERO) - sum((o.quantity for o in sells), ZERO)
        cash = sum((o.filled_amount for o in buys), ZERO) - sum(
            (o.filled_amount for o in sells), ZERO
        )
        name = f"block {block.pk} (window {block.window_id}, {block.net_side})"
        if shares + block.house_quantity != signed:
            problems.append(f"{name}: shares {shares} + house {block.house_quantity} != {signed}")
        if cash != block.settlement_amount + block.house_cash:
            problems.append(
                f"{name}: cash {cash} != broker {block.settlement_amount} + house "
                f"{block.house_cash}"
            )
        if block.house_quantity < 0 or block.house_cash < 0:
            problems.append(f"{name}: house {block.house_quantity} / {block.house_cash}")
        problems.extend(_formulas(block, name, buys, sells))
    return problems


def _formulas(block: BlockOrder, name: str, buys: list[Order], sells: list[Order]) -> list[str]:
    w = block.window_price
    problems = []
    with localcontext() as context:
        context.prec = 60
        total_buys = sum((o.amount for o in buys), ZERO)
        for order in buys:
            if block.net_side == "buy":
                got = floor_shares(
                    order.amount * (block.sell_quantity + block.net_quantity) / total_buys
                )
            else:
                got = floor_shares(order.amount / w)
            if (order.quantity, order.filled_amount) != (got, order.amount):
                problems.append(
                    f"{name}: buy {order.pk} of {order.amount} got {order.quantity} shares for "
                    f"{order.filled_amount}, the formula gives {got} for {order.amount}"
                )
        pool = total_buys + abs(block.settlement_amount)
        for order in sells:
            if block.net_side == "buy":
                due = floor_cents(order.quantity * w)
            else:
                limit = block.limit_price or w
                due = max(
                    floor_cents(pool * order.quantity / block.sell_quantity),
                    floor_cents(order.quantity * limit),
                )
            if order.filled_amount != due:
                problems.append(
                    f"{name}: sell {order.pk} of {order.quantity} got {order.filled_amount}, "
                    f"the formula gives {due}"
                )
    return problems


def removing_without_intent(account_ids: Iterable[int]) -> list[str]:
    """Every slice still removing is on its way out: a pending removal intent for it, or for
    a removing sub-pie above it, will sell it. No money is parked in a removing pie."""
    problems = []
    live = Slice.objects.filter(pie__account_id__in=list(account_ids)).exclude(status="removed")
    slice_of_pie = {s.child_pie_id: s for s in live if s.child_pie_id}
    pending = set(
        Intent.objects.filter(
            account_id__in=list(account_ids), kind="removal", status="pending"
        ).values_list("slice_id", flat=True)
    )
    for item in live:
        if item.status != "removing":
            continue
        chain = [item]
        parent = slice_of_pie.get(item.pie_id)
        while parent is not None:
            chain.append(parent)
            parent = slice_of_pie.get(parent.pie_id)
        if not any(s.pk in pending and s.status == "removing" for s in chain):
            problems.append(f"slice {item.pk} is removing with no pending removal to sell it")
    return problems


def positions_of(account_ids: Iterable[int]) -> dict[int, tuple[int, int, Decimal]]:
    """position -> (account, security, quantity) of the accounts' slice positions."""
    return {
        pk: (account_id, security_id, quantity)
        for pk, account_id, security_id, quantity in Position.objects.filter(
            account_id__in=list(account_ids), slice__isnull=False
        ).values_list("pk", "account_id", "security_id", "quantity")
    }


def short_withdrawals(
    intents: Iterable[Intent],
    snapshots: dict[int, dict[int, tuple[int, int, Decimal]]],
    scheduled: dict[int, datetime],
) -> list[str]:
    """A fixed withdrawal paid less than asked must have sold every share the account held
    (worth a cent at the window price) when its window started; the others are paid exactly."""
    problems = []
    prices_of: dict[int, dict[int, Decimal]] = {}
    for intent in intents:
        assert intent.amount_paid is not None
        if intent.amount_paid > intent.amount:
            problems.append(f"withdrawal {intent.pk} paid {intent.amount_paid} > {intent.amount}")
        if intent.amount_paid == intent.amount:
            continue
        window = intent.window_id
        if window not in prices_of:
            prices_of[window] = window_prices(scheduled[window])[0]
        prices = prices_of[window]
        sold = dict(
            Order.objects.filter(
                window_id=window, account=intent.account_id, side="sell", status="filled"
            ).values_list("position_id", "quantity")
        )
        for position, (account, security, quantity) in snapshots[window].items():
            if account != intent.account_id or quantity <= 0:
                continue
            if quantity * prices.get(security, ZERO) >= Decimal("0.01") and (
                sold.get(position) != quantity
            ):
                problems.append(
                    f"withdrawal {intent.pk} paid {intent.amount_paid} of {intent.amount} while "
                    f"position {position} kept {quantity - sold.get(position, ZERO)} shares"
                )
    return problems


def done_windows(ids: Iterable[int]) -> list[int]:
    return list(
        TradeWindow.objects.filter(pk__in=list(ids), status="done").values_list("pk", flat=True)
    )
