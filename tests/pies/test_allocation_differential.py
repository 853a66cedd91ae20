"""The integer kernel gives exactly what the Decimal kernel it replaced gave.

``reference_allocation.py`` is the old ``pies/allocation.py``, verbatim. For random pies (nested
and flat, removing slices, empty sub-pies, values with up to 10 decimals, tiny and huge
amounts, minimum orders that drop children) every entry of the new kernel, the Node API and the
row entry, must give the same amounts and the same explanations, string for string.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pies import allocation as new
from tests.pies import reference_allocation as old

# As many examples as the Hypothesis profile says (tests/conftest.py); DIFFERENTIAL_EXAMPLES=20000
# for a longer search.
_MORE = os.environ.get("DIFFERENTIAL_EXAMPLES")
EXAMPLES = (
    settings(deadline=None) if _MORE is None else settings(max_examples=int(_MORE), deadline=None)
)


@dataclass(frozen=True)
class Spec:
    """A slice, independent of either kernel: a leaf when ``children`` is None."""

    name: str
    target_bp: int
    value: Decimal = Decimal(0)
    children: tuple[Spec, ...] | None = None


@st.composite
def targets(draw: st.DrawFn, count: int) -> list[int]:
    """Basis points: usually summing to 10,000 with some removing (0) slices; sometimes all 0,
    sometimes any non-negative numbers (the water-fill only needs them non-negative)."""
    style = draw(st.integers(0, 9))
    if style == 0:
        return [0] * count
    if style == 1:
        return draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count))
    raw = [0 if draw(st.integers(0, 9)) < 2 else draw(st.integers(1, 100)) for _ in range(count)]
    if not any(raw):
        raw[0] = 1
    total = sum(raw)
    points = [10_000 * r // total for r in raw]
    points[next(i for i, r in enumerate(raw) if r)] += 10_000 - sum(points)
    return points


def decimals(places: int, top: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, top).map(lambda units: Decimal(units).scaleb(-places))


# Leaf values: whole cents, quantity x price (10 decimals), 6 decimals, zeros, huge holdings.
values = st.one_of(
    decimals(2, 10_000_000),
    decimals(10, 10**16),
    decimals(6, 10**12),
    st.just(Decimal("0")),
    decimals(2, 10**17),
    st.sampled_from([Decimal("0.004"), Decimal("0.5"), Decimal("1E+3"), Decimal("12.30")]),
)


@st.composite
def slices(draw: st.DrawFn, depth: int, prefix: str, flat: bool) -> tuple[Spec, ...]:
    if depth < 3 and draw(st.integers(0, 15)) == 0:
        return ()  # an empty sub-pie
    count = draw(st.integers(1, 14 if depth == 3 else 5))
    found = []
    for i, bp in enumerate(draw(targets(count))):
        if not flat and depth > 1 and draw(st.integers(0, 4)) == 0:
            name = f"{prefix}P{i}"
            found.append(Spec(name, bp, children=draw(slices(depth - 1, name + "/", flat))))
        else:
            found.append(Spec(f"{prefix}S{i}", bp, draw(values)))
    return tuple(found)


pies_ = st.booleans().flatmap(lambda flat: slices(3, "", flat))

# Amounts: tiny, ordinary, huge; some with sub-cent digits (floored), some zero or negative.
amounts = st.one_of(
    decimals(2, 500),
    decimals(2, 2_000_000),
    decimals(2, 10**14),
    decimals(4, 10**8),
    st.sampled_from([Decimal("0"), Decimal("-5.00"), Decimal("0.01"), Decimal("1.00")]),
)
minimums = st.sampled_from(
    [Decimal("1.00"), Decimal("1.00"), Decimal("0"), Decimal("0.50"), Decimal("5.00"), 100]
)
rules = st.sampled_from(new.RULES)


def build(kernel: ModuleType, spec: tuple[Spec, ...], key: str = "", bp: int = 10_000) -> Any:
    """The pie as ``kernel``'s Nodes (the old and the new kernel have a Node class each)."""
    children = [
        kernel.leaf(s.name, s.target_bp, s.value)
        if s.children is None
        else build(kernel, s.children, s.name, s.target_bp)
        for s in spec
    ]
    return kernel.pie(key, bp, children)


