"""Workflows on pies: opening accounts, saving a whole pie tree, export and import."""

from __future__ import annotations

from django.db import transaction

from pies.models import Pie
from trading.models import USER_ACCOUNT_KINDS, Account, AccountKind


class AccountLimitError(ValueError):
    pass


@transaction.atomic
def open_account(*, user: object, kind: str = AccountKind.INDIVIDUAL, name: str = "") -> Account:
    """Open an account of ``kind`` with an empty portfolio pie (money stays cash until a save)."""
    if kind not in USER_ACCOUNT_KINDS:
        raise AccountLimitError(f"Unknown account kind {kind!r}.")
    if Account.objects.filter(owner=user, kind=kind).exists():
        raise AccountLimitError(f"You already have a {AccountKind(kind).label} account.")
    account = Account.objects.create(owner=user, kind=kind, name=name)
    Pie.objects.create(account=account, name="Portfolio", is_root=True)
    return account
