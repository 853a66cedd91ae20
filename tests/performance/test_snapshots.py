"""The daily snapshot job and the backfill (product.md, Performance and income)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pies.services import open_account
from tests.performance.helpers import FRI, MON, THU, TUE, WED, close_price, ny
from tests.trading.engine_helpers import plain_user
from trading.books import verify_books
from trading.calendar import close_of
from trading.models import (
    Account,
    AccountKind,
    Lot,
    Position,
    Security,
    Snapshot,
    SnapshotDay,
)
from trading.services.snapshots import (
    backfill_snapshots,
    closed_days,
    take_due_snapshots,
)
from trading.valuation import account_value

pytestmark = pytest.mark.django_db

D = Decimal


def rows(account: Account) -> list[tuple]:
    return list(
        Snapshot.objects.filter(account=account)
        .order_by("day")
        .values_list("day", "value", "cash", "net_contributions")
    )


def test_the_backfill_values_each_close_from_the_ledger_and_the_lots(history):
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    assert rows(history) == [
        (MON, D("0.00"), D("0.00"), D("0.00")),
        (TUE, D("1100.00"), D("0.00"), D("1000.00")),
        (WED, D("990.00"), D("0.00"), D("1000.00")),
        (THU, D("500.00"), D("0.00"), D("505.00")),
        (FRI, D("510.00"), D("0.00"), D("505.00")),
    ]
    assert verify_books() == []


def test_a_snapshot_is_the_value_the_app_shows_at_that_close(history):
    backfill_snapshots(first=FRI, last=FRI, now=ny(FRI, 17))
    snapshot = Snapshot.objects.get(account=history, day=FRI)
    assert snapshot.value == account_value(account=history, at=close_of(FRI))


def test_the_backfill_leaves_out_days_not_closed_yet_and_accounts_not_open_yet(history):
    later = open_account(user=plain_user("bob"), kind=AccountKind.INDIVIDUAL)
    Account.objects.filter(pk=later.pk).update(created_at=ny(THU, 12))
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 15, 59))
    assert [day for day, *_ in rows(history)] == [MON, TUE, WED, THU]
    assert [day for day, *_ in rows(later)] == [THU]


def test_running_the_backfill_again_changes_nothing(history):
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    before = rows(history)
    assert backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 18)) == 0
    assert rows(history) == before


def test_the_job_takes_each_closed_day_once_and_again_when_its_prices_change(history, vti):
    taken = take_due_snapshots(now=ny(FRI, 17))
    assert list(taken) == [date(2026, 2, 27), MON, TUE, WED, THU, FRI][-5:]
    assert take_due_snapshots(now=ny(FRI, 17, 1)) == {}
    close_price(vti, FRI, "104.00")  # a corrected close arrives late
    assert take_due_snapshots(now=ny(FRI, 18)) == {FRI: 1}
    assert Snapshot.objects.get(account=history, day=FRI).value == D("520.00")
    assert SnapshotDay.objects.get(day=FRI).taken_at == ny(FRI, 18)


def test_the_job_waits_for_the_close_and_knows_early_closes():
    assert closed_days(ny(FRI, 15, 59))[-1] == THU
    assert closed_days(ny(FRI, 16, 0))[-1] == FRI
    day_after_thanksgiving = date(2026, 11, 27)  # closes at 13:00
    assert closed_days(ny(day_after_thanksgiving, 13, 0))[-1] == day_after_thanksgiving
    assert closed_days(ny(day_after_thanksgiving, 12, 59))[-1] == date(2026, 11, 25)


def _accounts(count: int, security: Security, start: int) -> None:
    for i in range(start, start + count):
        account = open_account(user=plain_user(f"investor{i}"), kind=AccountKind.INDIVIDUAL)
        Account.objects.filter(pk=account.pk).update(created_at=ny(MON, 8), cash=D("5.00"))
        with connection.cursor() as cursor:  # written on Monday (created_at is automatic)
            cursor.execute(
                "INSERT INTO trading_ledgerentry (account_id, amount, kind, reference, created_at)"
                " VALUES (%s, 5.00, 'deposit', 't', %s)",
                [account.pk, ny(MON, 12)],
            )
        position = Position.objects.create(account=account, security=security, quantity=D("2"))
        Lot.objects.create(
            position=position,
            acquired_on=MON,
            quantity=D("2"),
            remaining_quantity=D("2"),
            cost_basis=D("200.00"),
            remaining_cost=D("200.00"),
        )


def _statements_of_the_job() -> int:
    SnapshotDay.objects.all().delete()
    Snapshot.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        taken = take_due_snapshots(now=ny(FRI, 17))
    assert len(taken) == 5
    return len(queries)


def test_the_job_runs_the_same_statements_for_2_or_20_accounts(vti):
    _accounts(2, vti, 0)
    two = _statements_of_the_job()
    _accounts(18, vti, 2)
    twenty = _statements_of_the_job()
    assert two == twenty
    assert Snapshot.objects.filter(day=WED).count() == 20
    assert set(Snapshot.objects.filter(day=WED).values_list("value", flat=True)) == {D("203.00")}


def test_the_backfill_command_draws_a_progress_bar_on_stderr(history):
    out, err = StringIO(), StringIO()
    call_command(
        "backfill_snapshots", "--from", "2026-03-02", "--to", "2026-03-06", stdout=out, stderr=err
    )
    assert Snapshot.objects.filter(account=history).count() == 5
    assert err.getvalue().endswith("] 100% 5/5 2026-03-06\n")
    assert "\r[" in err.getvalue() and "from 2026-03-02 to 2026-03-06" in out.getvalue()


def test_the_backfill_command_refuses_a_bad_date():
    with pytest.raises(CommandError, match="expected a date"):
        call_command("backfill_snapshots", "--from", "March", stdout=StringIO())