@dataclass
class Rows:
    rows: list[tuple[int, int, int, int | None]]
    keys: list[str]
    scale: int
    ids: dict[str, int]  # pie key -> pie id ("" the root)


def as_rows(spec: tuple[Spec, ...], grouped: bool) -> Rows:
    """Pie ids from 7 up (the root is 7); rows in tree order, or grouped by pie as the window's
    query returns them; values at the smallest scale that holds them all."""
    leaves = []

    def collect(spec: tuple[Spec, ...]) -> None:
        for s in spec:
            if s.children is None:
                leaves.append(s.value)
            else:
                collect(s.children)

    collect(spec)
    scale = max([2, *(-value.as_tuple().exponent for value in leaves)])
    found: list[tuple[int, tuple[int, int, int, int | None], str]] = []
    ids = itertools.count(8)
    pie_ids = {"": 7}

    def visit(spec: tuple[Spec, ...], pie_id: int) -> None:
        for s in spec:
            if s.children is None:
                units = int(s.value.scaleb(scale))
                found.append((pie_id, (pie_id, s.target_bp, units, None), s.name))
            else:
                sub = pie_ids[s.name] = next(ids)
                found.append((pie_id, (pie_id, s.target_bp, 0, sub), s.name))
                visit(s.children, sub)

    visit(spec, 7)
    if grouped:
        found.sort(key=lambda item: item[0])
    return Rows([row for _, row, _ in found], [key for _, _, key in found], scale, pie_ids)


def sub_pies(spec: tuple[Spec, ...]) -> list[Spec]:
    found = []
    for s in spec:
        if s.children is not None:
            found.append(s)
            found.extend(sub_pies(s.children))
    return found


def explained(allocation: Any) -> dict[str, dict]:
    return {k: e.as_dict() for k, e in allocation.explanations.items()}


def cents_of(amount: Decimal) -> int:
    return int(old.floor_cents(amount).scaleb(2))


def check_split(
    spec: tuple[Spec, ...], amount: Decimal, rule: str, sell: bool, minimum: Decimal | int
) -> None:
    if sell:
        expected = old.allocate_sell(build(old, spec), amount, rule=rule)
        got = new.allocate_sell(build(new, spec), amount, rule=rule)
    else:
        expected = old.allocate_buy(build(old, spec), amount, rule=rule, minimum=minimum)
        got = new.allocate_buy(build(new, spec), amount, rule=rule, minimum=minimum)
    assert list(got.amounts.items()) == list(expected.amounts.items())
    assert {k: str(v) for k, v in got.amounts.items()} == {
        k: str(v) for k, v in expected.amounts.items()
    }
    assert explained(got) == explained(expected)

    for grouped in (False, True):
        rows = as_rows(spec, grouped)
        if sell:
            split = new.sell_rows(rows.rows, cents_of(amount), root=7, scale=rows.scale)
        else:
            least = cents_of(Decimal(minimum))
            split = new.buy_rows(
                rows.rows, cents_of(amount), root=7, minimum=least, scale=rows.scale
            )
        assert {rows.keys[r]: Decimal(c).scaleb(-2) for r, c in split.amounts.items()} == (
            expected.amounts
        )
        assert sorted(split.amounts) == list(split.amounts) or grouped, "tree order"
        for row in split.amounts:
            key = rows.keys[row]
            assert split.explain(row, rows.keys, rule) == expected.explanations[key].as_dict()


@EXAMPLES
@given(pies_, amounts, rules, minimums)
def test_a_buy_is_the_same_as_the_old_kernel(
    spec: tuple[Spec, ...], amount: Decimal, rule: str, minimum: Decimal | int
) -> None:
    check_split(spec, amount, rule, False, minimum)


