"""Returns against cases computed by hand (the arithmetic is in each test's comment)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.returns import Point, as_percent, returns, time_weighted_return

D = Decimal
START = date(2025, 1, 1)
MID = date(2025, 7, 2)  # 182 days after START
END = date(2025, 12, 31)  # 364 days after START: half the range is exactly 182 days


def p(day: date, value: str, contributions: str) -> Point:
    return Point(day, D(value), D(contributions))


def test_a_deposit_mid_period():
    # 10,000 grows 20 % to 12,000 by the day before MID; 5,000 is deposited at MID's window,
    # the day ends at 17,000 (no move), and the year ends at 17,600.
    # TWR = 1.2 x 17,600 / 17,000 - 1 = 24.2353 %.
    # MWR: 10,000 x^2 + 5,000 x = 17,600 with x = g^182 gives x = 1.1, so g^364 - 1 = 21 %.
    # Gain = 17,600 - 10,000 - 5,000 = 2,600.
    start = p(START, "10000", "10000")
    points = [
        p(MID - timedelta(days=1), "12000", "10000"),
        p(MID, "17000", "15000"),
        p(END, "17600", "15000"),
    ]
    result = returns(start, points)
    assert result.gain == D("2600")
    assert as_percent(result.twr) == D("24.24")
    assert as_percent(result.mwr) == D("21.00")
    assert result.mwr_annualised is False


def test_a_withdrawal():
    # 10,000 grows to 12,000; 1,000 is withdrawn at MID (11,000 left, no move that day), and
    # the year ends flat at 11,000. TWR = 1.2 x 1.0 - 1 = 20 %.
    # MWR: 10,000 x^2 - 1,000 x = 11,000 gives x = 1.1 (12,100 - 1,100), so 21 %.
    # Gain = 11,000 - 10,000 + 1,000 = 2,000.
    start = p(START, "10000", "10000")
    points = [
        p(MID - timedelta(days=1), "12000", "10000"),
        p(MID, "11000", "9000"),
        p(END, "11000", "9000"),
    ]
    result = returns(start, points)
    assert result.gain == D("2000")
    assert as_percent(result.twr) == D("20.00")
    assert as_percent(result.mwr) == D("21.00")


def test_a_loss_year_with_a_deposit():
    # 10,000 falls 10 % to 9,000; 2,000 is deposited (11,000), which falls 10 % to 9,900.
    # TWR = 0.9 x 0.9 - 1 = -19 %.
    # MWR: 10,000 x^2 + 2,000 x = 9,900: x = (-2,000 + sqrt(4e6 + 396e6)) / 20,000 = 0.9,
    # so x^2 - 1 = -19 %. Gain = 9,900 - 10,000 - 2,000 = -2,100.
    start = p(START, "10000", "10000")
    points = [
        p(MID - timedelta(days=1), "9000", "10000"),
        p(MID, "11000", "12000"),
        p(END, "9900", "12000"),
    ]
    result = returns(start, points)
    assert result.gain == D("-2100")
    assert as_percent(result.twr) == D("-19.00")
    assert as_percent(result.mwr) == D("-19.00")


def test_a_range_over_a_year_annualises_the_money_weighted_return_only():
    # 10,000 to 12,100 in 730 days without flows: g^730 = 1.21, so g^365 = 1.1: 10 % a year;
    # the time-weighted return is the range's, 21 %.
    start = p(date(2024, 1, 1), "10000", "10000")
    points = [p(date(2024, 1, 1) + timedelta(days=730), "12100", "10000")]
    result = returns(start, points)
    assert as_percent(result.twr) == D("21.00")
    assert as_percent(result.mwr) == D("10.00")
    assert result.mwr_annualised is True


def test_a_first_deposit_from_nothing_counts_the_day_it_was_invested():
    # Nothing at the start; 1,000 deposited on day 1 ends the day at 1,010; day 2 at 1,030.2.
    # TWR = 1.01 x 1.02 - 1 = 3.02 %. MWR: money is at work from the deposit's day, so
    # 1,000 g^(2-1) = 1,030.2: 3.02 % (not g^2, which would compound the empty first day).
    start = p(date(2025, 3, 2), "0", "0")
    points = [p(date(2025, 3, 3), "1010", "1000"), p(date(2025, 3, 4), "1030.20", "1000")]
    result = returns(start, points)
    assert as_percent(result.twr) == D("3.02")
    assert as_percent(result.mwr) == D("3.02")
    assert result.gain == D("30.20")


def test_returns_are_undefined_without_money_at_the_start_or_flows():
    start = p(START, "0", "0")
    result = returns(start, [p(MID, "0", "0"), p(END, "0", "0")])
    assert result.twr is None and result.mwr is None and result.gain == 0


def test_a_withdrawal_of_everything_leaves_no_day_without_money_at_work_counted():
    # 1,000 grows 10 %; everything (1,100) is withdrawn the next day: that day has nothing at
    # work and adds nothing, so the TWR stays 10 %.
    start = p(START, "1000", "1000")
    points = [
        p(START + timedelta(days=1), "1100", "1000"),
        p(START + timedelta(days=2), "0", "-100"),
    ]
    assert as_percent(time_weighted_return(start, points)) == D("10.00")


@given(
    st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=29),
)
def test_days_without_flows_can_be_left_out_of_the_time_weighted_return(moves, keep_every):
    # Chaining telescopes between flows: the same return from every point or from some.
    value = D("1000")
    start = p(START, "1000", "1000")
    points = []
    for i, bp in enumerate(moves):
        value = (value * (10000 + bp) / 10000).quantize(D("0.01"))
        points.append(Point(START + timedelta(days=i + 1), value, D("1000")))
    sparse = points[keep_every - 1 :: keep_every]
    if not sparse or sparse[-1] != points[-1]:
        sparse.append(points[-1])
    assert as_percent(time_weighted_return(start, points)) == as_percent(
        time_weighted_return(start, sparse)
    )
