# A verbatim copy of pies/allocation.py as it was before the integer-cents kernel (issue 15),
# kept unchanged as the oracle of tests/pies/test_allocation_differential.py. Do not edit it.

"""The money rules of allocation.md: how cash is split among the slices of a pie.

Pure functions over plain data (no ORM, no Django): the window engine builds a tree of
``Node``s from the database, calls ``allocate_buy``, ``allocate_sell`` or ``rebalance``, and
turns the cent amounts per leaf into orders.

Arithmetic. Decimal money, no floats, in a local 60-digit context (never the global one).
Inside one pie, amounts are counted in cents and a level's split is a set of fractions over one
common denominator (the funded weights), so flooring to cents and comparing the remainders are
exact (``divmod``). A pie node caches its value (the sum of its leaves, added in the caller's
context: exact below 28 digits) when it is built, so a buy or a sell only visits the pies that
trade: O(k log k) per visited pie of k children.

Conventions:
- ``target_bp`` are basis points of the parent; each pie's children are expected to sum to
  10,000 (the water-fill itself only needs them to be non-negative).
- Amounts are cents. An ``amount`` with sub-cent digits is floored to cents.
- rho and the level L in explanations are shown as *implied pie values*: rho = v / (w / 10,000),
  the value the child's pie would need for the child to be on target; L the same after the trade.
- Sells work on *sellable values*: each leaf's value floored to cents (a sub-pie's is the sum of
  its leaves'). So a leaf is never asked for more than ``floor_cents(value)``, and an amount
  equal to that means "sell the whole position" (allocation.md, Selling 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Generic, TypeVar

from trading.money import ONE_DOLLAR, ZERO, floor_cents, half_up_cents

RULES = ("deposit", "dividend", "auto_invest", "removal", "withdrawal", "rebalance")
_PRECISION = 60  # digits: enough for any money * basis-point product we form
_BP = 10_000


@dataclass(frozen=True, slots=True)
class Node:
    """A slice in the tree. A leaf (security) has is_pie False; a sub-pie has children."""

    key: str  # leaf path like "Bonds/BND"; sub-pie path like "Bonds"; the root ""
    target_bp: int  # basis points of its parent (0..10000); root: 10000
    value: Decimal = ZERO  # market value of a leaf; for a pie, set to the sum of its leaves
    children: tuple[Node, ...] = ()
    is_pie: bool = False
    ref: object = None  # an opaque id for the caller (a Slice pk, a position id)
    # Computed: whole cents that can be sold (each leaf's value floored to cents, summed).
    sellable_cents: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A pie's value and sellable cents are sums over its children, computed once, here.
        if self.is_pie:
            object.__setattr__(self, "value", sum((c.value for c in self.children), ZERO))
            sellable = sum(c.sellable_cents for c in self.children)
        else:
            sellable = int(self.value.scaleb(2))  # int() truncates: the floor of a value >= 0
        object.__setattr__(self, "sellable_cents", sellable)


def pie(key: str, target_bp: int, children: Iterable[Node], *, ref: object = None) -> Node:
    return Node(key, target_bp, ZERO, tuple(children), True, ref)


def leaf(key: str, target_bp: int, value: Decimal | str | int, *, ref: object = None) -> Node:
    return Node(key, target_bp, Decimal(value), (), False, ref)


@dataclass(frozen=True)
class Explanation:
    """Why a leaf got its amount (allocation.md, Explanations)."""

    rule: str
    rho_before: Decimal | None  # the leaf's rho in its own pie, before the trade
    level: Decimal | None  # the level L reached in the leaf's pie
    dropped: tuple[str, ...]  # children dropped by the minimum order, in its pie and ancestors
    steps: tuple[dict, ...]  # one per level from the root down

    def as_dict(self) -> dict:
        """JSON-safe (Decimals as strings), for a JSONField and for display."""
        return {
            "rule": self.rule,
            "rho_before": None if self.rho_before is None else str(self.rho_before),
            "level": None if self.level is None else str(self.level),
            "dropped": list(self.dropped),
            "steps": [dict(step) for step in self.steps],
        }


@dataclass(frozen=True)
class Allocation:
    amounts: dict[str, Decimal]  # leaf key -> cents, non-zero entries only, in tree order
    explanations: dict[str, Explanation]  # same keys

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


@dataclass(frozen=True)
class Rebalance:
    targets: dict[str, Decimal]  # every leaf key -> target value (cents, floored)
    orders: dict[str, Decimal]  # signed: + buy, - sell; only |difference| >= 1.00
    explanations: dict[str, Explanation]  # same keys as orders


def pie_value(node: Node) -> Decimal:
    """A sub-pie's value is the sum of its leaves' values (allocation.md, Notation)."""
    return node.value


def _to_cents(amount: Decimal) -> int:
    return int(floor_cents(Decimal(amount)).scaleb(2))


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _implied(cents: Decimal | int, weight: int) -> Decimal:
    """A level or a rho (cents per basis point) as an implied pie value, rounded to cents."""
    return half_up_cents(Decimal(cents * _BP) / (weight * 100))


def _sort_key_factor(weights: list[int]) -> int:
    # Distinct ratios v/w with w <= m differ by at least 1/m², so floor(v·m²/w) orders them
    # exactly with integers (ties in rho do not change the water-fill's result).
    m = max(weights, default=0)
    return m * m


# --- Rounding (allocation.md, Buying 2) -----------------------------------------------------


def _round_parts(
    indices: list[int], numerators: Sequence[Decimal | int], denominator: int, total: int
) -> list[int]:
    """Floor numerator/denominator to cents; the leftover cents go one each to the largest
    remainders, ties to the earlier slice. The parts sum to ``total`` exactly."""
    parts = []
    remainders = []
    for numerator in numerators:
        part, remainder = divmod(numerator, denominator)
        parts.append(int(part))
        remainders.append(remainder)
    leftover = total - sum(parts)
    if leftover:
        ranked = sorted(range(len(parts)), key=lambda p: (-remainders[p], indices[p]))
        for p in ranked[:leftover]:
            parts[p] += 1
    return parts


# --- One level (allocation.md, Buying 1-3 and Selling 1-2) -----------------------------------
# Values and amounts are in cents: Decimal for buys (exact values), int for sells (sellable).
_Cents = Decimal | int
_C = TypeVar("_C", Decimal, int)  # one walk is all Decimal (buys) or all int (sells)


@dataclass(slots=True)
class _Level:
    parts: dict[int, int]  # child index -> cents, non-zero only
    top: _Cents  # the level is top / weight cents per basis point
    weight: int  # 0 when no level was reached (nothing bought, or only removing slices sold)
    dropped: list[int]  # child indices dropped by the minimum order


def _fill_up(weights: list[int], values: list[Decimal], cents: int, minimum: int) -> _Level:
    """Water-fill ``cents`` over the children with w > 0, lowest rho first; round to cents; drop
    the smallest buy under the minimum (ties: the later slice) and redo, until none is left."""
    active = [i for i, w in enumerate(weights) if w]
    # Decimal division at 60 digits orders any two distinct money/basis-point ratios exactly.
    order = sorted(active, key=lambda i: values[i] / weights[i])
    dropped: list[int] = []
    while order:
        n = len(order)
        total_w = k = 0
        total_v: _Cents = 0
        while True:  # walk the prefix sums until the level stays under the next rho
            i = order[k]
            total_w += weights[i]
            total_v += values[i]
            k += 1
            if k == n:
                break
            j = order[k]
            if (cents + total_v) * weights[j] <= values[j] * total_w:
                break
        top = cents + total_v
        funded = order[:k]
        numerators = [weights[i] * top - values[i] * total_w for i in funded]
        parts = _round_parts(funded, numerators, total_w, cents)
        small = [(part, -i) for part, i in zip(parts, funded, strict=True) if 0 < part < minimum]
        if not small:
            nonzero = {i: p for i, p in zip(funded, parts, strict=True) if p}
            return _Level(nonzero, top, total_w, dropped)
        loser = -min(small)[1]
        order.remove(loser)
        dropped.append(loser)
    return _Level({}, 0, 0, dropped)


def _fill_down(weights: list[int], values: list[int], cents: int) -> _Level:
    """Removing children first (in full, or in proportion to their values if ``cents`` is
    smaller), then the mirror water-fill: trim the highest rho first down to a common level
    L >= 0. ``cents`` is at most the sum of ``values``."""
    removing = [i for i, w in enumerate(weights) if not w and values[i]]
    held = sum(values[i] for i in removing)
    if cents <= held:
        numerators = [values[i] * cents for i in removing]
        shares = _round_parts(removing, numerators, held, cents)
        return _Level({i: p for i, p in zip(removing, shares, strict=True) if p}, 0, 0, [])
    parts = {i: values[i] for i in removing}
    rest = cents - held
    active = [i for i, w in enumerate(weights) if w and values[i]]
    factor = _sort_key_factor(weights)
    order = sorted(active, key=lambda i: values[i] * factor // weights[i], reverse=True)
    n = len(order)
    total_w = total_v = k = 0
    while True:  # walk the prefix sums until the level stays above the next rho
        i = order[k]
        total_w += weights[i]
        total_v += values[i]
        k += 1
        if k == n:
            break
        j = order[k]
        if (total_v - rest) * weights[j] >= values[j] * total_w:
            break
    top = total_v - rest
    funded = order[:k]
    numerators = [values[i] * total_w - weights[i] * top for i in funded]
    for i, part in zip(funded, _round_parts(funded, numerators, total_w, rest), strict=True):
        if part:
            parts[i] = part
    return _Level(parts, top, total_w, [])


# --- Walking the tree -----------------------------------------------------------------------


class _Walk(Generic[_C]):
    """Splits an amount level by level from the root down (allocation.md, Buying 4 and
    Selling 3) and collects the leaves' amounts and explanations."""

    def __init__(
        self,
        rule: str,
        value_of: Callable[[Node], _C],
        split: Callable[[list[int], list[_C], int], _Level],
    ) -> None:
        self.rule = rule
        self.value_of: Callable[[Node], _C] = value_of
        self.split: Callable[[list[int], list[_C], int], _Level] = split
        self.amounts: dict[str, Decimal] = {}
        self.explanations: dict[str, Explanation] = {}

    def run(
        self, node: Node, cents: int, dropped: tuple[str, ...], steps: tuple[dict, ...]
    ) -> None:
        kids: tuple[Node, ...] = node.children
        values = [self.value_of(kid) for kid in kids]
        level: _Level = self.split([kid.target_bp for kid in kids], values, cents)
        if level.dropped:
            dropped = (*dropped, *(kids[i].key for i in sorted(level.dropped)))
        implied = _implied(level.top, level.weight) if level.weight else None
        implied_text = None if implied is None else str(implied)
        for i in sorted(level.parts):
            child = kids[i]
            amount = _money(level.parts[i])
            rho = _implied(values[i], child.target_bp) if child.target_bp else None
            step = {
                "pie": node.key,
                "child": child.key,
                "amount": str(amount),
                "rho_before": None if rho is None else str(rho),
                "level": implied_text,
            }
            if child.is_pie:
                self.run(child, level.parts[i], dropped, (*steps, step))
            else:
                self.amounts[child.key] = amount
                self.explanations[child.key] = Explanation(
                    self.rule, rho, implied, dropped, (*steps, step)
                )

    def result(self) -> Allocation:
        return Allocation(self.amounts, self.explanations)


