"""The daily performance snapshots (product.md, Performance and income; performance.md, 4).

One set-based statement writes a trading day's snapshot for every investor account, from the
books alone, so the daily job and the backfill are the same code and a day can be rewritten
at any time with the same result:
- cash, net contributions and dividends are sums of the account's ledger entries through the
  day, each entry dated by the window that wrote it (its trade date: a deposit or withdrawal
  counts on the day its window credited or paid it) or else by the New York date it was
  written (dividends are paid early on their pay date);
- shares are the lots acquired through the day less the disposals through the day, valued
  at each security's latest price at or before 16:00 New York time that day (a price file's
  bare date means that close), each holding rounded down to cents like every other value.

The job (``take_due_snapshots``, from beat every minute) looks at the last few trading days
whose session has closed (13:00 on early-close days) and takes a day when its inputs changed:
a fingerprint of the closes and of the windows done that day, claimed with a conditional
upsert of ``trading_snapshotday`` in the same transaction as the snapshot, so a day is taken
once, again when its prices arrive late, and a crash leaves it to the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from trading.calendar import (
    MARKET_TZ,
    CalendarRangeError,
    close_of,
    is_early_close,
    is_trading_day,
    market_date,
)
from trading.models import USER_ACCOUNT_KINDS, LedgerKind, WindowStatus
from trading.valuation import latest_price_sql

EARLY_CLOSE = time(13, 0)
# Days looked at by each run of the job: late prices older than this need the backfill.
LOOKBACK_TRADING_DAYS = 5
# A claimed day whose transaction vanished would be rolled back with it; this only guards a
# claim that committed without its snapshot (it cannot, but the job must never stall).
RECLAIM_AFTER = timedelta(minutes=15)

# accounts: investor accounts open by the day.
# entries: per account, its ledger entries through the day (dated by their window's trade
#   date, else by when they were written): cash, net contributions, dividends.
# held: per position, the shares at the close (lots acquired less disposals, through the day).
# closes: each held security's latest price at or before the day's 16:00.
# invested: per account, the holdings' sellable values (each rounded down to cents).
_SNAPSHOT = f"""
WITH accounts AS (
    SELECT a.id FROM trading_account a
    WHERE a.kind = ANY(%(kinds)s)
      AND (a.created_at AT TIME ZONE %(tz)s)::date <= %(day)s
),
entries AS (
    SELECT e.account_id,
           SUM(e.amount) AS cash,
           COALESCE(SUM(e.amount) FILTER (WHERE e.kind = ANY(%(flow_kinds)s)), 0) AS contributions,
           COALESCE(SUM(e.amount) FILTER (WHERE e.kind = %(dividend_kind)s), 0) AS dividends
    FROM trading_ledgerentry e
    JOIN accounts a ON a.id = e.account_id
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
    JOIN accounts a ON a.id = p.account_id
    GROUP BY p.id, p.account_id, p.security_id
    HAVING SUM(moves.quantity) > 0
),
closes AS (
    SELECT s.security_id, lp.price
    FROM (SELECT DISTINCT security_id FROM held) s
    JOIN {latest_price_sql(security="s.security_id", at="%(close)s")} lp ON TRUE
),
invested AS (
    SELECT h.account_id, SUM(floor(h.quantity * c.price * 100) / 100) AS value
    FROM held h JOIN closes c ON c.security_id = h.security_id
    GROUP BY h.account_id
)
INSERT INTO trading_snapshot
    (account_id, day, value, cash, net_contributions, dividends, taken_at)
SELECT a.id, %(day)s,
       COALESCE(e.cash, 0) + COALESCE(i.value, 0),
       COALESCE(e.cash, 0),
       COALESCE(e.contributions, 0),
       COALESCE(e.dividends, 0),
       %(now)s
FROM accounts a
LEFT JOIN entries e ON e.account_id = a.id
LEFT JOIN invested i ON i.account_id = a.id
ON CONFLICT (account_id, day) DO UPDATE
SET value = EXCLUDED.value, cash = EXCLUDED.cash,
    net_contributions = EXCLUDED.net_contributions, dividends = EXCLUDED.dividends,
    taken_at = EXCLUDED.taken_at
WHERE (trading_snapshot.value, trading_snapshot.cash, trading_snapshot.net_contributions,
       trading_snapshot.dividends)
      IS DISTINCT FROM
      (EXCLUDED.value, EXCLUDED.cash, EXCLUDED.net_contributions, EXCLUDED.dividends)
