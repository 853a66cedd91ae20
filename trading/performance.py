"""Reads for the performance chart and the dividend income of one account.

``account_performance``: the snapshots of a range (1M, 3M, YTD, 1Y, All) and its returns
(``trading.returns``), in one query; ``snapshots_digest``: a digest of everything it reads, in
one query, so that what is computed from it can be cached under it. ``dividend_income``:
dividends received by month, year and security, in one query.
"""

from __future__ import annotations

import calendar as months
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear

from trading.models import LedgerEntry, LedgerKind, Snapshot
from trading.money import ZERO
from trading.returns import Point, as_percent, returns

RANGES = ("1M", "3M", "YTD", "1Y", "ALL")
RANGE_LABELS = {"1M": "1M", "3M": "3M", "YTD": "YTD", "1Y": "1Y", "ALL": "All"}
DEFAULT_RANGE = "1Y"


def months_before(day: date, count: int) -> date:
    month = day.month - count
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, min(day.day, months.monthrange(year, month)[1]))


def range_start(key: str, today: date) -> date | None:
    """The day whose close a range starts from (None: the account's beginning)."""
    if key == "1M":
        return months_before(today, 1)
    if key == "3M":
        return months_before(today, 3)
    if key == "YTD":
        return date(today.year - 1, 12, 31)
    if key == "1Y":
        return months_before(today, 12)
    return None


@dataclass(frozen=True)
class Performance:
    range: str
    start: date | None
    end: date | None
    value_start: Decimal
    value_end: Decimal
    net_contributions: Decimal  # at the end of the range
    gain: Decimal  # over the range: the change in value less the range's flows
    twr: Decimal | None  # percentages with 2 decimals
    mwr: Decimal | None
    mwr_annualised: bool
    points: list[Point]  # the start point (when it is a snapshot) and every day after it

    @property
    def empty(self) -> bool:
        return not self.points


# Every column ``account_performance`` reads, of the rows it reads (the range's snapshots and
# the one it starts from): a range's result is a function of these rows and the day only.
_SNAPSHOTS_DIGEST = """
    SELECT md5(string_agg(day::text || ' ' || value::text || ' ' || net_contributions::text, ','
                          ORDER BY day))
    FROM trading_snapshot
    WHERE account_id = %(account)s AND day <= %(today)s
      AND day >= COALESCE((SELECT MAX(day) FROM trading_snapshot
                           WHERE account_id = %(account)s AND day <= %(start)s), '-infinity')
"""


def snapshots_digest(account_id: int, key: str, *, today: date) -> str:
    """A digest of the snapshots ``account_performance`` reads for the range ``key`` ("none"
    without any): it changes whenever one of them is written, rewritten or deleted."""
    start = range_start(key, today)
    with connection.cursor() as cursor:
        cursor.execute(_SNAPSHOTS_DIGEST, {"account": account_id, "today": today, "start": start})
        (digest,) = cursor.fetchone()
    return digest or "none"


def account_performance(account_id: int, key: str, *, today: date) -> Performance:
    """The range ``key`` of the account's snapshots up to ``today``, and its returns.

    The range starts at the last snapshot on or before its start day; when the account is
    younger than the range (or for All), from nothing the day before its first snapshot, so
    All's gain is the value less the net contributions.
    """
    if key not in RANGES:
        raise ValueError(f"unknown range {key!r}")
    target = range_start(key, today)
    snapshots = Snapshot.objects.filter(account_id=account_id, day__lte=today)
    if target is not None:
        base = (
            Snapshot.objects.filter(account_id=OuterRef("account_id"), day__lte=target)
            .order_by("-day")
            .values("day")[:1]
        )
        snapshots = snapshots.filter(day__gte=Coalesce(Subquery(base), date.min))
    found = [
        Point(day, value, contributions)
        for day, value, contributions in snapshots.order_by("day").values_list(
            "day", "value", "net_contributions"
        )
    ]
    if not found:
        return Performance(key, None, None, ZERO, ZERO, ZERO, ZERO, None, None, False, [])
    if target is not None and found[0].day <= target:
        start, after = found[0], found[1:]
    else:
        start, after = Point(found[0].day - timedelta(days=1), ZERO, ZERO), found
    result = returns(start, after)
    end = found[-1]
    return Performance(
        range=key,
        start=found[0].day,
        end=end.day,
        value_start=start.value,
        value_end=end.value,
        net_contributions=end.net_contributions,
        gain=result.gain,
        twr=as_percent(result.twr),
        mwr=as_percent(result.mwr),
        mwr_annualised=result.mwr_annualised,
        points=found,
    )


# --- dividend income -------------------------------------------------------------------------


@dataclass(frozen=True)
class DividendRow:
    year: int
    month: int
    symbol: str
    amount: Decimal

    @property
    def month_key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class DividendIncome:
    year: int | None
    years: list[int]  # every year with income, newest first
    rows: list[DividendRow]  # of ``year`` (or of every year), by month then symbol
    by_month: list[tuple[str, Decimal]]
    by_security: list[tuple[str, Decimal]]
    by_year: list[tuple[int, Decimal]]  # every year, newest first
    total: Decimal


def dividend_income(account_id: int, *, year: int | None = None) -> DividendIncome:
    """The dividends the account received, by pay date, in one query (every year's rows;
    the year's are picked here, so the totals by year come from the same read)."""
    every = [
        DividendRow(y, m, symbol, amount)
        for y, m, symbol, amount in LedgerEntry.objects.filter(
            account_id=account_id, kind=LedgerKind.DIVIDEND, dividend__isnull=False
        )
        .values_list(
            ExtractYear("dividend__pay_date"),
            ExtractMonth("dividend__pay_date"),
            "dividend__security__symbol",
        )
        .annotate(amount=Sum("amount"))
        .order_by(
            ExtractYear("dividend__pay_date"),
            ExtractMonth("dividend__pay_date"),
            "dividend__security__symbol",
        )
    ]
    by_year: dict[int, Decimal] = {}
    for row in every:
        by_year[row.year] = by_year.get(row.year, ZERO) + row.amount
    rows = [row for row in every if year is None or row.year == year]
    by_month: dict[str, Decimal] = {}
    by_security: dict[str, Decimal] = {}
    for row in rows:
        by_month[row.month_key] = by_month.get(row.month_key, ZERO) + row.amount
        by_security[row.symbol] = by_security.get(row.symbol, ZERO) + row.amount
    return DividendIncome(
        year=year,
        years=sorted(by_year, reverse=True),
        rows=rows,
        by_month=list(by_month.items()),
        by_security=sorted(by_security.items(), key=lambda item: (-item[1], item[0])),
        by_year=sorted(by_year.items(), reverse=True),
        total=sum((row.amount for row in rows), ZERO),
    )
