"""When trade windows happen: NYSE trading days, the morning and afternoon sessions.

Holidays and early closes come from the ``exchange_calendars`` package (calendar "XNYS"), never
a hand-written list. Building that calendar takes about a second, so it is built once per
process, for a bounded range of dates, and boiled down to two frozensets of ``date``s: every
question after that is plain Python.

Weekends and holidays (product.md says two things; both hold). "A change on a weekend or holiday
waits for the next trading day's morning window" is about the market: ``next_window`` after a
Friday close is Monday's morning window. "A weekend change of an afternoon account waits for the
next trading day's afternoon window" is about accounts: an afternoon account (worth less than
25,000.00) does not trade in morning windows, so ``next_window_for`` skips them, except on an
early-close day, when the morning window is the only one and serves every account (an
account's value comes from ``trading.valuation.window_for_account``: this module reads no table).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

# The exchange's time zone (XNYS, New York): its one definition (settings has no copy; a test
# checks it against the exchange calendar's own).
MARKET_TZ = ZoneInfo("America/New_York")
MORNING = "morning"
AFTERNOON = "afternoon"
SESSION_TIMES = {MORNING: time(9, 30), AFTERNOON: time(15, 0)}
MARKET_CLOSE = time(16, 0)
# Accounts worth at least this much trade in both windows (product.md, Accounts): the one
# threshold, judged by ``trades_in`` here and by the window's freeze in SQL
# (``trading.window.freeze``, the ``eligible`` CTE), which is handed this value.
BOTH_WINDOWS_VALUE = Decimal("25000.00")
# The exchange calendar is built for this range only: wide enough for the app's lifetime
# and its tests, small enough to build quickly.
FIRST_DAY = date(2020, 1, 1)
LAST_DAY = date(2035, 12, 31)


class CalendarRangeError(ValueError):
    """A date outside the range the exchange calendar was built for."""


@dataclass(frozen=True, slots=True)
class WindowSlot:
    trade_date: date
    session: str  # "morning" | "afternoon"
    starts_at: datetime  # aware, New York time

    def as_dict(self) -> dict[str, str]:
        return {
            "trade_date": self.trade_date.isoformat(),
            "session": self.session,
            "starts_at": self.starts_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class _Days:
    trading: frozenset[date]
    early_closes: frozenset[date]


@functools.cache
def _days() -> _Days:
    import exchange_calendars  # slow import: only when a window time is first needed

    with warnings.catch_warnings():
        # pandas deprecation noise from inside exchange_calendars, not ours to fix.
        warnings.simplefilter("ignore")
        calendar = exchange_calendars.get_calendar(
            "XNYS", start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat()
        )
        trading = frozenset(ts.date() for ts in calendar.sessions)
        early = frozenset(ts.date() for ts in calendar.early_closes) & trading
    return _Days(trading=trading, early_closes=early)


def _check_range(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CalendarRangeError(
            f"{day} is outside the exchange calendar's range ({FIRST_DAY}..{LAST_DAY})."
        )


def market_now(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("Window times need an aware datetime.")
    return now.astimezone(MARKET_TZ)


def market_date(now: datetime) -> date:
    """The New York calendar date at ``now`` (what "today" means for windows and dividends)."""
    return market_now(now).date()


def is_trading_day(day: date) -> bool:
    _check_range(day)
    return day in _days().trading


def is_early_close(day: date) -> bool:
    _check_range(day)
    return day in _days().early_closes


def sessions_on(day: date) -> tuple[str, ...]:
    """The sessions of ``day``: none on a weekend or holiday, only morning on an early close."""
    if not is_trading_day(day):
        return ()
    if is_early_close(day):
        return (MORNING,)
    return (MORNING, AFTERNOON)


def close_of(day: date) -> datetime:
    """The NYSE close of ``day`` (16:00 New York time), as an aware datetime."""
    return datetime.combine(day, MARKET_CLOSE, tzinfo=MARKET_TZ)


def previous_close(now: datetime) -> datetime:
    """The close before the latest trading session that has opened: "today's change" is
    measured from it (on a weekend, Friday's change is shown)."""
    day = market_date(now)
    opened = is_trading_day(day) and now >= datetime.combine(
        day, SESSION_TIMES[MORNING], tzinfo=MARKET_TZ
    )
    if not opened:
        day -= timedelta(days=1)
        while not is_trading_day(day):
            day -= timedelta(days=1)
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return close_of(day)


def slot(day: date, session: str) -> WindowSlot:
    starts_at = datetime.combine(day, SESSION_TIMES[session], tzinfo=MARKET_TZ)
    return WindowSlot(trade_date=day, session=session, starts_at=starts_at)


def slots_on(day: date) -> list[WindowSlot]:
    return [slot(day, session) for session in sessions_on(day)]


def next_trading_day(day: date) -> date:
    """The first trading day strictly after ``day``."""
    candidate = day + timedelta(days=1)
    while not is_trading_day(candidate):
        candidate += timedelta(days=1)
    return candidate


def slots_after(now: datetime) -> Iterator[WindowSlot]:
    """Window slots starting strictly after ``now``, in time order (endless, until the range
    ends). A window takes intents created strictly before its start, so one starting exactly
    at ``now`` is already closed to a change made at ``now``."""
    moment = market_now(now)
    day = moment.date()
    for window in slots_on(day):
        if window.starts_at > moment:
            yield window
    while True:
        day = next_trading_day(day)
        yield from slots_on(day)


def next_window(now: datetime) -> WindowSlot:
    """The next window of the market (any account)."""
    return next(slots_after(now))


def serves_every_account(*, session: str, early_close: bool) -> bool:
    """Whether a window of ``session`` takes every account, whatever its preference and value:
    an ad-hoc window does, and so does the morning window of an early-close day (the only one)."""
    return session not in SESSION_TIMES or (session == MORNING and early_close)


def trades_in(*, session: str, early_close: bool, preference: str, value: Decimal) -> bool:
    """Whether an account with this window preference and value trades in ``session``: the
    both-windows rule. The window's freeze applies the same rule to every account at once, in
    SQL: ``serves_every_account``, else the preferred session or a value of at least
    ``BOTH_WINDOWS_VALUE`` (tests/trading/test_engine_sql.py holds the two together).
    """
    return (
        serves_every_account(session=session, early_close=early_close)
        or session == preference
        or value >= BOTH_WINDOWS_VALUE
    )


def next_window_for(*, now: datetime, preference: str, value: Decimal) -> WindowSlot:
    for window in slots_after(now):
        early = is_early_close(window.trade_date)
        if trades_in(session=window.session, early_close=early, preference=preference, value=value):
            return window
    raise CalendarRangeError("No window left in the exchange calendar's range.")  # pragma: no cover