"""

# Per candidate day: a digest of every security's close (what the values are computed from)
# and the number of windows done that day (an ad-hoc window after the close changes cash).
_FINGERPRINTS = f"""
SELECT d.day,
       md5(COALESCE((
           SELECT string_agg(s.id || ':' || lp.price || '@' || lp.at, ',' ORDER BY s.id)
           FROM trading_security s
           JOIN {latest_price_sql(security="s.id", at="d.close")} lp ON TRUE
       ), ''))
       || ':' || (
           SELECT COUNT(*) FROM trading_tradewindow w
           WHERE w.trade_date = d.day AND w.status = %(done)s
       )
FROM unnest(%(days)s::date[], %(closes)s::timestamptz[]) AS d(day, close)
ORDER BY d.day
"""

# The claim: a day whose inputs changed (or never taken, or a stale claim) is (re)requested;
# the row lock it takes makes a concurrent run wait, then find nothing left to do.
_CLAIM = """
INSERT INTO trading_snapshotday (day, fingerprint, requested_at, taken_at, accounts)
VALUES (%(day)s, %(fingerprint)s, %(now)s, NULL, 0)
ON CONFLICT (day) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, requested_at = EXCLUDED.requested_at, taken_at = NULL
WHERE trading_snapshotday.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint
   OR (trading_snapshotday.taken_at IS NULL
       AND trading_snapshotday.requested_at < %(stale)s)
RETURNING day
"""

_TAKEN = """
UPDATE trading_snapshotday SET taken_at = %(now)s, accounts = %(accounts)s WHERE day = %(day)s
"""


def session_close(day: date) -> datetime:
    """When ``day``'s session ends: 16:00 New York time, 13:00 on an early close."""
    if is_early_close(day):
        return datetime.combine(day, EARLY_CLOSE, tzinfo=MARKET_TZ)
    return close_of(day)


def take_snapshot(*, day: date, now: datetime | None = None) -> int:
    """Write (or rewrite) ``day``'s snapshot of every investor account open by then, in one
    statement. Returns the number of rows written or changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SNAPSHOT,
            {
                "day": day,
                "close": close_of(day),
                "tz": str(MARKET_TZ),
                "kinds": [str(kind) for kind in USER_ACCOUNT_KINDS],
                "flow_kinds": [LedgerKind.DEPOSIT.value, LedgerKind.WITHDRAWAL.value],
                "dividend_kind": LedgerKind.DIVIDEND.value,
                "now": now or timezone.now(),
            },
        )
        return cursor.rowcount


def closed_days(now: datetime, count: int = LOOKBACK_TRADING_DAYS) -> list[date]:
    """The last ``count`` trading days whose session has closed by ``now``, oldest first."""
    found: list[date] = []
    day = market_date(now)
    try:
        while len(found) < count:
            if is_trading_day(day) and session_close(day) <= now:
                found.append(day)
            day -= timedelta(days=1)
    except CalendarRangeError:
        pass  # before the calendar's first day: nothing older to take
    return found[::-1]


def take_due_snapshots(*, now: datetime | None = None) -> dict[date, int]:
    """Take the snapshots of the recent closed days whose inputs changed since they were
    taken (see the module docstring). Returns {day: rows written}: empty when nothing was due.
    A fixed number of statements per day taken, whatever the number of accounts."""
    now = now or timezone.now()
    days = closed_days(now)
    if not days:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            _FINGERPRINTS,
            {
                "days": days,
                "closes": [close_of(day) for day in days],
                "done": WindowStatus.DONE.value,
            },
        )
        fingerprints = cursor.fetchall()
    taken: dict[date, int] = {}
    for day, fingerprint in fingerprints:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _CLAIM,
                {"day": day, "fingerprint": fingerprint, "now": now, "stale": now - RECLAIM_AFTER},
            )
            if cursor.fetchone() is None:
                continue
            written = take_snapshot(day=day, now=now)
            cursor.execute(_TAKEN, {"day": day, "now": now, "accounts": written})
            taken[day] = written
    return taken


def backfill_snapshots(
    *,
    first: date,
    last: date,
    now: datetime | None = None,
    progress: Callable[[int, int, date], None] | None = None,
) -> int:
    """Rebuild the snapshots of every trading day from ``first`` to ``last`` whose session has
    closed by ``now``, from the ledger and the stored prices, one statement per day (each its own transaction). Returns the
    number of rows written or changed."""
    now = now or timezone.now()
    days = []
    day = first
    while day <= last:
        if is_trading_day(day) and session_close(day) <= now:
            days.append(day)
        day += timedelta(days=1)
    written = 0
    for done, day in enumerate(days, start=1):
        with transaction.atomic():
            written += take_snapshot(day=day, now=now)
        if progress is not None:
            progress(done, len(days), day)
    return written
