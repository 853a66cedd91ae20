"""Returns over a range of daily snapshots: total gain, time-weighted and money-weighted.

Pure functions over plain data (no ORM), in Decimal (product.md, Performance and income).

A range is a start point and the daily points after it; each point is an account's value at a
close and its net contributions (deposits less withdrawals) through that day. The flow of a
day is the change in net contributions since the previous point: deposits and withdrawals
are dated to the window that credited or paid them, and dividends are income, not flows.

- **Gain**: (value_end - value_start) - (the range's flows).
- **Time-weighted return**: chained daily, each day's flow at the start of that day (a window
  trades at 09:30 or 15:00 at the window's price, so new money takes that day's move):
  ``r_d = V_d / (V_{d-1} + F_d) - 1``. A day without money at work (``V_{d-1} + F_d <= 0``,
  e.g. after a withdrawal of everything) adds nothing. Not annualised.
- **Money-weighted return**: the daily rate g - 1 at which the start value and the flows,
  compounded daily to the end, equal the end value:
  ``V_0 g^T + sum(F_k g^(T - t_k)) = V_T`` (t in calendar days from the start), solved by
  bisection (from the first flow when the range starts with nothing). Reported over the range (g^T - 1), or annualised (g^365 - 1) when the range is
  longer than a year.
Both are None when undefined: no money at work over the whole range (no value at the start
and no flows), or no rate that solves the equation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

ZERO = Decimal("0")
ONE = Decimal("1")
DAYS_PER_YEAR = 365
PERCENT = Decimal("0.01")
# Bisection on the daily growth factor stops when the bracket is this narrow: far below what
# a percentage with 2 decimals can show, over any range the calendar allows.
_TOLERANCE = Decimal("1e-24")
_MAX_STEPS = 200
_PRECISION = 40


@dataclass(frozen=True, slots=True)
class Point:
    day: date
    value: Decimal
    net_contributions: Decimal


@dataclass(frozen=True, slots=True)
class Returns:
    gain: Decimal
    twr: Decimal | None  # a fraction: 0.1234 is 12.34 %
    mwr: Decimal | None
    mwr_annualised: bool


def flows(start: Point, points: Sequence[Point]) -> list[tuple[date, Decimal]]:
    """Each point's flow: the change in net contributions since the point before it."""
    found = []
    previous = start
    for point in points:
        flow = point.net_contributions - previous.net_contributions
        if flow:
            found.append((point.day, flow))
        previous = point
    return found


def gain(start: Point, points: Sequence[Point]) -> Decimal:
    if not points:
        return ZERO
    end = points[-1]
    return (end.value - start.value) - (end.net_contributions - start.net_contributions)


def time_weighted_return(start: Point, points: Sequence[Point]) -> Decimal | None:
    with localcontext() as context:
        context.prec = _PRECISION
        growth = ONE
        at_work = False
        previous = start
        for point in points:
            invested = previous.value + (point.net_contributions - previous.net_contributions)
            if invested > 0:
                growth *= point.value / invested
                at_work = True
            previous = point
        return growth - ONE if at_work else None


def money_weighted_return(start: Point, points: Sequence[Point]) -> tuple[Decimal | None, bool]:
    """The rate and whether it is annualised (ranges longer than a year)."""
    if not points:
        return None, False
    end = points[-1]
    dated = flows(start, points)
    # Money is at work from the start, or from the first flow when the range starts empty
    # (a new account): days before it would compound nothing.
    origin = start.day if start.value or not dated else dated[0][0]
    horizon = (end.day - origin).days
    if horizon <= 0:
        return None, False
    annualised = horizon > DAYS_PER_YEAR
    # Cash in (start value, deposits) is positive, what comes out (withdrawals, the end
    # value) negative: future value at the end date, as a function of the daily factor g.
    terms = [(horizon, start.value)] + [
        (horizon - (day - origin).days, flow) for day, flow in dated
    ]
    if not any(amount > 0 for _, amount in terms):
        return None, annualised

    with localcontext() as context:
        context.prec = _PRECISION

        def future_value(g: Decimal) -> Decimal:
            total = sum((amount * (g**power if power else ONE) for power, amount in terms), ZERO)
            return total - end.value

        low, high = ZERO, Decimal(2)
        f_low = future_value(low)
        f_high = future_value(high)
        steps = 0
        while f_low * f_high > 0 and steps < 64:
            # Over a day or two a value can more than double: widen the bracket.
            high *= 2
            f_high = future_value(high)
            steps += 1
        if f_low * f_high > 0:
            return None, annualised
        if f_low == 0:
            high = low
        for _ in range(_MAX_STEPS):
            if high - low <= _TOLERANCE:
                break
            middle = (low + high) / 2
            f_middle = future_value(middle)
            if f_middle == 0:
                low = high = middle
                break
            if (f_middle > 0) == (f_low > 0):
                low, f_low = middle, f_middle
            else:
                high = middle
        g = (low + high) / 2
        power = DAYS_PER_YEAR if annualised else horizon
        return g**power - ONE, annualised


def returns(start: Point, points: Sequence[Point]) -> Returns:
    mwr, annualised = money_weighted_return(start, points)
    return Returns(
        gain=gain(start, points),
        twr=time_weighted_return(start, points),
        mwr=mwr,
        mwr_annualised=annualised,
    )


def as_percent(rate: Decimal | None) -> Decimal | None:
    """A fraction as a percentage with 2 decimals, half up (0.123456 -> 12.35)."""
    if rate is None:
        return None
    return (rate * 100).quantize(PERCENT, rounding=ROUND_HALF_UP)