@EXAMPLES
@given(pies_, amounts, rules)
def test_a_sell_is_the_same_as_the_old_kernel(
    spec: tuple[Spec, ...], amount: Decimal, rule: str
) -> None:
    check_split(spec, amount, rule, True, 0)


@EXAMPLES
@given(pies_, st.integers(0, 2), st.data())
def test_a_buy_or_sell_into_a_sub_pie_is_the_same_as_the_old_kernel(
    spec: tuple[Spec, ...], kind: int, data: st.DataObject
) -> None:
    """A removal's proceeds are bought into the removed slice's own pie (``root`` below the
    portfolio), with the rest of the account's rows around it."""
    subs = sub_pies(spec)
    if not subs:
        return
    chosen = data.draw(st.sampled_from(subs))
    amount = data.draw(amounts)
    rows = as_rows(spec, data.draw(st.booleans()))
    root = rows.ids[chosen.name]
    assert chosen.children is not None
    if kind == 2:
        extra = data.draw(decimals(2, 10**9))
        check_rebalance(spec, extra, chosen)
        return
    if kind == 0:
        expected = old.allocate_buy(build(old, chosen.children, chosen.name), amount)
        split = new.buy_rows(rows.rows, cents_of(amount), root=root, scale=rows.scale)
    else:
        expected = old.allocate_sell(build(old, chosen.children, chosen.name), amount)
        split = new.sell_rows(rows.rows, cents_of(amount), root=root, scale=rows.scale)
    assert {rows.keys[r]: Decimal(c).scaleb(-2) for r, c in split.amounts.items()} == (
        expected.amounts
    )
    rule = "deposit" if kind == 0 else "withdrawal"
    for row in split.amounts:
        explanation = split.explain(row, rows.keys, rule, chosen.name)
        assert explanation == expected.explanations[rows.keys[row]].as_dict()
        assert split.explain(row, rows.keys, rule)["steps"][0]["pie"] == "", "the default key"


def check_rebalance(spec: tuple[Spec, ...], extra: Decimal, chosen: Spec | None) -> None:
    inner = spec if chosen is None else chosen.children
    assert inner is not None
    key = "" if chosen is None else chosen.name
    bp = 10_000 if chosen is None else chosen.target_bp
    expected = old.rebalance(build(old, inner, key, bp), extra_cash=extra)
    got = new.rebalance(build(new, inner, key, bp), extra_cash=extra)
    for name in ("targets", "orders"):
        assert {k: str(v) for k, v in getattr(got, name).items()} == {
            k: str(v) for k, v in getattr(expected, name).items()
        }
        assert list(getattr(got, name)) == list(getattr(expected, name))
    assert explained(got) == explained(expected)

    rows = as_rows(spec, grouped=True)
    root = rows.ids[key]
    scale = max(rows.scale, -int(extra.as_tuple().exponent))
    scaled = [(p, w, v * 10 ** (scale - rows.scale), s) for p, w, v, s in rows.rows]
    result = new.rebalance_rows(scaled, root=root, extra=int(extra.scaleb(scale)), scale=scale)
    assert {rows.keys[r]: Decimal(c).scaleb(-2) for r, c in result.targets.items()} == (
        expected.targets
    )
    assert {rows.keys[r]: Decimal(c).scaleb(-2) for r, c in result.orders.items()} == (
        expected.orders
    )
    for row in result.orders:
        explanation = result.explain(row, rows.keys, key)
        assert explanation == expected.explanations[rows.keys[row]].as_dict()


@EXAMPLES
@given(
    pies_,
    st.one_of(st.just(Decimal("0")), decimals(2, 10**9), decimals(3, 10**6), decimals(2, 10**15)),
)
def test_a_rebalance_is_the_same_as_the_old_kernel(spec: tuple[Spec, ...], extra: Decimal) -> None:
    check_rebalance(spec, extra, None)
