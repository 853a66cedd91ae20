"""Number formatting for the investor pages: each value is formatted once, here.

Money gets thousands separators and 2 decimals, quantities 6 decimals, percentages 2
decimals. Rounding for display is half-up (the stored values are already exact; computed
ones such as a value at a 4-decimal price are rounded only when shown).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template

from pies.donut import build_donut
from trading.calendar import MARKET_TZ

register = template.Library()

DASH = "\u2014"
MINUS = "\u2212"  # a real minus sign: it lines up with the digits, unlike a hyphen


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _fixed(value: Any, places: int, *, separators: bool) -> str | None:
    number = _decimal(value)
    if number is None:
        return None
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if number == 0:
        number = abs(number)  # never show "-0.00"
    text = f"{abs(number):,.{places}f}" if separators else f"{abs(number):.{places}f}"
    return (MINUS if number < 0 else "") + text


@register.filter
def money(value: Any) -> str:
    """``Decimal("-1234.5")`` -> ``"\u2212$1,234.50"`` (a minus sign, not a hyphen)."""
    text = _fixed(value, 2, separators=True)
    if text is None:
        return DASH
    return f"{MINUS}${text[1:]}" if text.startswith(MINUS) else f"${text}"


@register.filter
def signed_money(value: Any) -> str:
    """Money with an explicit sign for changes and gains: ``+$12.00``."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = money(number)
    return text if text.startswith(MINUS) or number.quantize(Decimal("0.01")) == 0 else f"+{text}"


@register.filter
def quantity(value: Any) -> str:
    text = _fixed(value, 6, separators=True)
    return DASH if text is None else text


@register.filter
def percent(value: Any) -> str:
    """A percentage given in percent units (``"33.3333"`` → ``"33.33%"``)."""
    text = _fixed(value, 2, separators=False)
    return DASH if text is None else f"{text}%"


@register.filter
def signed_percent(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return DASH
    text = percent(number)
    return text if text.startswith(MINUS) or text == "0.00%" else f"+{text}"


@register.filter
def price(value: Any) -> str:
    """Prices are stored to 4 decimals; show 2 unless the sub-cent digits matter."""
    number = _decimal(value)
    if number is None:
        return DASH
    if number == number.quantize(Decimal("0.01")):
        return money(number)
    text = _fixed(number, 4, separators=True) or DASH
    return f"{MINUS}${text[1:]}" if text.startswith(MINUS) else f"${text}"


@register.filter
def drift_class(value: Any) -> str:
    """CSS class for a drift in percentage points: ok within 1, warn within 5, else bad."""
    number = _decimal(value)
    if number is None:
        return "drift-none"
    size = abs(number)
    if size < 1:
        return "drift-ok"
    return "drift-warn" if size < 5 else "drift-bad"


@register.inclusion_tag("pies/_donut.html")
def donut(slices: Any, *, title: str = "Allocation", center: str = "") -> dict[str, Any]:
    """The server-rendered SVG donut of a pie: see ``pies.donut.build_donut``."""
    return {"donut": build_donut(slices), "title": title, "center": center}


@register.filter
def window_time(slot: Any) -> str:
    """A window slot (or an aware datetime) in the user's view: ``"Mon 09:30 ET"``."""
    if slot is None:
        return DASH
    starts_at = getattr(slot, "starts_at", slot)
    try:
        local = starts_at.astimezone(MARKET_TZ)
    except (AttributeError, ValueError):
        return DASH
    return f"{local:%a %H:%M} ET"


@register.filter
def window_date(slot: Any) -> str:
    starts_at = getattr(slot, "starts_at", slot)
    try:
        return f"{starts_at.astimezone(MARKET_TZ):%b} {starts_at.astimezone(MARKET_TZ).day}"
    except (AttributeError, ValueError):
        return ""


@register.simple_tag(takes_context=True)
def page_url(context: Any, param: str, number: int) -> str:
    """This page's query string with ``param`` set to ``number`` (the filters are kept)."""
    query = context["request"].GET.copy()
    query[param] = str(number)
    return "?" + query.urlencode()
