"""Accounts that make a window do every kind of work, and what a window did to the books, in a
form that compares across two runs of the same setup (no ids, no usernames, no timestamps)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum

from tests.trading.conftest_engine import build_account, intent, plain_user
from trading.models import (
    Account,
    AccountKind,
    BlockOrder,
    Disposal,
    Intent,
    LedgerEntry,
    Lot,
    Order,
    Position,
    TradeWindow,
)

PIE = {
    "slices": [
        {"name": "AAA", "target_percent": "40", "value": "400"},
        {
            "name": "Sub",
            "target_percent": "60",
            "slices": [
                {"name": "BBB", "target_percent": "50", "value": "200"},
                {"name": "CCC", "target_percent": "50", "value": "450"},
                {"name": "OLD", "target_percent": "0", "value": "100"},
            ],
        },
    ]
}


def mixed_accounts(prefix: str, count: int) -> list[Account]:
    """``count`` accounts with deposits, withdrawals, rebalances and a slice removal: buys and
    sells in most chunks, lots opened and consumed."""
    accounts = []
    for n in range(count):
        account, leaves = build_account(plain_user(f"{prefix}{n}"), PIE)
        if n % 3 == 0:
            intent(account, "deposit", f"{100 + n}.25")
        if n % 3 == 1:
            intent(account, "withdrawal", f"{300 + n}.10")
        if n % 2 == 0:
            intent(account, "rebalance", pie=account.pies.get(is_root=True))
        if n % 6 == 5:
            intent(account, "removal", slice=leaves["Sub/OLD"])
        accounts.append(account)
    return accounts


def account_books(account: Account) -> dict[str, Any]:
    account.refresh_from_db()
    ledger = LedgerEntry.objects.filter(account=account)
    return {
        "cash": account.cash,
        "ledger": sorted((e.kind, e.amount) for e in ledger),
        "ledger_sum": ledger.aggregate(total=Sum("amount"))["total"],
        "positions": sorted(
            (p.security.symbol, p.quantity)
            for p in Position.objects.filter(account=account).select_related("security")
        ),
        "lots": sorted(
            (
                lot.position.security.symbol,
                lot.acquired_on,
                lot.quantity,
                lot.remaining_quantity,
                lot.cost_basis,
                lot.remaining_cost,
            )
            for lot in Lot.objects.filter(position__account=account).select_related(
                "position__security"
            )
        ),
        "disposals": sorted(
            (d.security.symbol, d.quantity, d.proceeds, d.cost_basis, d.gain, d.term)
            for d in Disposal.objects.filter(account=account).select_related("security")
        ),
        "orders": sorted(
            (
                o.security.symbol,
                o.side,
                o.status,
                o.reason,
                o.amount,
                o.quantity,
                o.price,
                o.filled_amount,
            )
            for o in Order.objects.filter(account=account).select_related("security")
        ),
        "intents": sorted(
            (i.kind, i.status, i.failure_reason) for i in Intent.objects.filter(account=account)
        ),
    }


def window_books(window_id: int) -> dict[str, Any]:
    """The window's blocks (netting, fills, house residues) and its system-account movements."""
    window = TradeWindow.objects.get(pk=window_id)
    system = LedgerEntry.objects.filter(window_id=window_id, account__owner=None)
    return {
        "status": window.status,
        "blocks": sorted(
            (
                b.security.symbol,
                b.buy_quantity,
                b.sell_quantity,
                b.crossed_quantity,
                b.net_side,
                b.net_quantity,
                b.fill_price,
                b.house_quantity,
                b.settlement_amount,
                b.house_cash,
            )
            for b in BlockOrder.objects.filter(window_id=window_id).select_related("security")
        ),
        "system_ledger": {
            kind: total
            for kind, total in system.values_list("account__kind")
            .annotate(total=Sum("amount"))
            .order_by("account__kind")
        },
        "counts": window.report.get("counts"),
        "house": window.report.get("house"),
    }


def books(accounts: list[Account], window_id: int) -> dict[str, Any]:
    return {"accounts": [account_books(a) for a in accounts], "window": window_books(window_id)}


def house_cash() -> Decimal:
    return Account.system(AccountKind.HOUSE).cash
