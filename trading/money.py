"""Money, quantities and prices: field sizes defined once, rounding named once.

Everything here is plain Decimal arithmetic so that the pure money rules
(``pies/allocation.py``, ``trading/lots.py``) can use it without Django. The
model-field factories import Django lazily for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Decimal,
    localcontext,
)
from typing import Any

CENT = Decimal("0.01")
SHARE = Decimal("0.000001")  # fractional shares to 6 decimals
PRICE_TICK = Decimal("0.0001")  # prices to 4 decimals
ZERO = Decimal("0")
ONE_DOLLAR = Decimal("1.00")  # the minimum buy order (allocation.md)

# Field sizes: (max_digits, decimal_places).
MONEY_DIGITS = (18, 2)  # up to 9,999,999,999,999,999.99
QUANTITY_DIGITS = (20, 6)
PRICE_DIGITS = (18, 4)

MAX_DEPOSIT = Decimal("1000000.00")
MAX_MIN_CASH = Decimal("1000000000.00")  # an account setting, in the API and the web alike


def floor_cents(value: Decimal) -> Decimal:
    """Round down to whole cents (proceeds of a sell, amounts of a split)."""
    return value.quantize(CENT, rounding=ROUND_FLOOR)


def half_up_cents(value: Decimal) -> Decimal:
    """Round half-up to cents (the cost of a partly consumed lot, product.md)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def floor_shares(value: Decimal) -> Decimal:
    """Round down to 6 decimals (shares bought for an amount)."""
    return value.quantize(SHARE, rounding=ROUND_FLOOR)


def ceil_shares(value: Decimal) -> Decimal:
    """Round up to 6 decimals (shares sold to raise at least an amount)."""
    return value.quantize(SHARE, rounding=ROUND_CEILING)


def ceil_cents(value: Decimal) -> Decimal:
    """Round up to whole cents (what a broker charges for a fractional-cent buy)."""
    return value.quantize(CENT, rounding=ROUND_CEILING)


def quantize_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_TICK, rounding=ROUND_HALF_UP)


def floor_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_TICK, rounding=ROUND_FLOOR)


def ceil_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_TICK, rounding=ROUND_CEILING)


def limit_price(window_price: Decimal, max_slippage_bp: int) -> Decimal:
    """The price every sell is sized at and every net sell is limited to (allocation.md,
    Execution): floor4(w * (1 - b)), never below one tick (nor, then, above w)."""
    with localcontext() as context:
        context.prec = 60
        limit = floor_price(window_price * (10_000 - max_slippage_bp) / 10_000)
    return min(max(limit, PRICE_TICK), window_price)


# --- One valuation (allocation.md, Notation) ---------------------------------------------------


def sellable_value(value: Decimal) -> Decimal:
    """What a holding of exact value ``value`` (quantity x price) raises when sold: rounded down
    to cents. An account's total value is its cash plus these, everywhere."""
    return floor_cents(value)


def withdrawable(
    *, cash: Decimal, values: Iterable[Decimal], pending_withdrawals: Decimal = ZERO
) -> Decimal:
    """The one valuation a withdrawal is checked against, by the API, the forms, the intent
    services and the window's planner alike: cash plus each holding's exact ``values`` rounded
    down to cents, less the withdrawals already pending (pending deposits never count)."""
    sellable = sum((sellable_value(value) for value in values), ZERO)
    return max(cash + sellable - pending_withdrawals, ZERO)


# --- Reading numbers people type or send (api.md, Conventions) ---------------------------------
#
# One strict reading for every amount, target and price the API, the forms and the price files
# take: ASCII digits with an optional "." and at most the allowed decimals, no sign, exponent,
# underscore, separator, space or non-ASCII digit, at most 16 digits before the point. The web
# forms read the same way after a friendlier first step (a leading "$", thousands separators
# every three digits, surrounding whitespace).

MAX_INTEGER_DIGITS = 16
_DECIMAL_WORDS = {2: "two", 4: "four", 6: "six"}
_NON_FINITE = {"nan", "snan", "qnan", "inf", "infinity"}
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_EXAMPLES = {"amount": "100.00", "target": "33.33", "price": "412.1200"}
_WHITESPACE = " \t\n\r\f\v"


class NumberError(ValueError):
    """A number that is not in the accepted form; the message says what to type instead."""


def parse_decimal(
    raw: Any,
    *,
    decimals: int,
    noun: str = "amount",
    integer_digits: int = MAX_INTEGER_DIGITS,
    maximum: Decimal | None = None,
    negative: str = "",
    friendly: bool = False,
) -> Decimal:
    """The one strict reading of a non-negative decimal, or ``NumberError`` with a clear message.

    ``raw`` is text, an int or a Decimal (the API's JSON numbers, read as decimals: their text
    must have the same form). ``negative`` is the message for a minus sign ("-0" included).
    ``friendly`` (the web forms) also takes surrounding whitespace, one leading "$" and
    thousands separators placed every three digits.
    """
    article = "an" if noun[:1] in "aeiou" else "a"
    if isinstance(raw, bool) or raw is None:
        raise NumberError(f"Enter {article} {noun}.")
    if isinstance(raw, float):  # only Python callers: the JSON parser gives Decimals
        text = repr(raw)
    elif isinstance(raw, (str, int, Decimal)):
        text = str(raw)
    else:
        raise NumberError(f"Enter {article} {noun} as a string or a number.")
    text = text.strip(_WHITESPACE if friendly else " ")
    if friendly and text.startswith("$"):
        text = text[1:]
    if not text:
        raise NumberError(f"Enter {article} {noun}.")
    if len(text) > 100:
        raise NumberError(_too_large(noun, integer_digits, maximum, decimals))
    if friendly and "," in text:
        if not _GROUPED.fullmatch(text):
            raise NumberError(
                "Put thousands separators every three digits before the decimal point, "
                "like 1,000.50."
            )
        text = text.replace(",", "")
    problem = _problem(text, noun, negative)
    if problem:
        raise NumberError(problem)
    whole, _, fraction = text.partition(".")
    if len(fraction) > decimals:
        scope = "" if noun == "amount" else f" for {article} {noun}"
        raise NumberError(f"Use at most {_DECIMAL_WORDS.get(decimals, decimals)} decimals{scope}.")
    value = Decimal(text)
    if len(whole) > integer_digits or (maximum is not None and value > maximum):
        raise NumberError(_too_large(noun, integer_digits, maximum, decimals))
    return value


