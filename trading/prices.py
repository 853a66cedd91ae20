"""Importing prices from CSV (`symbol,at,price`): validate every row, then upsert set-based.

A file either imports whole or not at all: a price file is usually one day's (or one
history's) closes, and half of it would leave the window engine pricing some securities at
today's close and others at yesterday's without anyone noticing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, cast

from django.db import connection, transaction
from django.utils import timezone

from trading import money
from trading.calendar import MARKET_TZ, CalendarRangeError, close_of, is_trading_day, market_date
from trading.models import Security

HEADER = ("symbol", "at", "price")
MAX_ERRORS = 200  # past this, more messages help nobody; the file needs fixing anyway
MAX_WARNINGS = 20
FUTURE = "a price cannot be dated in the future"
BATCH_SIZE = 5000

_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class PriceRow:
    line: int
    symbol: str
    security_id: int
    at: datetime
    price: Decimal


def parse_at(raw: str) -> datetime:
    """A bare date is that day's close; a datetime without an offset is New York time."""
    text = raw.strip()
    if not text.isascii():
        raise ValueError(f"bad time {raw!r}: use ASCII digits")
    if _DATE_ONLY.fullmatch(text):
        return close_of(date.fromisoformat(text))
    value = datetime.fromisoformat(text.replace(" ", "T", 1))
    if value.tzinfo is None:
        # Price files come from market data in exchange time, not from our UTC storage.
        value = value.replace(tzinfo=MARKET_TZ)
    return value


def parse_price(raw: str) -> Decimal:
    """A price cell, read like every price (``trading.money.parse_price``): "1e3", "NaN",
    "-5", "1,234.00" and non-ASCII digits are all mistakes in a price file."""
    try:
        return money.parse_price(raw)
    except ValueError as error:
        raise ValueError(f"bad number {raw!r}: {error}") from None


def _lines(source: str | bytes | IO[str] | IO[bytes]) -> Iterable[str]:
    if isinstance(source, bytes):
        source = source.decode("utf-8-sig")
    if isinstance(source, str):
        return io.StringIO(source.lstrip("\ufeff"), newline="")
    # A file object says whether it is binary only by what it reads.
    if isinstance(source.read(0), bytes):
        return io.TextIOWrapper(cast("IO[bytes]", source), encoding="utf-8-sig", newline="")
    return cast("IO[str]", source)


def non_trading_day_warnings(rows: Iterable[PriceRow]) -> list[str]:
    """Prices dated (in New York) on a day the NYSE is closed: imported, but flagged, since a
    close on a Saturday or a holiday is usually a shifted date in the source."""
    flagged: list[str] = []
    for row in rows:
        day = market_date(row.at)
        try:
            closed = not is_trading_day(day)
        except CalendarRangeError:
            closed = False  # outside the calendar's years: nothing to compare with
        if closed:
            flagged.append(f"line {row.line}: {row.symbol} on {day}")
    if not flagged:
        return []
    more = len(flagged) - MAX_WARNINGS
    shown = "; ".join(flagged[:MAX_WARNINGS]) + (f"; and {more} more" if more > 0 else "")
    return [
        f"{len(flagged)} price(s) dated on a day the NYSE is closed (a weekend or a holiday), "
        f"imported anyway; check the dates: {shown}"
    ]


def parse_price_csv(
    source: str | bytes | IO[str] | IO[bytes], *, now: datetime | None = None
) -> tuple[list[PriceRow], list[str]]:
    """Parse and validate a whole price file. Returns (rows, errors); rows are only usable
    when errors is empty. Errors name their line (the header is line 1). A price dated after
    ``now`` (default: now) is an error: it would become the latest price before its time."""
    now = now or timezone.now()
    errors: list[str] = []
    raw_rows: list[tuple[int, str, str, str]] = []
    try:
        reader = csv.reader(_lines(source))
        header = next(reader, None)
        if header is None:
            return [], ["line 1: the file is empty (expected the header symbol,at,price)"]
        if tuple(cell.strip().lower() for cell in header) != HEADER:
            return [], [f"line 1: expected the header symbol,at,price, got {','.join(header)!r}"]
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != 3:
                errors.append(
                    f"line {line}: expected 3 columns (symbol,at,price), got {len(cells)}"
                )
                continue
            raw_rows.append((line, cells[0].strip().upper(), cells[1], cells[2]))
    except (UnicodeDecodeError, csv.Error) as exc:
        return [], [*errors, f"the file is not readable CSV text: {exc}"]

    symbols = {symbol for _, symbol, _, _ in raw_rows}
    ids = dict(Security.objects.filter(symbol__in=symbols).values_list("symbol", "id"))

    rows: list[PriceRow] = []
    seen: dict[tuple[int, datetime], int] = {}
    for line, symbol, raw_at, raw_price in raw_rows:
        problems: list[str] = []
        security_id = ids.get(symbol)
        if security_id is None:
            problems.append(f"unknown symbol {symbol!r}" if symbol else "missing symbol")
        try:
            at = parse_at(raw_at)
        except ValueError:
            at = None
            problems.append(f"bad date {raw_at.strip()!r} (use YYYY-MM-DD or an ISO datetime)")
        if at is not None and at > now:
            problems.append(f"{FUTURE} ({raw_at.strip()})")
        try:
            price = parse_price(raw_price)
        except ValueError as exc:
            price = None
            problems.append(str(exc))
        if security_id is not None and at is not None:
            key = (security_id, at)
            if key in seen:
                problems.append(f"duplicate of line {seen[key]} ({symbol} at {raw_at.strip()})")
            else:
                seen[key] = line
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
        elif len(errors) == 0:
            assert security_id is not None and at is not None and price is not None
            rows.append(PriceRow(line, symbol, security_id, at, price))
        if len(errors) >= MAX_ERRORS:
            errors.append(f"stopped after {MAX_ERRORS} errors")
            break
    if errors:
        return [], errors
    return rows, []


_UPSERT = """
INSERT INTO trading_price (security_id, at, price)
SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::numeric[])
ON CONFLICT (security_id, at) DO UPDATE SET price = EXCLUDED.price
WHERE trading_price.price IS DISTINCT FROM EXCLUDED.price
"""


@transaction.atomic
def import_prices(
    rows: list[PriceRow],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Upsert validated rows on (security, at), in batches, in one transaction.

    Returns the number of rows in the file (re-importing the same file is a no-op that
    still counts them: the count says what the prices now are, not what changed).
    """
    total = len(rows)
    with connection.cursor() as cursor:
        for start in range(0, total, batch_size):
            batch = rows[start : start + batch_size]
            cursor.execute(
                _UPSERT,
                [
                    [row.security_id for row in batch],
                    [row.at for row in batch],
                    [row.price for row in batch],
                ],
            )
            if progress is not None:
                progress(min(start + batch_size, total), total)
    return total
