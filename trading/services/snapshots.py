"""The daily performance snapshots (product.md, Performance and income; performance.md, 4).

A snapshot of a trading day, for every investor account, is defined by the books alone:
- cash, net contributions and dividends are sums of the account's ledger entries through the
  day, each entry dated by the window that wrote it (its trade date: a deposit or withdrawal
  counts on the day its window credited or paid it) or else by the New York date it was
  written (dividends are paid early on their pay date);
- shares are the lots acquired through the day less the disposals through the day, valued
  at each security's latest price at or before 16:00 New York time that day (a price file's
  bare date means that close), each holding rounded down to cents like every other value.

One statement writes a run of days (one for the job, 63 for each step of the backfill) without
reading each account's whole history: the sums carry forward from the snapshots of the trading
day before the run (an account without one sums its own ledger), and the shares roll back from
the positions' shares now by the lots and disposals after each day (the books keep a position
equal to its open lots, and a lot to what is left plus its disposals). The daily job and the
backfill are the same code; tests hold it equal to the definition day by day.

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
# Days per backfill statement: the hashes of a statement grow with accounts x days.
BACKFILL_DAYS = 63
WORK_MEM = "256MB"

# The snapshots of a run of consecutive trading days (numbered n = 1..k), for every investor
# account, from the base day (the trading day before the first): what an account had then,
# and what changed on each day after it.
# days: the days taken, numbered, with their closes.
# dated: every date after the base day through the last day, with the number of the first day
#   taken on or after it (a change on a weekend or a holiday first counts on the next day).
# accounts: investor accounts open by the last day, with the number of the first day they are
#   open (1 when opened by the base day).
# bases: per account, its cash, contributions and dividends through the base day: the base
#   day's snapshot, or for an account without one, the sums of its entries through that day.
# flows: per account and day, its entries dated in it (by their window's trade date, or else
#   the New York date they were written): windows and entries after the base day, by index.
# ledger: per account and day, the running sums (base plus flows through that day).
# changes: per position with lots acquired or sold from after the base day, the shares it
#   gained per day taken (n = k + 1: after the last day).
# runs: per changed position, the runs of days between its changes (first_n..last_n) and the
#   shares it gained after each run (later); the first run, before its first change, gained
#   them all.
# closes: per security, its latest price at or before each day's 16:00 (prices[n]).
# holdings: per position and run of days, the shares held at each close of the run: its
#   shares now less what it gained later (a position without changes: every day, its shares).
# invested: per account and day, the holdings' sellable values in cents (each rounded down).
_SNAPSHOTS = f"""
WITH days AS (
    SELECT d.n::int AS n, d.day, d.close
    FROM unnest(%(days)s::date[], %(closes)s::timestamptz[]) WITH ORDINALITY AS d(day, close, n)
),
dated AS (
    SELECT g::date AS date, (SELECT min(d.n) FROM days d WHERE d.day >= g::date) AS n
    FROM generate_series(%(base)s::timestamp + interval '1 day', %(last)s::timestamp,
                         interval '1 day') g
),
accounts AS (
    SELECT a.id, COALESCE(dt.n, 1) AS first_n
    FROM trading_account a
    LEFT JOIN dated dt ON dt.date = (a.created_at AT TIME ZONE %(tz)s)::date
    WHERE a.kind = ANY(%(kinds)s) AND (a.created_at AT TIME ZONE %(tz)s)::date <= %(last)s
),
bases AS (
    SELECT a.id, COALESCE(s.cash, h.cash, 0) AS cash,
           COALESCE(s.net_contributions, h.contributions, 0) AS contributions,
           COALESCE(s.dividends, h.dividends, 0) AS dividends
    FROM accounts a
    LEFT JOIN trading_snapshot s ON s.account_id = a.id AND s.day = %(base)s
    LEFT JOIN LATERAL (
        SELECT SUM(e.amount) AS cash,
               SUM(e.amount) FILTER (WHERE e.kind = ANY(%(flow_kinds)s)) AS contributions,
               SUM(e.amount) FILTER (WHERE e.kind = %(dividend_kind)s) AS dividends
        FROM trading_ledgerentry e
        LEFT JOIN trading_tradewindow w ON w.id = e.window_id
        WHERE e.account_id = a.id AND s.id IS NULL
          AND COALESCE(w.trade_date, (e.created_at AT TIME ZONE %(tz)s)::date) <= %(base)s
    ) h ON TRUE
),
flows AS (
    SELECT e.account_id, dt.n, SUM(e.amount) AS cash,
           SUM(e.amount) FILTER (WHERE e.kind = ANY(%(flow_kinds)s)) AS contributions,
           SUM(e.amount) FILTER (WHERE e.kind = %(dividend_kind)s) AS dividends
    FROM (
        SELECT e.account_id, e.amount, e.kind, w.trade_date AS date
        FROM trading_tradewindow w JOIN trading_ledgerentry e ON e.window_id = w.id
        WHERE w.trade_date > %(base)s AND w.trade_date <= %(last)s
        UNION ALL
        SELECT e.account_id, e.amount, e.kind, (e.created_at AT TIME ZONE %(tz)s)::date
        FROM trading_ledgerentry e
        WHERE e.window_id IS NULL AND e.created_at >= %(after_base)s
          AND e.created_at < %(after_last)s
    ) e
    JOIN dated dt ON dt.date = e.date
    GROUP BY e.account_id, dt.n
),
ledger AS (
    SELECT b.id AS account_id, d.n,
           b.cash + COALESCE(SUM(f.cash) OVER running, 0) AS cash,
           b.contributions + COALESCE(SUM(f.contributions) OVER running, 0) AS contributions,
           b.dividends + COALESCE(SUM(f.dividends) OVER running, 0) AS dividends
    FROM bases b
    CROSS JOIN days d
    LEFT JOIN flows f ON f.account_id = b.id AND f.n = d.n
    WINDOW running AS (PARTITION BY b.id ORDER BY d.n)
),
changes AS (
    SELECT m.position_id, COALESCE(dt.n, %(after)s) AS n, SUM(m.quantity) AS quantity
    FROM (
        SELECT l.position_id, l.acquired_on AS date, l.quantity
        FROM trading_lot l WHERE l.acquired_on > %(base)s
        UNION ALL
        SELECT l.position_id, d.sold_on, -d.quantity
        FROM trading_disposal d JOIN trading_lot l ON l.id = d.lot_id
        WHERE d.sold_on > %(base)s
    ) m
    LEFT JOIN dated dt ON dt.date = m.date
    GROUP BY m.position_id, COALESCE(dt.n, %(after)s)
),
runs AS (
    SELECT c.position_id, c.n AS first_n, lead(c.n, 1, %(after)s) OVER run - 1 AS last_n,
           SUM(c.quantity) OVER every - SUM(c.quantity) OVER run AS later
    FROM changes c
    WINDOW run AS (PARTITION BY c.position_id ORDER BY c.n),
           every AS (PARTITION BY c.position_id)
    UNION ALL
    SELECT c.position_id, 1, MIN(c.n) - 1, SUM(c.quantity)
    FROM changes c GROUP BY c.position_id
),
closes AS MATERIALIZED (
    SELECT s.id AS security_id, array_agg(lp.price ORDER BY d.n) AS prices
    FROM trading_security s
    CROSS JOIN days d
    LEFT JOIN {latest_price_sql(security="s.id", at="d.close")} lp ON TRUE
    GROUP BY s.id
),
holdings AS (
    SELECT p.account_id, p.security_id, p.quantity - COALESCE(r.later, 0) AS quantity,
           COALESCE(r.first_n, 1) AS first_n, COALESCE(r.last_n, %(count)s) AS last_n
    FROM trading_position p
    LEFT JOIN runs r ON r.position_id = p.id
    WHERE p.quantity - COALESCE(r.later, 0) > 0
),
invested AS (
    SELECT h.account_id, d.n, SUM(floor(h.quantity * c.prices[d.n] * 100)::bigint) AS cents
    FROM holdings h
    JOIN closes c ON c.security_id = h.security_id
    JOIN days d ON d.n BETWEEN h.first_n AND h.last_n
    WHERE c.prices[d.n] IS NOT NULL
    GROUP BY h.account_id, d.n
)
INSERT INTO trading_snapshot
    (account_id, day, value, cash, net_contributions, dividends, taken_at)
