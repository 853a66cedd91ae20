"""The money rules of allocation.md: how cash is split among the slices of a pie.

Pure functions over plain data (no ORM, no Django), in integers: amounts are cents, values are
integer *units* (10**-scale of a currency unit, so a value with up to ``scale`` decimals is
exact), basis points are ints, and a level's split is a set of fractions over one common
denominator (the funded weights), so flooring to cents and comparing the remainders are exact
(``divmod``); relative positions are compared by cross-multiplication, never in floats.

Two ways in:
- **Rows** (``buy_rows``, ``sell_rows``, ``rebalance_rows``), for the window: one tuple of ints per
  slice, ``(pie, target_bp, value, sub_pie)`` (``sub_pie`` is None for a security; a sub-pie's
  own ``value`` is ignored: it is the sum of its leaves), rows of one pie in the pie's order. The
  result is cents per leaf row; explanations are built on demand, only for orders written.
- **Nodes** (``allocate_buy``, ``allocate_sell``, ``rebalance``), for previews and tests: a tree
  of ``Node``s with Decimal values, results as Decimal amounts and ``Explanation``s. A pie node
  caches its value (the sum of its leaves, added in the caller's context: exact below 28 digits)
  when it is built, so a buy or a sell only visits the pies that trade: O(k log k) per visited
  pie of k children. Both ways share the one-level water-fills below.

Conventions:
- ``target_bp`` are basis points of the parent; each pie's children are expected to sum to
  10,000 (the water-fill itself only needs them to be non-negative).
- Amounts are cents. A Decimal ``amount`` with sub-cent digits is floored to cents.
- rho and the level L in explanations are shown as *implied pie values*: rho = v / (w / 10,000),
  the value the child's pie would need for the child to be on target; L the same after the trade.
- Sells work on *sellable values*: each leaf's value floored to cents (a sub-pie's is the sum of
  its leaves'). So a leaf is never asked for more than ``floor_cents(value)``, and an amount
  equal to that means "sell the whole position" (allocation.md, Selling 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from itertools import compress, groupby, repeat
from math import lcm
from operator import is_not, itemgetter

from trading.money import ONE_DOLLAR, ZERO, floor_cents

RULES = ("deposit", "dividend", "auto_invest", "removal", "withdrawal", "rebalance")
_PRECISION = 60  # digits: enough for any money * basis-point product we form
_BP = 10_000
_CONTEXT = Context(prec=_PRECISION)
_first = itemgetter(0)
_second = itemgetter(1)

Row = tuple[int, int, int, "int | None"]  # (pie, target_bp, value in units, sub-pie or None)
_Split = tuple[dict[int, int], int, int, list[int]]  # parts, top, weight, dropped (see below)


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


# --- Integers in, text out -------------------------------------------------------------------


def _to_cents(amount: Decimal) -> int:
    return int(floor_cents(Decimal(amount)).scaleb(2))


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2, _CONTEXT)


def _text(cents: int) -> str:
    """``str`` of the Decimal of ``cents`` / 100 (exponent -2 always prints plainly)."""
    if cents < 0:
        return f"-{-cents // 100}.{-cents % 100:02d}"
    return f"{cents // 100}.{cents % 100:02d}"


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (Decimal's ROUND_HALF_UP)."""
    if numerator < 0:
        return -((2 * -numerator + denominator) // (2 * denominator))
    return (2 * numerator + denominator) // (2 * denominator)


def _signed_text(numerator: int, denominator: int) -> str:
    """``str(half_up_cents(x))`` for x = numerator / denominator cents, including the "-0.00"
    that Decimal keeps for a small negative x."""
    cents = _half_up(numerator, denominator)
    return "-0.00" if not cents and numerator < 0 else _text(cents)


def _implied(units: int, weight: int) -> int:
    """A level or a rho (units per basis point) as an implied pie value in cents, half up:
    units * 10,000 / weight. ``weight`` carries the units per cent (basis points x unit)."""
    return (2 * units * _BP + weight) // (2 * weight)


def _units(values: Sequence[Decimal]) -> tuple[list[int], int]:
    """Decimals as exact integer units, with the units per cent: the unit is 1 / the least
    common multiple of 100 and the values' denominators (each a divisor of a power of 10)."""
    ratios = [value.as_integer_ratio() for value in values]
    common = lcm(100, *(denominator for _, denominator in ratios))
    return [numerator * (common // denominator) for numerator, denominator in ratios], common // 100


def _leaf_order(
    total: int, total_d: int, numerator: int, denominator: int, value: int, value_d: int
) -> tuple[int, int | None]:
    """Rebalancing one leaf worth value / value_d with the share numerator / denominator of
    total / total_d (currency units): its target in cents (floored) and its signed order in
    cents, None when it is less than 1.00 away."""
    target = total * numerator * 100 // (total_d * denominator)
    difference = target * value_d - 100 * value  # cents, over value_d
    if difference >= 100 * value_d:
        return target, difference // value_d
    if difference <= -100 * value_d:
        return target, target - 100 * value // value_d  # to the target from the sellable value
    return target, None


# --- Rounding (allocation.md, Buying 2) -----------------------------------------------------


def _round(
    funded: Sequence[int], numerators: Iterable[int], denominator: int, total: int
) -> dict[int, int]:
    """Floor numerator/denominator to cents; the leftover cents go one each to the largest
    remainders, ties to the earlier slice. The parts sum to ``total`` exactly (the numerators
    sum to ``total * denominator``). ``funded`` are child indices in the pie's order."""
    pairs = list(map(divmod, numerators, repeat(denominator)))
    parts = list(map(_first, pairs))
    leftover = total - sum(parts)
    if leftover:
        remainders = list(map(_second, pairs))
        # A stable sort keeps equal remainders in the pie's order.
        for p in sorted(range(len(parts)), key=remainders.__getitem__, reverse=True)[:leftover]:
            parts[p] += 1
    return dict(zip(funded, parts, strict=True))


# --- One level (allocation.md, Buying 1-3 and Selling 1-2) -----------------------------------
# A split is (parts, top, weight, dropped): parts maps child index -> cents (non-zero only, in
# the pie's order); the
# level reached is top / weight units per basis point (weight 0: no level, nothing bought or only
# removing slices sold); dropped lists the children dropped by the minimum order.


def _rho_order(
    weights: Sequence[int], values: Sequence[int], active: list[int] | None, descending: bool
) -> list[int]:
    """The ``active`` children (None: all) by rho = value / weight, ties in the pie's order.
    Distinct ratios v/w with w <= m differ by at least 1/m², so floor(v·m²/w) orders them
    exactly in integers (and equal ratios get equal keys)."""
    square = max(weights) ** 2
    if active is None:
        keys = [value * square // weight for value, weight in zip(values, weights, strict=True)]
        return sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
    return sorted(active, key=lambda i: values[i] * square // weights[i], reverse=descending)


def _fill_up(
    weights: Sequence[int], values: Sequence[int], cents: int, unit: int, minimum: int
) -> _Split:
    """Water-fill ``cents`` over the children with w > 0, lowest rho first; round to cents; drop
    the smallest buy under the minimum (ties: the later slice) and redo, until none is left.
    ``values`` are units, ``unit`` of them to a cent."""
    n = len(weights)
    if 0 in weights or not n:
        active = [i for i in range(n) if weights[i]]
        if not active:
            return {}, 0, 0, []
        order = _rho_order(weights, values, active, False)
    else:
        order = _rho_order(weights, values, None, False)
    amount = cents * unit
    dropped: list[int] = []
    while order:
        count = len(order)
        i = order[0]
        total_w = weights[i]
        top = amount + values[i]  # the level is top / total_w
        k = 1
        while k < count:  # walk the prefix sums until the level stays under the next rho
            j = order[k]
            weight = weights[j]
            value = values[j]
            if top * weight <= value * total_w:
                break
            total_w += weight
            top += value
            k += 1
        funded = sorted(order[:k])
        numerators = [weights[i] * top - values[i] * total_w for i in funded]
        parts = _round(funded, numerators, total_w * unit, cents)
        least = min(parts.values())
        if least and least >= minimum:
            return parts, top, total_w, dropped
        small = [i for i in funded if 0 < parts[i] < minimum]
        if not small:
            return {i: part for i, part in parts.items() if part}, top, total_w, dropped
        loser = min(small, key=lambda i: (parts[i], -i))
        order.remove(loser)
        dropped.append(loser)
    return {}, 0, 0, dropped


def _fill_down(weights: Sequence[int], values: Sequence[int], cents: int) -> _Split:
    """Removing children first (in full, or in proportion to their values if ``cents`` is
    smaller), then the mirror water-fill: trim the highest rho first down to a common level
    L >= 0. ``values`` are sellable cents; ``cents`` is at most their sum."""
    n = len(weights)
    parts: dict[int, int] = {}
    rest = cents
    if 0 in weights:
        removing = [i for i in range(n) if not weights[i] and values[i]]
        held = sum(values[i] for i in removing)
        if cents <= held:
            numerators = [values[i] * cents for i in removing]
            shares = _round(removing, numerators, held, cents)
            return {i: part for i, part in shares.items() if part}, 0, 0, []
        parts = {i: values[i] for i in removing}
        rest -= held
        active = [i for i in range(n) if weights[i] and values[i]]
        order = _rho_order(weights, values, active, True)
    elif 0 in values:
        order = _rho_order(weights, values, [i for i in range(n) if values[i]], True)
    else:
        order = _rho_order(weights, values, None, True)
    count = len(order)
    i = order[0]
    total_w = weights[i]
    top = values[i] - rest  # the level is top / total_w
    k = 1
    while k < count:  # walk the prefix sums until the level stays above the next rho
        j = order[k]
        weight = weights[j]
        value = values[j]
        if top * weight >= value * total_w:
            break
        total_w += weight
        top += value
        k += 1
    funded = sorted(order[:k])
    numerators = [values[i] * total_w - weights[i] * top for i in funded]
    trimmed = _round(funded, numerators, total_w, rest)
    if not parts and min(trimmed.values()):
        return trimmed, top, total_w, []
    parts.update((i, part) for i, part in trimmed.items() if part)
    return dict(sorted(parts.items())), top, total_w, []


# --- Rows: the window's way in ----------------------------------------------------------------


class _Rows:
    """Rows grouped by pie (each pie's members in row order), with sub-pie values on demand."""

    __slots__ = ("holder", "members", "nested", "subs", "totals", "values", "weights")

    def __init__(self, rows: Sequence[Row], leaf_values: Sequence[int] | None) -> None:
        pies, weights, values, subs = zip(*rows, strict=True) if rows else ((), (), (), ())
        self.weights: Sequence[int] = weights
        self.values: Sequence[int] = values if leaf_values is None else leaf_values
        self.subs: Sequence[int | None] = subs
        members: dict[int, list[int]] = {}
        for pie_id, group in groupby(range(len(pies)), pies.__getitem__):
            found = members.get(pie_id)
            if found is None:
                members[pie_id] = list(group)
            else:
                found.extend(group)
        self.members = members
        self.holder: dict[int, int] = {}  # sub-pie -> the row holding it
        self.nested: dict[int, list[tuple[int, int]]] = {}  # pie -> (row, sub-pie) it holds
        for row in compress(range(len(subs)), map(is_not, subs, repeat(None))):
            sub = subs[row]
            assert sub is not None
            self.holder[sub] = row
            self.nested.setdefault(pies[row], []).append((row, sub))
        self.totals: dict[int, int] = {}

    def total(self, pie_id: int) -> int:
        """A pie's value: the sum of its leaves' values (sellable values for a sell)."""
        found = self.totals.get(pie_id)
        if found is None:
            values = self.values
            found = sum(map(values.__getitem__, self.members.get(pie_id, ())))
            for row, sub in self.nested.get(pie_id, ()):  # a sub-pie is worth its leaves
                found += self.total(sub) - values[row]
            self.totals[pie_id] = found
        return found

    def level(self, pie_id: int) -> tuple[list[int], list[int], list[int]]:
        """The members of a pie with their weights and values."""
        members = self.members.get(pie_id, [])
        values = list(map(self.values.__getitem__, members))
        for row, sub in self.nested.get(pie_id, ()):
            values[members.index(row)] = self.total(sub)
        return members, list(map(self.weights.__getitem__, members)), values


# Per visited pie: top, weight, dropped (member positions), members (row indices), values.
_Trace = tuple[int, int, list[int], Sequence[int], Sequence[int]]


class RowSplit:
    """A buy or a sell from rows (``buy_rows``, ``sell_rows``): ``amounts`` maps each leaf row
    that trades to its cents (non-zero only, in tree order). ``explain`` builds one row's
    explanation on demand, as ``Explanation.as_dict`` would give it."""

    __slots__ = ("_holder", "_levels", "_received", "_root", "_rows", "_unit", "amounts")

    def __init__(
        self,
        amounts: dict[int, int],
        rows: Sequence[Row],
        root: int,
        unit: int,
        levels: dict[int, _Trace],
        received: dict[int, int],
        holder: dict[int, int],
    ) -> None:
        self.amounts = amounts
        self._rows = rows
        self._root = root
        self._unit = unit  # units per cent of the values the splits saw (1 for sellable cents)
        self._levels = levels
        self._received = received  # row -> cents, sub-pie rows included
        self._holder = holder

    def explain(self, row: int, keys: Sequence[str], rule: str, root_key: str = "") -> dict:
        """Why ``row`` got its amount; ``keys`` name the rows (leaf and sub-pie paths) and
        ``root_key`` the pie split."""
        rows = self._rows
        unit = self._unit
        path = _path(rows, self._root, self._holder, row)
        dropped: list[str] = []
        steps = []
        rho = level = None
        for pie_id, child in path:
            top, weight, drops, members, values = self._levels[pie_id]
            if drops:
                dropped.extend(keys[members[j]] for j in sorted(drops))
            level = _text(_implied(top, weight * unit)) if weight else None
            target = rows[child][1]
            value = values[members.index(child)]
            rho = _text(_implied(value, target * unit)) if target else None
            steps.append(
                {
                    "pie": root_key if pie_id == self._root else keys[self._holder[pie_id]],
                    "child": keys[child],
                    "amount": _text(self._received[child]),
                    "rho_before": rho,
                    "level": level,
                }
            )
        return {"rule": rule, "rho_before": rho, "level": level, "dropped": dropped, "steps": steps}


def _unit_of(scale: int) -> int:
    """Units per cent for values with ``scale`` decimals."""
    if scale < 2:
        raise ValueError(f"values need at least 2 decimals (cents), not {scale}")
    return 10 ** (scale - 2)


def _path(
    rows: Sequence[Row], root: int, holder: dict[int, int], row: int
) -> list[tuple[int, int]]:
    """(pie, child row) from ``root`` down to ``row``."""
    path = []
    pie_id = rows[row][0]
    while True:
        path.append((pie_id, row))
        if pie_id == root:
            break
        row = holder[pie_id]
        pie_id = rows[row][0]
    path.reverse()
    return path


def _split_rows(
    rows: Sequence[Row], cents: int, root: int, unit: int, minimum: int | None
) -> RowSplit:
    """Buying (``minimum`` given) or selling, level by level from ``root`` down."""
    sell = minimum is None
    value_unit = 1 if sell else unit  # sells see sellable cents

    def split(weights: Sequence[int], values: Sequence[int], cents: int) -> _Split:
        if minimum is None:
            return _fill_down(weights, values, cents)
        return _fill_up(weights, values, cents, unit, minimum)

    levels: dict[int, _Trace] = {}
    sellable: Sequence[int] | None = None
    if rows:
        pies, weights, values, subs = zip(*rows, strict=True)
        n = len(rows)
        if sell:
            sellable = values = values if unit == 1 else tuple(v // unit for v in values)
        if subs.count(None) == n and pies.count(root) == n:  # one level: no grouping needed
            if sell:
                cents = min(cents, sum(values))
            if cents <= 0:
                return RowSplit({}, rows, root, value_unit, levels, {}, {})
            parts, top, weight, drops = split(weights, values, cents)
            levels[root] = (top, weight, drops, range(n), values)
            return RowSplit(parts, rows, root, value_unit, levels, parts, {})
    tree = _Rows(rows, sellable)
    if sell:
        cents = min(cents, tree.total(root))
    amounts: dict[int, int] = {}
    received: dict[int, int] = {}

    def level_parts(pie_id: int, cents: int) -> Iterator[tuple[int, int]]:
        """The pie's level split: its rows' parts, in order."""
        members, weights, values = tree.level(pie_id)
        parts, top, weight, drops = split(weights, values, cents)
        levels[pie_id] = (top, weight, drops, members, values)
        return ((members[j], part) for j, part in parts.items())

    # Depth first, in the order of each level's parts, with a stack of the levels being split
    # (not a recursive closure: that is a reference cycle, which holds the tree until the
    # cycle collector runs).
    stack = [level_parts(root, cents)] if cents > 0 else []
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        row, part = entry
        received[row] = part
        sub = tree.subs[row]
        if sub is None:
            amounts[row] = part
        else:
            stack.append(level_parts(sub, part))
    return RowSplit(amounts, rows, root, value_unit, levels, received, tree.holder)


def buy_rows(
    rows: Sequence[Row], cents: int, *, root: int = 0, minimum: int = 100, scale: int = 2
) -> RowSplit:
    """Buying (allocation.md 1-4) from rows: ``cents`` into the pie ``root``; values are ints
    with ``scale`` decimals (2: cents), ``minimum`` the minimum order in cents. Any amount >=
    ``minimum`` into a pie with a slice of target > 0 is invested in full to the cent; an amount
    under it buys nothing. Slices with target 0 are never bought."""
    return _split_rows(rows, cents, root, _unit_of(scale), minimum)


def sell_rows(rows: Sequence[Row], cents: int, *, root: int = 0, scale: int = 2) -> RowSplit:
    """Selling (allocation.md 1-3) from rows, on sellable values (each leaf's value floored to
    cents): an amount at or above the pie's sellable value sells every leaf in full; otherwise
    the parts sum to ``cents`` exactly."""
    return _split_rows(rows, cents, root, _unit_of(scale), None)


class RowRebalance:
    """A rebalance from rows: ``targets`` maps every leaf row under the pie to its target value
    in cents, ``orders`` the rows to trade to signed cents (+ buy, - sell); ``explain`` builds an
    order's explanation on demand."""

    __slots__ = ("_rows", "_tree", "_unit", "orders", "root", "targets", "total")

    def __init__(self, rows: Sequence[Row], root: int, extra: int, unit: int) -> None:
        self._rows = rows
        self._tree = tree = _Rows(rows, None)
        self._unit = unit
        self.root = root
        self.total = total = tree.total(root) + extra  # units
        self.targets: dict[int, int] = {}
        self.orders: dict[int, int] = {}
        targets = self.targets
        orders = self.orders
        members = tree.members
        weights = tree.weights
        values = tree.values
        subs = tree.subs
        cent = 100 * unit  # units per currency unit

        # Depth first, in row order, with a stack of the pies being walked (not a recursive
        # closure: that is a reference cycle, which holds the tree until the cycle collector
        # runs). A pie's share of the total is numerator / denominator.
        stack = [(iter(members.get(root, ())), 1, _BP)]
        while stack:
            pie_rows, numerator, denominator = stack[-1]
            row = next(pie_rows, None)
            if row is None:
                stack.pop()
                continue
            share = numerator * weights[row]
            sub = subs[row]
            if sub is not None:
                stack.append((iter(members.get(sub, ())), share, denominator * _BP))
                continue
            target, order = _leaf_order(total, cent, share, denominator, values[row], cent)
            targets[row] = target
            if order is not None:
                orders[row] = order

    def explain(self, row: int, keys: Sequence[str], root_key: str = "") -> dict:
        """Why the order of ``row`` (as ``Explanation.as_dict`` gives it); ``keys`` name the rows
        (leaf and sub-pie paths) and ``root_key`` the pie rebalanced."""
        tree = self._tree
        unit = self._unit
        total = self.total
        path = _path(self._rows, self.root, tree.holder, row)
        numerator = denominator = 1
        steps = []
        rho = level = None
        for pie_id, child in path:
            level = _signed_text(total * numerator, denominator * unit)
            target = tree.weights[child]
            numerator *= target
            denominator *= _BP
            sub = tree.subs[child]
            value = tree.values[child] if sub is None else tree.total(sub)
            rho = _text(_implied(value, target * unit)) if target else None
            if sub is None:
                amount = _text(self.orders[child])
            else:
                amount = _signed_text(total * numerator - value * denominator, denominator * unit)
            steps.append(
                {
                    "pie": root_key if pie_id == self.root else keys[tree.holder[pie_id]],
                    "child": keys[child],
                    "amount": amount,
                    "rho_before": rho,
                    "level": level,
                }
            )
        return {
            "rule": "rebalance",
            "rho_before": rho,
            "level": level,
            "dropped": [],
            "steps": steps,
        }


def rebalance_rows(
    rows: Sequence[Row], *, root: int = 0, extra: int = 0, scale: int = 2
) -> RowRebalance:
    """Rebalancing (allocation.md) from rows: V = the value of ``root`` + ``extra`` (both with
    ``scale`` decimals); each leaf's target is V * the product of the target fractions from
    ``root`` down, floored to cents. A leaf at least 1.00 below target is bought up to it (the
    difference floored to cents); one at least 1.00 above is sold down to it (its sellable value
    minus the target). Smaller differences are left alone."""
    return RowRebalance(rows, root, extra, _unit_of(scale))


# --- Nodes: previews and tests ----------------------------------------------------------------


class _Walk:
    """Splits an amount level by level from the root down (allocation.md, Buying 4 and
    Selling 3) and collects the leaves' amounts and explanations."""

    def __init__(self, rule: str, minimum: int | None) -> None:
        self.rule = rule
        self.minimum = minimum  # None: a sell
        self.amounts: dict[str, Decimal] = {}
        self.explanations: dict[str, Explanation] = {}

    def run(
        self, node: Node, cents: int, dropped: tuple[str, ...], steps: tuple[dict, ...]
    ) -> None:
        kids = node.children
        weights = [kid.target_bp for kid in kids]
        if self.minimum is None:
            unit = 1
            values = [kid.sellable_cents for kid in kids]
            parts, top, weight, drops = _fill_down(weights, values, cents)
        else:
            values, unit = _units([kid.value for kid in kids])
            parts, top, weight, drops = _fill_up(weights, values, cents, unit, self.minimum)
        if drops:
            dropped = (*dropped, *(kids[i].key for i in sorted(drops)))
        level = _implied(top, weight * unit) if weight else None
        level_text = None if level is None else _text(level)
        for i, part in parts.items():
            child = kids[i]
            target = child.target_bp
            rho = _implied(values[i], target * unit) if target else None
            step = {
                "pie": node.key,
                "child": child.key,
                "amount": _text(part),
                "rho_before": None if rho is None else _text(rho),
                "level": level_text,
            }
            if child.is_pie:
                self.run(child, part, dropped, (*steps, step))
            else:
                self.amounts[child.key] = _money(part)
                self.explanations[child.key] = Explanation(
                    self.rule,
                    None if rho is None else _money(rho),
                    None if level is None else _money(level),
                    dropped,
                    (*steps, step),
                )

    def result(self) -> Allocation:
        return Allocation(self.amounts, self.explanations)


def allocate_buy(
    root: Node, amount: Decimal, *, rule: str = "deposit", minimum: Decimal = ONE_DOLLAR
) -> Allocation:
    """Buying (allocation.md 1-4): water-fill, round to cents, minimum order, recurse.

    Any amount >= ``minimum`` into a pie with a slice of target > 0 is invested in full to the
    cent; an amount under it buys nothing. Slices with target 0 are never bought.
    """
    with localcontext() as context:
        context.prec = _PRECISION
        walk = _Walk(rule, _to_cents(minimum))
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
        walk = _Walk(rule, None)
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
    targets: dict[str, Decimal] = {}
    orders: dict[str, Decimal] = {}
    explanations: dict[str, Explanation] = {}
    with localcontext() as context:
        context.prec = _PRECISION
        total, total_d = (root.value + extra_cash).as_integer_ratio()  # exact rationals, here

    def walk(node: Node, numerator: int, denominator: int, steps: tuple[dict, ...]) -> None:
        # The pie's share of the total is numerator / denominator.
        level_text = _signed_text(total * numerator * 100, total_d * denominator)
        level = Decimal(level_text)
        denominator *= _BP
        for child in node.children:
            target_bp = child.target_bp
            share = numerator * target_bp
            value, value_d = child.value.as_integer_ratio()
            rho = _implied(value * 100, target_bp * value_d) if target_bp else None
            if child.is_pie:
                over = total_d * denominator * value_d
                gap = total * share * value_d - value * total_d * denominator
                amount = _signed_text(100 * gap, over)
            else:
                target, order = _leaf_order(total, total_d, share, denominator, value, value_d)
                targets[child.key] = _money(target)
                if order is None:
                    continue
                orders[child.key] = _money(order)
                amount = _text(order)
            step = {
                "pie": node.key,
                "child": child.key,
                "amount": amount,
                "rho_before": None if rho is None else _text(rho),
                "level": level_text,
            }
            if child.is_pie:
                walk(child, share, denominator, (*steps, step))
            else:
                explanations[child.key] = Explanation(
                    "rebalance", None if rho is None else _money(rho), level, (), (*steps, step)
                )

    walk(root, 1, 1, ())
    return Rebalance(targets, orders, explanations)
