"""Lot methods: which open lots a sell consumes, and the realized gain of each portion.

Pure functions over plain data (product.md, "Lots, gains and taxes"). Ranking compares gain and
cost per share exactly (as fractions) at the window price, so equal ratios tie and fall back to
the tie-break: earlier acquisition, then lower lot id; a lot bought at exactly the price ranks
as a zero gain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction

from trading.money import ZERO, half_up_cents

METHODS = ("tax_min", "fifo", "lifo", "hifo")
SHORT = "short"
LONG = "long"


@dataclass(frozen=True, slots=True)
class OpenLot:
    id: int
    acquired_on: date
    remaining_quantity: Decimal
    remaining_cost: Decimal


@dataclass(frozen=True, slots=True)
class Consumption:
    lot_id: int
    acquired_on: date
    quantity: Decimal
    proceeds: Decimal
    cost: Decimal
    gain: Decimal
    term: str  # "short" | "long"


def term_of(acquired_on: date, sold_on: date) -> str:
    """Long-term when sold after the first anniversary of the acquisition; the anniversary of
    Feb 29 is Feb 28 (bought 2024-02-29: short on 2025-02-28, long from 2025-03-01)."""
    if acquired_on.month == 2 and acquired_on.day == 29:
        anniversary = date(acquired_on.year + 1, 2, 28)
    else:
        anniversary = acquired_on.replace(year=acquired_on.year + 1)
    return LONG if sold_on > anniversary else SHORT


def _cost_per_share(lot: OpenLot) -> Fraction:
    return Fraction(lot.remaining_cost) / Fraction(lot.remaining_quantity)


def _tax_min(lot: OpenLot, price: Fraction, sold_on: date) -> tuple:
    """Short losses (largest loss per share first), long losses (largest first), short zero,
    long zero, long gains (smallest first), short gains (smallest first)."""
    gain = price - _cost_per_share(lot)
    long = term_of(lot.acquired_on, sold_on) == LONG
    if gain < 0:
        group = 1 if long else 0
    elif gain == 0:
        group = 3 if long else 2
    else:
        group = 4 if long else 5
    return (group, gain, lot.acquired_on, lot.id)


def _fifo(lot: OpenLot, price: Fraction, sold_on: date) -> tuple:
    return (lot.acquired_on, lot.id)


def _lifo(lot: OpenLot, price: Fraction, sold_on: date) -> tuple:
    return (-lot.acquired_on.toordinal(), lot.id)


def _hifo(lot: OpenLot, price: Fraction, sold_on: date) -> tuple:
    return (-_cost_per_share(lot), lot.acquired_on, lot.id)


_ORDERS: dict[str, Callable[[OpenLot, Fraction, date], tuple]] = {
    "tax_min": _tax_min,
    "fifo": _fifo,
    "lifo": _lifo,
    "hifo": _hifo,
}


def order_lots(
    lots: Iterable[OpenLot], *, method: str, price: Decimal | Fraction, sold_on: date
) -> list[OpenLot]:
    """The open lots (remaining quantity > 0) in the order a sell at ``price`` consumes them.

    fifo: oldest first; lifo: newest first; hifo: highest cost per share first; tax_min: see
    ``_tax_min``. Ties: earlier acquisition, then lower lot id.
    """
    rank = _ORDERS.get(method)
    if rank is None:
        raise ValueError(f"Unknown lot method {method!r}; expected one of {', '.join(METHODS)}.")
    open_lots = [lot for lot in lots if lot.remaining_quantity > 0]
    if len(open_lots) < 2:
        return open_lots  # nothing to rank (and ranking builds Fractions: most sells are here)
    exact_price = Fraction(price)
    return sorted(open_lots, key=lambda lot: rank(lot, exact_price, sold_on))


def consume_lots(
    lots: Iterable[OpenLot],
    *,
    quantity: Decimal,
    proceeds: Decimal,
    price: Decimal,
    method: str,
    sold_on: date,
) -> list[Consumption]:
    """Consume ``quantity`` shares from the lots by ``method``, ranked at ``price`` (the window
    price, the same for every lot, as the tax preview ranks them: allocation.md, Execution),
    and split cost and the actual ``proceeds`` over the portions.

    A portion's cost is the lot's remaining cost * taken / remaining, rounded half-up to cents;
    a portion that empties its lot takes all its remaining cost. The proceeds split the same
    way over the portions (half-up of the proceeds not yet assigned * taken / the shares not yet
    placed), the last portion taking the rest, so they sum to ``proceeds`` exactly and none is
    negative. Raises ValueError when the lots hold less
    than ``quantity``.
    """
    if quantity <= 0:
        raise ValueError("A sell consumes a positive quantity.")
    ordered = order_lots(lots, method=method, price=price, sold_on=sold_on)
    held = sum((lot.remaining_quantity for lot in ordered), ZERO)
    if held < quantity:
        raise ValueError(f"Cannot sell {quantity} shares: the lots hold {held}.")
    consumptions = []
    remaining = iter(ordered)
    left = quantity
    proceeds_left = proceeds
    with localcontext() as context:
        context.prec = 60  # exact for any money * quantity product
        while left > 0:
            lot = next(remaining)
            taken = min(left, lot.remaining_quantity)
            left -= taken
            if taken == lot.remaining_quantity:
                cost = lot.remaining_cost
            else:
                cost = half_up_cents(lot.remaining_cost * taken / lot.remaining_quantity)
            # Like the cost: the proceeds still unassigned x taken / shares still to place,
            # so no portion can exceed what is left (none goes negative) and they sum exactly.
            portion = (
                half_up_cents(proceeds_left * taken / (taken + left)) if left else proceeds_left
            )
            proceeds_left -= portion
            consumptions.append(
                Consumption(
                    lot_id=lot.id,
                    acquired_on=lot.acquired_on,
                    quantity=taken,
                    proceeds=portion,
                    cost=cost,
                    gain=portion - cost,
                    term=term_of(lot.acquired_on, sold_on),
                )
            )
    return consumptions
