"""Builders shared by the view tests and the browser tests: pies saved through the services,
holdings as if a window had bought them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pies.services import save_pie_tree
from pies.tree import load_portfolio
from trading.models import Account, Lot, Position


def build_pie(account: Account, slices: list[dict[str, Any]], name: str = "Portfolio") -> None:
    """Save a tree in the api.md PUT shape at the current version."""
    version = load_portfolio(account).version
    save_pie_tree(account=account, tree={"name": name, "slices": slices}, version=version)


def hold(
    account: Account,
    path: str,
    quantity: str,
    cost: str,
    acquired_on: date = date(2025, 1, 2),
) -> Position:
    """Give the leaf at ``path`` shares with one open lot (as if a window had bought them)."""
    leaf = next(s for s in load_portfolio(account).leaves if s.path == path)
    position, _ = Position.objects.get_or_create(
        account=account, security_id=leaf.security_id, slice_id=leaf.id
    )
    position.quantity += Decimal(quantity)
    position.save(update_fields=["quantity"])
    Lot.objects.create(
        position=position,
        acquired_on=acquired_on,
        quantity=Decimal(quantity),
        remaining_quantity=Decimal(quantity),
        cost_basis=Decimal(cost),
        remaining_cost=Decimal(cost),
    )
    return position
