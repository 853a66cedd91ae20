"""When a recurring deposit falls (product.md, Recurring deposits): pure date rules, no ORM.

Weekly and biweekly schedules fall on the start date's weekday, biweekly counted from the start
date; monthly ones on their day of the month (1..28, so every month has it). Occurrences are
New York calendar dates; a weekend or holiday occurrence is still dated on its own day, and its
deposit goes to the next trading day's window (``trading.calendar``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

WEEKLY = "weekly"
BIWEEKLY = "biweekly"
MONTHLY = "monthly"
STEP_DAYS = {WEEKLY: 7, BIWEEKLY: 14}
MAX_DAY = 28


def _first_month_day(on_or_after: date, day: int) -> date:
    candidate = on_or_after.replace(day=day)
    if candidate >= on_or_after:
        return candidate
    return _add_month(candidate)


def _add_month(day: date) -> date:
    # Only called with day-of-month <= 28, so every month has it.
    if day.month == 12:
        return day.replace(year=day.year + 1, month=1)
    return day.replace(month=day.month + 1)


def first_on_or_after(*, frequency: str, day: int | None, start: date, on_or_after: date) -> date:
    """The schedule's first occurrence on or after ``on_or_after`` (never before ``start``)."""
    lower = max(start, on_or_after)
    if frequency == MONTHLY:
        if day is None or not 1 <= day <= MAX_DAY:
            raise ValueError("A monthly schedule needs a day from 1 to 28.")
        return _first_month_day(lower, day)
    step = STEP_DAYS[frequency]
    periods = -(-(lower - start).days // step)  # ceiling division
    return start + timedelta(days=periods * step)


def occurrences(
    *, frequency: str, day: int | None, start: date, end: date | None, first: date, through: date
) -> Iterator[date]:
    """The occurrences from ``first`` (itself an occurrence, or a lower bound) through
    ``through``, never after ``end``."""
    current = first_on_or_after(frequency=frequency, day=day, start=start, on_or_after=first)
    last = through if end is None else min(through, end)
    while current <= last:
        yield current
        if frequency == MONTHLY:
            current = _add_month(current)
        else:
            current += timedelta(days=STEP_DAYS[frequency])


def next_after(
    *, frequency: str, day: int | None, start: date, end: date | None, after: date
) -> date | None:
    """The first occurrence strictly after ``after``, or None once ``end`` has passed."""
    found = first_on_or_after(
        frequency=frequency, day=day, start=start, on_or_after=after + timedelta(days=1)
    )
    return None if end is not None and found > end else found
