"""The snapshot statement (runs of days from the day before's snapshots) against the
definition: each day computed on its own from the whole ledger and every lot and disposal."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.performance.helpers import FRI, MON, ny
from tests.performance.test_snapshots import _accounts
from trading.calendar import MARKET_TZ, close_of
from trading.demo import seed_demo
from trading.models import USER_ACCOUNT_KINDS, LedgerKind, Snapshot
from trading.services import snapshots
from trading.services.snapshots import backfill_snapshots, take_snapshot

pytestmark = pytest.mark.django_db

# One day for every account, from the whole history (the statement the job ran before).
_DEFINITION = """
WITH accounts AS (
    SELECT a.id FROM trading_account a
    WHERE a.kind = ANY(%(kinds)s) AND (a.created_at AT TIME ZONE %(tz)s)::date <= %(day)s
),
entries AS (
    SELECT e.account_id, SUM(e.amount) AS cash,
           COALESCE(SUM(e.amount) FILTER (WHERE e.kind = ANY(%(flow_kinds)s)), 0) AS flows,
           COALESCE(SUM(e.amount) FILTER (WHERE e.kind = %(dividend_kind)s), 0) AS dividends
    FROM trading_ledgerentry e
    LEFT JOIN trading_tradewindow w ON w.id = e.window_id
    WHERE COALESCE(w.trade_date, (e.created_at AT TIME ZONE %(tz)s)::date) <= %(day)s
    GROUP BY e.account_id
),
held AS (
    SELECT p.account_id, p.security_id, SUM(moves.quantity) AS quantity
    FROM (
        SELECT l.position_id, l.quantity FROM trading_lot l WHERE l.acquired_on <= %(day)s
        UNION ALL
        SELECT l.position_id, -d.quantity
        FROM trading_disposal d JOIN trading_lot l ON l.id = d.lot_id
        WHERE d.sold_on <= %(day)s
    ) moves
    JOIN trading_position p ON p.id = moves.position_id
    GROUP BY p.id, p.account_id, p.security_id
    HAVING SUM(moves.quantity) > 0
),
invested AS (
    SELECT h.account_id, SUM(floor(h.quantity * lp.price * 100) / 100) AS value
    FROM held h
    JOIN LATERAL (
        SELECT pr.price FROM trading_price pr
        WHERE pr.security_id = h.security_id AND pr.at <= %(close)s
        ORDER BY pr.at DESC LIMIT 1
    ) lp ON TRUE
    GROUP BY h.account_id
)
SELECT a.id, %(day)s::date, COALESCE(e.cash, 0) + COALESCE(i.value, 0), COALESCE(e.cash, 0),
       COALESCE(e.flows, 0), COALESCE(e.dividends, 0)
FROM accounts a
LEFT JOIN entries e ON e.account_id = a.id
LEFT JOIN invested i ON i.account_id = a.id
"""


def defined(days: list[date]) -> set[tuple]:
    rows: set[tuple] = set()
    with connection.cursor() as cursor:
        for day in days:
            cursor.execute(
                _DEFINITION,
                {
                    "day": day,
                    "close": close_of(day),
                    "tz": str(MARKET_TZ),
                    "kinds": [str(kind) for kind in USER_ACCOUNT_KINDS],
                    "flow_kinds": [LedgerKind.DEPOSIT.value, LedgerKind.WITHDRAWAL.value],
                    "dividend_kind": LedgerKind.DIVIDEND.value,
                },
            )
            rows.update(cursor.fetchall())
    return rows


def stored() -> set[tuple]:
    return set(
        Snapshot.objects.values_list(
            "account_id", "day", "value", "cash", "net_contributions", "dividends"
        )
    )


@pytest.fixture
def demo_days() -> list[date]:
    """The demo's year (deposits, dividends, sells, FIFO withdrawals, a rebalance): its days."""
    seed_demo()
    return sorted(set(Snapshot.objects.values_list("day", flat=True)))


def test_the_backfill_in_runs_of_days_writes_each_day_as_defined(demo_days):
    assert len(demo_days) >= 250
    assert stored() == defined(demo_days)


def test_runs_that_start_from_the_day_before_write_the_same_days(demo_days):
    Snapshot.objects.all().delete()
    with mock.patch.object(snapshots, "BACKFILL_DAYS", 7):
        backfill_snapshots(first=demo_days[0], last=demo_days[-1], now=timezone.now())
    assert stored() == defined(demo_days)


def test_the_daily_job_carries_each_day_forward_from_the_day_before(demo_days):
    """The job takes one day at a time: from the day before's snapshots, never the whole
    history; a day whose day before has no snapshot is taken from the ledger."""
    Snapshot.objects.filter(day__gt=demo_days[-30]).delete()
    for day in demo_days[-29:]:
        take_snapshot(day=day)
    Snapshot.objects.filter(day=demo_days[-3]).delete()  # a gap: the ledger fills it
    take_snapshot(day=demo_days[-2])
    take_snapshot(day=demo_days[-1])
    assert stored() == defined([day for day in demo_days if day != demo_days[-3]])


def test_a_rewrite_with_the_same_books_changes_no_row(demo_days):
    assert backfill_snapshots(first=demo_days[0], last=demo_days[-1], now=timezone.now()) == 0
    assert take_snapshot(day=demo_days[-1]) == 0


def _backfill_statements() -> int:
    Snapshot.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    return len(queries)


def test_the_backfill_runs_the_same_statements_for_2_or_20_accounts(vti):
    with mock.patch.object(snapshots, "BACKFILL_DAYS", 2):  # three runs of days
        _accounts(2, vti, 0)
        two = _backfill_statements()
        _accounts(18, vti, 2)
        assert _backfill_statements() == two
    assert Snapshot.objects.filter(day=FRI).count() == 20
