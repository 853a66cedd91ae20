"""The database itself refuses bad rows, whatever code path writes them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import DatabaseError

from pies.models import Pie, Slice
from trading.models import (
    Account,
    Intent,
    LedgerEntry,
    Lot,
    Position,
    Price,
    Security,
    TradeWindow,
)


def refuses(callable_) -> bool:
    try:
        with transaction.atomic():
            callable_()
    except (IntegrityError, InternalError, DatabaseError):
        return True
    return False


@pytest.fixture
def vti(make_security):
    return make_security("VTI", "250.00")


@pytest.fixture
def position(alice_account, vti):
    root = Pie.objects.get(account=alice_account, is_root=True)
    slice_ = Slice.objects.create(pie=root, security=vti, target_bp=10000)
    return Position.objects.create(account=alice_account, security=vti, slice=slice_)


def test_a_lot_with_a_negative_quantity_is_refused(position):
    assert refuses(
        lambda: Lot.objects.create(
            position=position,
            acquired_on=date(2026, 1, 2),
            quantity=Decimal("-1"),
            remaining_quantity=Decimal("-1"),
            cost_basis=Decimal("10"),
            remaining_cost=Decimal("10"),
        )
    )


def test_a_lot_cannot_have_more_remaining_than_it_bought(position):
    assert refuses(
        lambda: Lot.objects.create(
            position=position,
            acquired_on=date(2026, 1, 2),
            quantity=Decimal("1"),
            remaining_quantity=Decimal("2"),
            cost_basis=Decimal("10"),
            remaining_cost=Decimal("10"),
        )
    )


def test_a_valid_lot_is_accepted(position):
    assert not refuses(
        lambda: Lot.objects.create(
            position=position,
            acquired_on=date(2026, 1, 2),
            quantity=Decimal("1.5"),
            remaining_quantity=Decimal("1.5"),
            cost_basis=Decimal("375.00"),
            remaining_cost=Decimal("375.00"),
        )
    )


def test_two_slices_of_the_same_security_in_one_pie_are_refused(alice_account, vti):
    root = Pie.objects.get(account=alice_account, is_root=True)
    Slice.objects.create(pie=root, security=vti, target_bp=5000)
    assert refuses(lambda: Slice.objects.create(pie=root, security=vti, target_bp=5000))


def test_the_same_security_may_sit_in_two_different_sub_pies(alice_account, vti):
    first = Pie.objects.create(account=alice_account, name="A")
    second = Pie.objects.create(account=alice_account, name="B")
    Slice.objects.create(pie=first, security=vti, target_bp=10000)
    assert not refuses(lambda: Slice.objects.create(pie=second, security=vti, target_bp=10000))


def test_a_slice_with_both_or_neither_security_and_child_pie_is_refused(alice_account, vti):
    root = Pie.objects.get(account=alice_account, is_root=True)
    child = Pie.objects.create(account=alice_account, name="Bonds")
    assert refuses(
        lambda: Slice.objects.create(pie=root, security=vti, child_pie=child, target_bp=1)
    )
    assert refuses(lambda: Slice.objects.create(pie=root, target_bp=1))


def test_targets_outside_0_to_10000_basis_points_are_refused(alice_account, vti):
    root = Pie.objects.get(account=alice_account, is_root=True)
    assert refuses(lambda: Slice.objects.create(pie=root, security=vti, target_bp=10001))


def test_an_active_slice_needs_a_target_above_zero(alice_account, vti):
    root = Pie.objects.get(account=alice_account, is_root=True)
    assert refuses(lambda: Slice.objects.create(pie=root, security=vti, target_bp=0))


def test_a_duplicate_idempotency_key_in_one_account_is_refused(alice_account, bob_account):
    Intent.objects.create(account=alice_account, kind="deposit", amount=10, idempotency_key="k1")
    assert refuses(
        lambda: Intent.objects.create(
            account=alice_account, kind="deposit", amount=10, idempotency_key="k1"
        )
    )
    # The same key in another account is another request.
    assert not refuses(
        lambda: Intent.objects.create(
            account=bob_account, kind="deposit", amount=10, idempotency_key="k1"
        )
    )


def test_two_windows_for_one_date_and_session_are_refused(db):
    when = "2026-11-24T14:30:00Z"
    TradeWindow.objects.create(trade_date=date(2026, 11, 24), session="morning", scheduled_at=when)
    assert refuses(
        lambda: TradeWindow.objects.create(
            trade_date=date(2026, 11, 24), session="morning", scheduled_at=when
        )
    )
    # Ad-hoc windows are not limited.
    for _ in range(2):
        TradeWindow.objects.create(
            trade_date=date(2026, 11, 24), session="adhoc", scheduled_at=when
        )


def test_prices_must_be_positive(vti):
    assert refuses(lambda: Price.objects.create(security=vti, at="2026-01-02T21:00Z", price=0))


def test_symbols_are_upper_case(db):
    assert refuses(lambda: Security.objects.create(symbol="vti", name="lower"))


def test_one_account_of_each_kind_per_user(alice, alice_account):
    assert refuses(lambda: Account.objects.create(owner=alice, kind="individual"))
    assert not refuses(lambda: Account.objects.create(owner=alice, kind="roth_ira"))


def test_user_accounts_never_have_negative_cash(alice_account):
    assert refuses(lambda: Account.objects.filter(pk=alice_account.pk).update(cash=-1))


def test_the_system_accounts_exist_after_migrating(db):
    kinds = set(Account.objects.filter(owner=None).values_list("kind", flat=True))
    assert kinds == {"house", "external", "clearing"}


def test_a_ledger_row_cannot_be_updated_or_deleted(alice_account):
    entry = LedgerEntry.objects.create(
        account=alice_account, amount=Decimal("10.00"), kind="deposit", reference="test"
    )
    assert refuses(lambda: LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("99")))
    assert refuses(lambda: LedgerEntry.objects.filter(pk=entry.pk).delete())
    with connection.cursor() as cursor:
        assert refuses(
            lambda: cursor.execute("DELETE FROM trading_ledgerentry WHERE id = %s", [entry.pk])
        )
    entry.refresh_from_db()
    assert entry.amount == Decimal("10.00")


def test_only_the_demo_setting_lets_an_entry_move_earlier_and_nothing_else(alice_account):
    entry = LedgerEntry.objects.create(
        account=alice_account, amount=Decimal("10.00"), kind="deposit", reference="test"
    )
    earlier = entry.created_at - timedelta(days=300)
    rows = LedgerEntry.objects.filter(pk=entry.pk)
    assert refuses(lambda: rows.update(created_at=earlier))  # without the setting
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pies.backdating_demo', 'on', true)")
    assert refuses(lambda: rows.update(amount=Decimal("99")))
    assert refuses(lambda: rows.update(created_at=earlier, reference="other"))
    assert refuses(lambda: rows.update(created_at=entry.created_at + timedelta(days=1)))
    assert refuses(lambda: rows.delete())
    assert not refuses(lambda: rows.update(created_at=earlier))
    entry.refresh_from_db()
    assert (entry.amount, entry.reference, entry.created_at) == (Decimal("10.00"), "test", earlier)