SELECT a.id, d.day, l.cash + COALESCE(i.cents, 0) / 100, l.cash, l.contributions, l.dividends, %(now)s
FROM accounts a
JOIN ledger l ON l.account_id = a.id AND l.n >= a.first_n
JOIN days d ON d.n = l.n
LEFT JOIN invested i ON i.account_id = a.id AND i.n = l.n
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


def previous_trading_day(day: date) -> date:
    """The trading day before ``day`` (the day before it, before the calendar's range)."""
    before = day - timedelta(days=1)
    try:
        while not is_trading_day(before):
            before -= timedelta(days=1)
    except CalendarRangeError:
        return day - timedelta(days=1)
    return before


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=MARKET_TZ)


def take_snapshots(*, days: list[date], now: datetime | None = None) -> int:
    """Write (or rewrite) the snapshots of ``days`` (trading days, in order) of every investor
    account open by then, in one statement, from the snapshots of the trading day before the
    first (or the ledger, for an account without one) and the changes since. Returns the
    number of rows written or changed."""
    if not days:
        return 0
    base, last = previous_trading_day(days[0]), days[-1]
    with connection.cursor() as cursor:
        # The day series make the planner guess far too many rows: JIT would compile for
        # longer than the statement runs, and hashes would spill at the default work_mem.
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('work_mem', %s, true)",
            [WORK_MEM],
        )
        cursor.execute(
            _SNAPSHOTS,
            {
                "days": days,
                "closes": [close_of(day) for day in days],
                "count": len(days),
                "after": len(days) + 1,
                "base": base,
                "last": last,
                "after_base": _midnight(base + timedelta(days=1)),
                "after_last": _midnight(last + timedelta(days=1)),
                "tz": str(MARKET_TZ),
                "kinds": [str(kind) for kind in USER_ACCOUNT_KINDS],
                "flow_kinds": [LedgerKind.DEPOSIT.value, LedgerKind.WITHDRAWAL.value],
                "dividend_kind": LedgerKind.DIVIDEND.value,
                "now": now or timezone.now(),
            },
        )
        return cursor.rowcount


def take_snapshot(*, day: date, now: datetime | None = None) -> int:
    """Write (or rewrite) ``day``'s snapshot of every investor account open by then."""
    return take_snapshots(days=[day], now=now)


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
    closed by ``now``, from the ledger and the stored prices: one statement (and transaction)
    per ``BACKFILL_DAYS`` days, each starting from the snapshots the one before wrote. Returns
    the number of rows written or changed."""
    now = now or timezone.now()
    days = []
    day = first
    while day <= last:
        if is_trading_day(day) and session_close(day) <= now:
            days.append(day)
        day += timedelta(days=1)
    written = 0
    for start in range(0, len(days), BACKFILL_DAYS):
        chunk = days[start : start + BACKFILL_DAYS]
        with transaction.atomic():
            written += take_snapshots(days=chunk, now=now)
        if progress is not None:
            progress(start + len(chunk), len(days), chunk[-1])
    return written
