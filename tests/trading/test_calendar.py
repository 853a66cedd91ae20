from __future__ import annotations

import warnings
from datetime import date, datetime
from decimal import Decimal

import pytest

from trading.calendar import (
    AFTERNOON,
    FIRST_DAY,
    LAST_DAY,
    MARKET_TZ,
    MORNING,
    CalendarRangeError,
    is_early_close,
    is_trading_day,
    next_trading_day,
    next_window,
    next_window_for,
    sessions_on,
    trades_in,
)
from trading.valuation import window_for_account


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=MARKET_TZ)


def test_the_market_time_zone_is_new_york_as_in_the_exchange_calendar():
    import exchange_calendars

    assert MARKET_TZ.key == "America/New_York"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation noise from inside the package
        xnys = exchange_calendars.get_calendar(
            "XNYS", start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat()
        )
    assert str(xnys.tz) == MARKET_TZ.key


def test_thanksgiving_is_a_holiday_with_no_windows():
    assert not is_trading_day(date(2026, 11, 26))
    assert sessions_on(date(2026, 11, 26)) == ()


def test_the_day_after_thanksgiving_closes_early_and_has_only_the_morning_window():
    assert is_trading_day(date(2026, 11, 27))
    assert is_early_close(date(2026, 11, 27))
    assert sessions_on(date(2026, 11, 27)) == (MORNING,)


def test_an_ordinary_day_has_both_windows_at_09_30_and_15_00_new_york_time():
    assert sessions_on(date(2026, 11, 24)) == (MORNING, AFTERNOON)
    assert next_window(ny(2026, 11, 24, 8, 0)).starts_at == ny(2026, 11, 24, 9, 30)
    assert next_window(ny(2026, 11, 24, 10, 0)).starts_at == ny(2026, 11, 24, 15, 0)


def test_a_window_starting_exactly_now_is_already_closed_to_new_changes():
    window = next_window(ny(2026, 11, 24, 9, 30))
    assert (window.trade_date, window.session) == (date(2026, 11, 24), AFTERNOON)


def test_a_change_on_thanksgiving_waits_for_the_next_mornings_window():
    window = next_window(ny(2026, 11, 26, 12, 0))
    assert (window.trade_date, window.session) == (date(2026, 11, 27), MORNING)


def test_after_the_early_close_morning_the_next_window_is_the_next_trading_days_morning():
    window = next_window(ny(2026, 11, 27, 10, 0))
    assert (window.trade_date, window.session) == (date(2026, 11, 30), MORNING)
    assert next_trading_day(date(2026, 11, 27)) == date(2026, 11, 30)


def test_a_weekend_change_waits_for_mondays_morning_window():
    window = next_window(ny(2026, 11, 28, 12, 0))  # a Saturday
    assert window.starts_at == ny(2026, 11, 30, 9, 30)


def test_a_weekend_change_of_an_afternoon_account_waits_for_mondays_afternoon_window():
    window = next_window_for(
        now=ny(2026, 11, 28, 12, 0), preference=AFTERNOON, value=Decimal("100.00")
    )
    assert window.starts_at == ny(2026, 11, 30, 15, 0)


def test_an_afternoon_account_trades_in_the_morning_window_of_an_early_close_day():
    window = next_window_for(
        now=ny(2026, 11, 26, 12, 0), preference=AFTERNOON, value=Decimal("100.00")
    )
    assert window.starts_at == ny(2026, 11, 27, 9, 30)


def test_an_account_worth_25000_trades_in_both_windows():
    assert trades_in(
        session=MORNING, early_close=False, preference=AFTERNOON, value=Decimal("25000.00")
    )
    assert not trades_in(
        session=MORNING, early_close=False, preference=AFTERNOON, value=Decimal("24999.99")
    )
    window = next_window_for(
        now=ny(2026, 11, 24, 10, 0), preference=MORNING, value=Decimal("25000.00")
    )
    assert window.starts_at == ny(2026, 11, 24, 15, 0)


def test_a_morning_account_after_the_morning_window_waits_for_the_next_morning():
    window = next_window_for(
        now=ny(2026, 11, 24, 10, 0), preference=MORNING, value=Decimal("100.00")
    )
    assert window.starts_at == ny(2026, 11, 25, 9, 30)


def test_daylight_saving_time_keeps_the_windows_at_new_york_wall_time():
    summer = next_window(ny(2026, 7, 7, 8, 0)).starts_at
    winter = next_window(ny(2026, 12, 8, 8, 0)).starts_at
    assert summer.utcoffset() != winter.utcoffset()
    assert (summer.hour, summer.minute) == (winter.hour, winter.minute) == (9, 30)


def test_dates_outside_the_calendar_range_are_refused_clearly():
    with pytest.raises(CalendarRangeError):
        is_trading_day(date(2040, 1, 2))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        next_window(datetime(2026, 11, 24, 8, 0))


def test_the_window_of_an_account_depends_on_its_preference(alice_account):
    alice_account.window_preference = AFTERNOON
    window = window_for_account(alice_account, ny(2026, 11, 28, 12, 0))
    assert window.starts_at == ny(2026, 11, 30, 15, 0)