def _cents_of(node: Node) -> Decimal:
    return node.value.scaleb(2)


def _sellable_of(node: Node) -> int:
    return node.sellable_cents


def allocate_buy(
    root: Node, amount: Decimal, *, rule: str = "deposit", minimum: Decimal = ONE_DOLLAR
) -> Allocation:
    """Buying (allocation.md 1-4): water-fill, round to cents, minimum order, recurse.

    Any amount >= ``minimum`` into a pie with a slice of target > 0 is invested in full to the
    cent; an amount under it buys nothing. Slices with target 0 are never bought.
    """
    with localcontext() as context:
        context.prec = _PRECISION
        floor_minimum = _to_cents(minimum)

        def split(weights: list[int], values: list[Decimal], cents: int) -> _Level:
            return _fill_up(weights, values, cents, floor_minimum)

        walk = _Walk(rule, _cents_of, split)
        cents = _to_cents(amount)
        if cents > 0:
            walk.run(root, cents, (), ())
        return walk.result()


def allocate_sell(root: Node, amount: Decimal, *, rule: str = "withdrawal") -> Allocation:
    """Selling (allocation.md 1-3): removing slices first, then the mirror water-fill, recurse.

    No minimum order. Works on sellable values (each leaf's value floored to cents): an amount at
    or above the pie's sellable value sells every leaf in full (each its sellable value, so the
    total can then be below ``amount``); otherwise the parts sum to ``amount`` exactly.
    """
    with localcontext() as context:
        context.prec = _PRECISION
        cents = min(_to_cents(amount), root.sellable_cents)
        walk = _Walk(rule, _sellable_of, _fill_down)
        if cents > 0:
            walk.run(root, cents, (), ())
        return walk.result()


