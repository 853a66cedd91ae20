from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from pies.models import Pie, Slice
from pies.services import open_account
from trading.books import verify_books
from trading.models import (
    Account,
    AccountKind,
    Disposal,
    Dividend,
    LedgerEntry,
    Lot,
    Position,
)
from trading.services import pay_due_dividends

EX_DATE = date(2026, 3, 2)
PAY_DATE = date(2026, 3, 20)


def position_of(account: Account, security, *, with_slice: bool = True) -> Position:
    slice_ = None
    if with_slice:
        root = Pie.objects.get(account=account, is_root=True)
        slice_ = Slice.objects.create(pie=root, security=security, target_bp=10000)
    return Position.objects.create(account=account, security=security, slice=slice_)


def buy(position: Position, acquired_on: date, quantity: str, cost: str) -> Lot:
    lot = Lot.objects.create(
        position=position,
        acquired_on=acquired_on,
        quantity=Decimal(quantity),
        remaining_quantity=Decimal(quantity),
        cost_basis=Decimal(cost),
        remaining_cost=Decimal(cost),
    )
    Position.objects.filter(pk=position.pk).update(quantity=position_quantity(position))
    return lot


def sell(lot: Lot, sold_on: date, quantity: str, proceeds: str, cost: str) -> None:
    Disposal.objects.create(
        lot=lot,
        account=lot.position.account,
        security=lot.position.security,
        acquired_on=lot.acquired_on,
        sold_on=sold_on,
        quantity=Decimal(quantity),
        proceeds=Decimal(proceeds),
        cost_basis=Decimal(cost),
        gain=Decimal(proceeds) - Decimal(cost),
        term="short",
    )
    Lot.objects.filter(pk=lot.pk).update(
        remaining_quantity=lot.remaining_quantity - Decimal(quantity),
        remaining_cost=lot.remaining_cost - Decimal(cost),
    )
    lot.refresh_from_db()
    Position.objects.filter(pk=lot.position_id).update(quantity=position_quantity(lot.position))


def position_quantity(position: Position) -> Decimal:
    return Lot.objects.filter(position=position).aggregate(q=Sum("remaining_quantity"))["q"]


def cash(account: Account) -> Decimal:
    account.refresh_from_db()
    return account.cash


@pytest.fixture
def holders(alice_account, bob_account, make_security):
    """Alice held 3.333333 VTI at the ex-date; Bob 6 (10 bought, 4 sold before the ex-date, 1
    after, 2 more bought on the ex-date itself); the house 0.5 (rounding residues)."""
    vti = make_security("VTI", "100.00")
    buy(position_of(alice_account, vti), date(2026, 1, 5), "3.333333", "333.33")
    bobs = position_of(bob_account, vti)
    lot = buy(bobs, date(2026, 1, 5), "10", "1000.00")
    sell(lot, date(2026, 2, 1), "4", "420.00", "400.00")
    sell(lot, date(2026, 3, 5), "1", "90.00", "100.00")
    buy(bobs, EX_DATE, "2", "200.00")
    house = Account.system(AccountKind.HOUSE)
    buy(position_of(house, vti, with_slice=False), date(2026, 1, 5), "0.5", "50.00")
    dividend = Dividend.objects.create(
        security=vti, ex_date=EX_DATE, pay_date=PAY_DATE, amount_per_share=Decimal("0.333333")
    )
    return {"alice": alice_account, "bob": bob_account, "house": house, "dividend": dividend}


def test_a_due_dividend_pays_the_shares_held_at_the_start_of_the_ex_date(holders):
    paid = pay_due_dividends(today=PAY_DATE)
    # 9.833333 shares x 0.333333 = 3.2777...: 3.27 leaves the outside world.
    assert paid == {holders["dividend"].pk: Decimal("3.27")}
    assert cash(holders["alice"]) == Decimal("1.11")  # 3.333333 x 0.333333 = 1.1111...
    assert cash(holders["bob"]) == Decimal("1.99")  # 6 x 0.333333 = 1.999998
    # The house's own 0.5 shares (0.16) plus the residue 3.27 - 3.26 = 0.01.
    assert cash(holders["house"]) == Decimal("0.17")
    assert cash(Account.system(AccountKind.EXTERNAL)) == Decimal("-3.27")
    holders["dividend"].refresh_from_db()
    assert holders["dividend"].paid_at is not None
    entries = LedgerEntry.objects.filter(dividend=holders["dividend"])
    assert sorted((e.kind, e.amount) for e in entries) == [
        ("dividend", Decimal("-3.27")),
        ("dividend", Decimal("0.16")),
        ("dividend", Decimal("1.11")),
        ("dividend", Decimal("1.99")),
        ("residue", Decimal("0.01")),
    ]
    assert verify_books() == []


def test_running_the_job_twice_pays_once(holders):
    pay_due_dividends(today=PAY_DATE)
    assert pay_due_dividends(today=PAY_DATE) == {}
    assert LedgerEntry.objects.filter(dividend=holders["dividend"]).count() == 5
    assert cash(holders["bob"]) == Decimal("1.99")
    assert verify_books() == []


def test_a_dividend_is_not_paid_before_its_pay_date(holders):
    assert pay_due_dividends(today=date(2026, 3, 19)) == {}
    assert cash(holders["alice"]) == Decimal("0")
    assert pay_due_dividends(today=date(2026, 3, 21)) == {holders["dividend"].pk: Decimal("3.27")}


def test_a_dividend_nobody_held_is_marked_paid_without_entries(make_security):
    security = make_security("NEW", "10.00")
    dividend = Dividend.objects.create(
        security=security, ex_date=EX_DATE, pay_date=PAY_DATE, amount_per_share=Decimal("1")
    )
    assert pay_due_dividends(today=PAY_DATE) == {dividend.pk: Decimal("0")}
    dividend.refresh_from_db()
    assert dividend.paid_at is not None
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_pay_once(make_user, make_security):
    vti = make_security("VTI", "100.00")
    for name in ("erin", "frank", "grace"):
        account = open_account(user=make_user(name), kind="individual")
        buy(position_of(account, vti), date(2026, 1, 5), "7", "700.00")
    Dividend.objects.create(
        security=vti, ex_date=EX_DATE, pay_date=PAY_DATE, amount_per_share=Decimal("0.25")
    )
    barrier = threading.Barrier(2)
    results: list = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(pay_due_dividends(today=PAY_DATE))
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    paid = [result for result in results if result]
    assert len(results) == 2 and len(paid) == 1
    assert list(paid[0].values()) == [Decimal("5.25")]
    assert LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] == 0
    assert LedgerEntry.objects.filter(kind="dividend").count() == 4


def test_the_daily_job_pays_todays_dividend_once_when_run_twice(holders):
    from trading.calendar import market_date
    from trading.tasks import pay_dividends

    today = market_date(timezone.now())
    Dividend.objects.filter(pk=holders["dividend"].pk).update(pay_date=today)
    first = pay_dividends.apply().get()
    second = pay_dividends.apply().get()
    assert first == {str(holders["dividend"].pk): "3.27"}
    assert second == {}
    assert cash(holders["alice"]) == Decimal("1.11")
    assert verify_books() == []
