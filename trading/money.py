"""Money, quantities and prices: field sizes defined once, rounding named once.

Everything here is plain Decimal arithmetic so that the pure money rules
(``pies/allocation.py``, ``trading/lots.py``) can use it without Django. The
model-field factories import Django lazily for the same reason.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast

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


def quantize_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_TICK, rounding=ROUND_HALF_UP)


def parse_amount(raw: Any, *, maximum: Decimal | None = None) -> Decimal:
    """Parse a user-supplied money amount exactly, or raise ValueError with a clear message.

    Accepts strings and numbers (ints, and floats only through their repr, never their
    binary value); rejects NaN, infinities, exponents, more than two decimals, zero and
    negative amounts, and anything above ``maximum``.
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError("Enter an amount.")
    text = str(raw).strip()
    if not text:
        raise ValueError("Enter an amount.")
    if len(text) > 40:
        raise ValueError("Enter a valid amount.")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError("Enter a valid amount.") from None
    if not value.is_finite():
        raise ValueError("Enter a finite amount.")
    if "e" in text.lower():
        raise ValueError("Enter the amount as a plain number, without an exponent.")
    if cast(int, value.as_tuple().exponent) < -2:  # an int: the value is finite
        raise ValueError("Use at most two decimals.")
    if value <= 0:
        raise ValueError("Enter an amount greater than zero.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Enter at most {maximum:,.2f}.")
    return value.quantize(CENT)


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