def rebalance(root: Node, *, extra_cash: Decimal = ZERO) -> Rebalance:
    """Rebalancing (allocation.md): V = value of ``root`` + ``extra_cash``; each leaf's target is
    V * the product of the target fractions from ``root`` down, floored to cents. A leaf at least
    1.00 below target is bought up to it (the difference floored to cents); one at least 1.00
    above is sold down to it (its sellable value minus the target). Smaller differences are left
    alone. ``root`` may be a sub-pie; keys are still the leaves' full paths.
    """
    with localcontext() as context:
        context.prec = _PRECISION
        total = pie_value(root) + extra_cash
        targets: dict[str, Decimal] = {}
        orders: dict[str, Decimal] = {}
        explanations: dict[str, Explanation] = {}

        def walk(node: Node, share: Decimal, steps: tuple[dict, ...]) -> None:
            level = half_up_cents(total * share)
            for child in node.children:
                child_share = share * child.target_bp / _BP
                child_value = pie_value(child)
                rho = (
                    half_up_cents(child_value * _BP / child.target_bp) if child.target_bp else None
                )
                step = {
                    "pie": node.key,
                    "child": child.key,
                    "amount": str(half_up_cents(total * child_share - child_value)),
                    "rho_before": None if rho is None else str(rho),
                    "level": str(level),
                }
                if child.is_pie:
                    walk(child, child_share, (*steps, step))
                    continue
                target = floor_cents(total * child_share)
                targets[child.key] = target
                difference = target - child.value
                if difference >= ONE_DOLLAR:
                    order = floor_cents(difference)
                elif difference <= -ONE_DOLLAR:
                    order = target - floor_cents(child.value)
                else:
                    continue
                orders[child.key] = order
                step["amount"] = str(order)
                explanations[child.key] = Explanation("rebalance", rho, level, (), (*steps, step))

        walk(root, Decimal(1), ())
        return Rebalance(targets, orders, explanations)
