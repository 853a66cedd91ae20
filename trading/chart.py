"""The value-and-contributions chart as SVG geometry: pure, in Decimal, no template logic.

The template (``trading/_performance.html``) draws what this returns: two polylines (value,
net contributions) in a fixed view box, horizontal grid lines with money labels at "nice"
steps, a few date labels, and the rows of the table that screen readers get instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import pairwise

from trading.returns import Point

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 30  # room for the money and date labels
MAX_DRAWN = 400  # points in a polyline: more than the pixels of a phone add nothing
MAX_TABLE_ROWS = 70  # beyond this, the table keeps each month's last close
TICKS = 4
_TENTH = Decimal("0.1")
_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


@dataclass(frozen=True)
class Tick:
    at: str  # a coordinate
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    bottom: int  # y of the plot's bottom edge
    value_line: str  # "x,y x,y ..."
    contributions_line: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    rows: list[Point]  # the table's rows


def _coordinate(value: Decimal) -> str:
    return str(value.quantize(_TENTH, rounding=ROUND_HALF_UP))


def nice_step(span: Decimal, ticks: int = TICKS) -> Decimal:
    """A step of 1, 2, 2.5 or 5 times a power of ten that cuts ``span`` in about ``ticks``."""
    raw = span / ticks
    if raw <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** raw.adjusted()
    for step in _STEPS:
        if step * magnitude >= raw:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - _STEPS ends at 10


def money_label(amount: Decimal) -> str:
    """Short axis labels ("$950", "$12.5k", "$1.25M"): they must fit a phone's width."""
    sign = "-" if amount < 0 else ""
    whole = abs(amount)
    for size, suffix in ((Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if whole >= size:
            unit = size if suffix == "M" else Decimal(1000)
            scaled = (whole / unit).quantize(Decimal("0.01")).normalize()
            return f"{sign}${scaled:f}{suffix}"
    if whole == whole.to_integral_value():
        return f"{sign}${whole:,.0f}"
    return f"{sign}${whole:,.2f}"


def date_label(day: date, span_days: int) -> str:
    return f"{day:%b} {day.day}" if span_days <= 100 else f"{day:%b %Y}"


def sample(points: Sequence[Point], limit: int) -> list[Point]:
    """At most about ``limit`` points, evenly, always keeping the first and the last."""
    if len(points) <= limit:
        return list(points)
    every = -(-len(points) // limit)
    kept = list(points[::every])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def table_rows(points: Sequence[Point]) -> list[Point]:
    """Every close for short ranges; else each month's last close (and the first)."""
    if len(points) <= MAX_TABLE_ROWS:
        return list(points)
    rows = [points[0]]
    for before, after in pairwise(points):
        month_ends = (before.day.year, before.day.month) != (after.day.year, after.day.month)
        if month_ends and before != rows[-1]:
            rows.append(before)
    if rows[-1] != points[-1]:
        rows.append(points[-1])
    return rows


def value_chart(points: Sequence[Point]) -> Chart | None:
    if not points:
        return None
    drawn = sample(points, MAX_DRAWN)
    amounts = [p.value for p in drawn] + [p.net_contributions for p in drawn]
    low, high = min(amounts), max(amounts)
    step = nice_step(high - low)
    bottom_value = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    top_value = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    if top_value == bottom_value:
        top_value = bottom_value + step
    plot_width = Decimal(WIDTH - LEFT - RIGHT)
    plot_height = Decimal(HEIGHT - TOP - BOTTOM)
    first, last = drawn[0].day, drawn[-1].day
    span = max((last - first).days, 1)

    def x(day: date) -> Decimal:
        if first == last:
            return LEFT + plot_width / 2
        return LEFT + plot_width * (day - first).days / span

    def y(amount: Decimal) -> Decimal:
        return TOP + plot_height * (top_value - amount) / (top_value - bottom_value)

    def line(values: list[tuple[date, Decimal]]) -> str:
        return " ".join(f"{_coordinate(x(day))},{_coordinate(y(amount))}" for day, amount in values)

    y_ticks = []
    level = bottom_value
    while level <= top_value:
        y_ticks.append(Tick(_coordinate(y(level)), money_label(level)))
        level += step
    label_count = min(len(drawn), 5)
    picks = sorted({i * (len(drawn) - 1) // max(label_count - 1, 1) for i in range(label_count)})
    x_ticks = [Tick(_coordinate(x(drawn[i].day)), date_label(drawn[i].day, span)) for i in picks]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        bottom=HEIGHT - BOTTOM,
        value_line=line([(p.day, p.value) for p in drawn]),
        contributions_line=line([(p.day, p.net_contributions) for p in drawn]),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        rows=table_rows(points),
    )