def _problem(text: str, noun: str, negative: str) -> str:
    """What is wrong with ``text`` as plain ASCII digits with an optional point, or ""."""
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        return ""
    if any(not ch.isascii() and (ch.isnumeric() or ch.isdigit()) for ch in text):
        return "Use the digits 0 to 9 only."
    if text.lstrip("+-").lower() in _NON_FINITE:
        return f"Enter a finite {noun}."
    if text.startswith("-"):
        return negative or f"Enter the {noun} without a sign."
    if text.startswith("+"):
        return f"Enter the {noun} without a '+' sign."
    if "e" in text.lower() and re.fullmatch(r"[0-9.]+[eE][+-]?[0-9]+", text):
        return f"Enter the {noun} as a plain number, without an exponent."
    if "_" in text:
        return f"Enter the {noun} without underscores."
    if "," in text:
        return f"Enter the {noun} without thousands separators."
    if "$" in text:
        return f"Enter the {noun} without a currency sign."
    if any(ch in _WHITESPACE for ch in text):
        return f"Enter the {noun} without spaces."
    if re.fullmatch(r"[0-9]+\.|\.[0-9]+", text):
        return "Put digits on both sides of the decimal point, like 5.00 or 0.50."
    return f"Enter the {noun} as a number, like {_EXAMPLES.get(noun, '100.00')}."


def _too_large(noun: str, integer_digits: int, maximum: Decimal | None, decimals: int) -> str:
    if maximum is not None:
        return f"Enter at most {maximum:,.{decimals}f}."
    return f"Enter the {noun} with at most {integer_digits} digits before the decimal point."


def parse_amount(
    raw: Any,
    *,
    maximum: Decimal | None = None,
    allow_zero: bool = False,
    friendly: bool = False,
) -> Decimal:
    """A money amount, exactly (two decimals at most), or ``NumberError``: above zero, or zero
    or more with ``allow_zero`` (a minimum cash)."""
    sign = "The amount must be zero or more." if allow_zero else ABOVE_ZERO
    value = parse_decimal(raw, decimals=2, maximum=maximum, negative=sign, friendly=friendly)
    if value == 0 and not allow_zero:
        raise NumberError(ABOVE_ZERO)
    return value.quantize(CENT)


ABOVE_ZERO = "Enter an amount greater than zero."
TARGET_RANGE = "A target is between 0 and 100."


def parse_target_bp(raw: Any, *, friendly: bool = False) -> int:
    """A target percentage ("33.33", or a JSON number of that form) as basis points."""
    value = parse_decimal(raw, decimals=2, noun="target", negative=TARGET_RANGE, friendly=friendly)
    if value > 100:
        raise NumberError(TARGET_RANGE)
    return int(value * 100)


def parse_price(raw: Any, *, friendly: bool = False) -> Decimal:
    """A price above zero with at most four decimals (and 14 digits before the point)."""
    message = "A price must be greater than zero."
    value = parse_decimal(
        raw,
        decimals=PRICE_DIGITS[1],
        noun="price",
        integer_digits=PRICE_DIGITS[0] - PRICE_DIGITS[1],
        negative=message,
        friendly=friendly,
    )
    if value == 0:
        raise NumberError(message)
    return value


def parse_per_share(raw: Any) -> Decimal:
    """A dividend per share: above zero, six decimals, eight digits before the point."""
    message = "Enter an amount per share greater than zero."
    value = parse_decimal(
        raw, decimals=6, integer_digits=8, noun="amount per share", negative=message
    )
    if value == 0:
        raise NumberError(message)
    return value


def parse_whole(raw: Any, *, digits: int = 18, noun: str = "number") -> int:
    """A whole number (an id, a year) from plain ASCII digits: ``str.isdigit`` also passes
    "²" and Arabic-Indic digits, which ``int`` then refuses or reads, so neither is used on user input."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        text = str(raw)
    elif isinstance(raw, str):
        text = raw.strip(" ")
    else:
        raise NumberError(f"Enter a whole {noun}.")
    if not re.fullmatch(r"[0-9]+", text):
        problem = _problem(text, noun, "")
        raise NumberError(problem if "0 to 9" in problem else f"Enter a whole {noun}.")
    if len(text.lstrip("0")) > digits:
        raise NumberError(f"Enter a {noun} with at most {digits} digits.")
    return int(text)


def money_field(**kwargs: Any) -> Any:
    from django.db import models

    return models.DecimalField(max_digits=MONEY_DIGITS[0], decimal_places=MONEY_DIGITS[1], **kwargs)


def quantity_field(**kwargs: Any) -> Any:
    from django.db import models

    return models.DecimalField(
        max_digits=QUANTITY_DIGITS[0], decimal_places=QUANTITY_DIGITS[1], **kwargs
    )


def price_field(**kwargs: Any) -> Any:
    from django.db import models

    return models.DecimalField(max_digits=PRICE_DIGITS[0], decimal_places=PRICE_DIGITS[1], **kwargs)
