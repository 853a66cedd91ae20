"""Helpers for the window engine's tests (imported explicitly, not a conftest plugin).

``build_account`` makes an account whose pie and holdings are given in the scenarios.json
shape: each leaf's value becomes value / price shares, held in one lot bought long ago at that
value, so the books are right before any window runs.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from pies.models import Pie, Slice
from pies.services import open_account
from trading.models import (
    Account,
    AccountKind,
    BlockOrder,
    Intent,
    LedgerEntry,
    Lot,
    Order,
    Position,
    Price,
    Security,
)

PRICE = Decimal("10.00")
LONG_AGO = date(2020, 1, 2)


def plain_user(username: str) -> Any:
    """A user without a password: hashing one costs more than the whole window under test."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create(username=username)


def bp(percent: str) -> int:
    return int(Decimal(percent) * 100)


def security(symbol: str, price: Decimal | str | None = PRICE) -> Security:
    found, _ = Security.objects.get_or_create(symbol=symbol, defaults={"name": f"{symbol} Fund"})
    if price is not None:
        Price.objects.update_or_create(
            security=found,
            at=timezone.now() - timezone.timedelta(minutes=5),
            defaults={"price": Decimal(str(price))},
        )
    return found


def add_cash(account: Account, amount: Decimal | str) -> None:
    """Cash as the books see it: a deposit entry and its counter-entry."""
    amount = Decimal(str(amount))
    external = Account.system(AccountKind.EXTERNAL)
    LedgerEntry.objects.create(account=account, amount=amount, kind="deposit", reference="test")
    LedgerEntry.objects.create(account=external, amount=-amount, kind="deposit", reference="test")
    Account.objects.filter(pk=account.pk).update(cash=account.cash + amount)
    Account.objects.filter(pk=external.pk).update(cash=external.cash - amount)
    account.refresh_from_db()


def hold(account: Account, slice_: Slice, value: Decimal, price: Decimal) -> Position:
    position = Position.objects.create(
        account=account, security=slice_.security, slice=slice_, quantity=value / price
    )
    if value:
        Lot.objects.create(
            position=position,
            acquired_on=LONG_AGO,
            quantity=value / price,
            remaining_quantity=value / price,
            cost_basis=value,
            remaining_cost=value,
        )
    return position


def build_account(
    user: Any,
    spec: dict,
    *,
    price: Decimal | str = PRICE,
    kind: str = "individual",
    **settings: Any,
) -> tuple[Account, dict[str, Slice]]:
    """An account with the pie of ``spec`` ({"slices": [...]}, scenarios.json shape); returns
    it and its leaf slices by path ("Bonds/BND")."""
    price = Decimal(str(price))
    account = open_account(user=user, kind=kind)
    if settings:
        Account.objects.filter(pk=account.pk).update(**settings)
        account.refresh_from_db()
    root = Pie.objects.get(account=account, is_root=True)
    leaves: dict[str, Slice] = {}

    def build(pie: Pie, items: list[dict], prefix: str) -> None:
        for order, item in enumerate(items):
            target = bp(item["target_percent"])
            status = "active" if target else "removing"
            path = f"{prefix}/{item['name']}" if prefix else item["name"]
            if "slices" in item:
                child = Pie.objects.create(account=account, name=item["name"])
                Slice.objects.create(
                    pie=pie, child_pie=child, target_bp=target, order=order, status=status
                )
                build(child, item["slices"], path)
                continue
            symbol = item.get("symbol", item["name"].upper())
            slice_ = Slice.objects.create(
                pie=pie,
                security=security(symbol, price),
                target_bp=target,
                order=order,
                status=status,
            )
            hold(account, slice_, Decimal(item.get("value", "0")), price)
            leaves[path] = slice_

    build(root, spec["slices"], "")
    return account, leaves


def intent(account: Account, kind: str, amount: str | None = None, **extra: Any) -> Intent:
    return Intent.objects.create(
        account=account, kind=kind, amount=Decimal(amount) if amount else None, **extra
    )


def orders_by_path(window_id: int, leaves: dict[str, Slice], side: str) -> dict[str, str]:
    path_of = {slice_.pk: path for path, slice_ in leaves.items()}
    return {
        path_of[order.position.slice_id]: str(order.amount)
        for order in Order.objects.filter(window_id=window_id, side=side).select_related("position")
    }


def books_snapshot() -> dict[str, Any]:
    """What a window did to the books, comparable across two databases' runs."""
    cash = dict(Account.objects.values_list("owner__username", "cash").exclude(owner=None))
    system = dict(Account.objects.filter(owner=None).values_list("kind", "cash"))
    positions = sorted(
        (
            p.account.owner.username if p.account.owner else p.account.kind,
            p.security.symbol,
            str(p.quantity),
        )
        for p in Position.objects.select_related("account__owner", "security")
    )
    lots = sorted(
        (
            str(lot.position_id),
            str(lot.quantity),
            str(lot.remaining_quantity),
            str(lot.cost_basis),
            str(lot.remaining_cost),
        )
        for lot in Lot.objects.all()
    )
    ledger = sorted((e.account_id, e.kind, str(e.amount)) for e in LedgerEntry.objects.all())
    blocks = sorted(
        (b.security.symbol, str(b.net_quantity), str(b.house_quantity), str(b.house_cash))
        for b in BlockOrder.objects.select_related("security")
    )
    return {
        "cash": {k: str(v) for k, v in cash.items()},
        "system": {k: str(v) for k, v in system.items()},
        "positions": positions,
        "lots": lots,
        "ledger": ledger,
        "blocks": blocks,
    }


def statement_counter() -> tuple[list[str], Any]:
    """An execute_wrapper that records every SQL statement (use with connection.execute_wrapper)."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    return seen, wrapper
