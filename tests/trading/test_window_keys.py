"""verify_books's key checks (trading.books, ``_KEY_CHECKS``): it finds a row whose copy of a
key disagrees with its source, which no foreign key ever checked, or (written with the
database's key triggers off) names a window that does not exist."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from tests.faults.books import mixed_accounts
from trading.books import verify_books
from trading.models import Account, Disposal, LedgerEntry, Order, Security
from trading.window import open_adhoc_window, run_window

pytestmark = pytest.mark.django_db

# Every foreign-key constraint on the tables a window writes in bulk, as the database has them.
_CONSTRAINED = """
SELECT c.conrelid::regclass::text, a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
WHERE c.contype = 'f'
  AND c.conrelid::regclass::text IN
      ('trading_order', 'trading_ledgerentry', 'trading_lot', 'trading_disposal')
"""


def test_the_bulk_tables_have_no_foreign_key_constraint_left():
    # Their keys are checked per statement by triggers (trading migration 0019), proven in
    # tests/foundation/test_book_keys.py.
    with connection.cursor() as cursor:
        cursor.execute(_CONSTRAINED)
        assert cursor.fetchall() == []


def _without_triggers(write) -> None:
    """Write a row as a restore with its triggers disabled could (pg_restore
    --disable-triggers): what verify_books is the second line of defence against."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            write()
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def window_done(db):
    accounts = mixed_accounts("keys", 3)
    window = open_adhoc_window()
    run_window(window.pk)
    assert verify_books() == []
    assert Disposal.objects.exists()
    return accounts, window


def _other_account(account: Account) -> Account:
    return Account.objects.exclude(pk=account.pk).filter(owner__isnull=False).first()


def test_an_order_whose_account_is_not_its_positions_is_reported(window_done):
    order = Order.objects.filter(window=window_done[1]).first()
    other = _other_account(order.account)
    Order.objects.filter(pk=order.pk).update(account=other)

    [problem] = verify_books()
    assert problem.startswith(f"order {order.pk} (account {other.pk}")
    assert f"its position is account {order.account_id}'s" in problem


def test_an_order_whose_security_is_not_its_positions_is_reported(window_done):
    order = Order.objects.filter(window=window_done[1]).first()
    other = Security.objects.exclude(pk=order.security_id).first()
    Order.objects.filter(pk=order.pk).update(security=other)

    # (the window's blocks no longer add up per security either)
    problems = verify_books()
    expected = f"order {order.pk} (account {order.account_id}, security {other.pk}"
    assert any(line.startswith(expected) for line in problems), problems


def test_an_order_of_a_window_that_does_not_exist_is_reported(window_done):
    order = Order.objects.filter(window=window_done[1]).first()
    _without_triggers(lambda: Order.objects.filter(pk=order.pk).update(window_id=987654))

    problems = verify_books()
    assert any(
        line.startswith(f"order {order.pk} (") and "window 987654" in line for line in problems
    ), problems


def test_a_disposal_whose_account_is_not_its_lots_is_reported(window_done):
    disposal = Disposal.objects.first()
    other = _other_account(disposal.account)
    Disposal.objects.filter(pk=disposal.pk).update(account=other)

    [problem] = verify_books()
    assert problem == (
        f"disposal {disposal.pk} (account {other.pk}, security {disposal.security_id}): "
        f"its lot is account {disposal.account_id}'s in security {disposal.security_id}"
    )


def test_a_ledger_entry_naming_a_window_that_does_not_exist_is_reported(window_done):
    account = window_done[0][0]
    # The ledger is append-only: a pair of entries that leaves every sum as it was.
    for amount in (Decimal("1.00"), Decimal("-1.00")):
        _without_triggers(
            lambda amount=amount: LedgerEntry.objects.create(
                account=account,
                amount=amount,
                kind="correction",
                reference="test",
                window_id=987654,
            )
        )

    problems = verify_books()
    assert len(problems) == 2
    assert all(line.endswith("names window 987654, which does not exist") for line in problems)
