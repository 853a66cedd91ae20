"""Properties of the money rules (allocation.md) over random nested pies."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pies.allocation import Node, allocate_buy, allocate_sell, leaf, pie
from trading.money import CENT, ONE_DOLLAR, ZERO, floor_cents

# How many examples comes from the Hypothesis profile (tests/conftest.py); a tree can take
# longer than the default 200 ms deadline on a busy machine.
EXAMPLES = settings(deadline=None)


@st.composite
def basis_points(draw: st.DrawFn, count: int) -> list[int]:
    """``count`` targets summing to 10,000; some (never all) are 0: removing slices."""
    removing = [draw(st.integers(0, 9)) < 2 for _ in range(count)]
    if all(removing):
        removing[0] = False
    raw = [0 if r else draw(st.integers(1, 100)) for r in removing]
    total = sum(raw)
    points = [10_000 * r // total for r in raw]
    first_active = next(i for i, r in enumerate(raw) if r)
    points[first_active] += 10_000 - sum(points)
    return points


cents_values = st.integers(0, 10_000_000).map(lambda c: Decimal(c).scaleb(-2))
amounts = st.integers(1, 2_000_000).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def trees(
    draw: st.DrawFn,
    depth: int = 3,
    values: st.SearchStrategy[Decimal] = cents_values,
    key: str = "",
    target: int = 10_000,
) -> Node:
    count = draw(st.integers(1, 12 if depth == 3 else 5))
    prefix = f"{key}/" if key else ""
    children = []
    for i, bp in enumerate(draw(basis_points(count))):
        if depth > 1 and draw(st.integers(0, 5)) == 0:
            children.append(draw(trees(depth - 1, values, f"{prefix}P{i}", bp)))
        else:
            children.append(leaf(f"{prefix}S{i}", bp, draw(values)))
    return pie(key, target, children)


def leaves(node: Node, share: Fraction = Fraction(1)) -> dict[str, tuple[Node, Fraction]]:
    """Every leaf with the product of the target fractions along its path."""
    found = {}
    for child in node.children:
        child_share = share * Fraction(child.target_bp, 10_000)
        if child.is_pie:
            found.update(leaves(child, child_share))
        else:
            found[child.key] = (child, child_share)
    return found


def empty(node: Node) -> Node:
    if not node.is_pie:
        return leaf(node.key, node.target_bp, ZERO)
    return pie(node.key, node.target_bp, [empty(child) for child in node.children])


@EXAMPLES
@given(trees(), amounts)
def test_a_buy_invests_an_amount_of_at_least_a_dollar_in_full_and_never_below_a_dollar(
    root: Node, amount: Decimal
) -> None:
    allocation = allocate_buy(root, amount)
    if amount >= ONE_DOLLAR:
        assert allocation.total == amount
    else:
        assert allocation.amounts == {}
    everything = leaves(root)
    for key, part in allocation.amounts.items():
        assert part >= ONE_DOLLAR
        assert part == part.quantize(CENT)
        assert everything[key][1] > 0, "a removing slice is never bought"
        assert allocation.explanations[key].steps[-1]["amount"] == str(part)


@EXAMPLES
@given(trees(values=st.integers(0, 10**12).map(lambda c: Decimal(c).scaleb(-6))), amounts)
def test_no_child_above_the_reached_level_receives_money(root: Node, amount: Decimal) -> None:
    allocation = allocate_buy(root, amount)
    assume(allocation.amounts)
    explanation = next(iter(allocation.explanations.values()))
    level = Decimal(explanation.steps[0]["level"])
    dropped = set(explanation.dropped)
    funded = {e.steps[0]["child"] for e in allocation.explanations.values()}
    for child in root.children:
        if not child.target_bp or child.key in dropped:
            continue
        rho = child.value * 10_000 / child.target_bp
        if child.key in funded:
            assert rho <= level + CENT
        else:  # above the level, or so close to it that its share rounds to 0 cents
            assert rho >= level - CENT * 10_000 / child.target_bp - CENT


@EXAMPLES
@given(trees(), st.integers(10_000, 100_000_000).map(lambda c: Decimal(c).scaleb(-2)))
def test_a_first_deposit_into_an_empty_pie_splits_by_target(root: Node, amount: Decimal) -> None:
    root = empty(root)
    shares = {
        key: amount * share.numerator / share.denominator
        for key, (_, share) in leaves(root).items()
    }
    assume(all(share >= 2 for share in shares.values() if share))
    allocation = allocate_buy(root, amount)
    assert allocation.total == amount
    for key, share in shares.items():
        assert abs(allocation.amounts.get(key, ZERO) - share) <= Decimal("0.03")


@EXAMPLES
@given(trees(), amounts)
def test_a_sell_raises_the_amount_exactly_and_never_sells_more_than_a_leaf_holds(
    root: Node, amount: Decimal
) -> None:
    allocation = allocate_sell(root, amount)
    assert allocation.total == min(amount, root.value)
    everything = leaves(root)
    for key, part in allocation.amounts.items():
        assert 0 < part <= everything[key][0].value
        assert key in allocation.explanations


@EXAMPLES
@given(trees(values=st.integers(0, 10**10).map(lambda c: Decimal(c).scaleb(-6))), amounts)
def test_a_sell_with_sub_cent_values_never_asks_for_more_than_the_floored_value(
    root: Node, amount: Decimal
) -> None:
    allocation = allocate_sell(root, amount)
    sellable = {key: floor_cents(node.value) for key, (node, _) in leaves(root).items()}
    assert allocation.total == min(amount, sum(sellable.values(), ZERO))
    for key, part in allocation.amounts.items():
        assert 0 < part <= sellable[key]


@EXAMPLES
@given(trees(), st.integers(0, 1000).map(lambda c: Decimal(c).scaleb(-2)))
def test_a_full_withdrawal_sells_every_leaf_in_full(root: Node, extra: Decimal) -> None:
    allocation = allocate_sell(root, root.value + extra)
    held = {key: node.value for key, (node, _) in leaves(root).items() if node.value}
    assert allocation.amounts == held


# --- A flat reference implementation, in fractions, to check order independence -------------


def reference_buy(
    targets: list[int], values: list[Decimal], amount: Decimal
) -> tuple[dict[int, int], bool]:
    """allocation.md Buying 1-3 on one level, naively; also says whether a tie was met."""
    tie = False
    active = [i for i, w in enumerate(targets) if w]
    cents = int(amount * 100)
    while active:
        rho = {i: Fraction(values[i]) * 100 / targets[i] for i in active}
        for funded in ([i for i in active if rho[i] <= bound] for bound in sorted(rho.values())):
            # the level of this candidate set; it is the answer if it sits between the set's
            # highest rho and the lowest rho outside it
            weight = sum(targets[i] for i in funded)
            level = (cents + sum(Fraction(values[i]) * 100 for i in funded)) / weight
            if all(level <= rho[i] for i in active if i not in funded):
                break
        exact = {i: targets[i] * level - Fraction(values[i]) * 100 for i in funded}
        parts = {i: int(x) for i, x in exact.items()}
        fractions = sorted(((exact[i] - parts[i], i) for i in funded), key=lambda t: (-t[0], t[1]))
        leftover = cents - sum(parts.values())
        if 0 < leftover < len(fractions) and fractions[leftover - 1][0] == fractions[leftover][0]:
            tie = True
        for _, i in fractions[:leftover]:
            parts[i] += 1
        small = sorted((p, i) for i, p in parts.items() if 0 < p < 100)
        if not small:
            return {i: p for i, p in parts.items() if p}, tie
        if len(small) > 1 and small[0][0] == small[1][0]:
            tie = True
        active.remove(max(i for p, i in small if p == small[0][0]))
    return {}, tie


@EXAMPLES
@given(
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 10_000_000)), min_size=1, max_size=12),
    amounts,
    st.randoms(use_true_random=False),
)
def test_a_flat_buy_matches_the_reference_and_does_not_depend_on_slice_order(
    slices: list[tuple[int, int]], amount: Decimal, shuffler: random.Random
) -> None:
    total = sum(w for w, _ in slices)
    targets = [10_000 * w // total for w, _ in slices]
    targets[0] += 10_000 - sum(targets)
    values = [Decimal(v).scaleb(-2) for _, v in slices]
    expected, tie = reference_buy(targets, values, amount)
    root = pie(
        "",
        10_000,
        [leaf(f"S{i}", w, v) for i, (w, v) in enumerate(zip(targets, values, strict=True))],
    )
    allocation = allocate_buy(root, amount)
    assert allocation.amounts == {
        f"S{i}": Decimal(p).scaleb(-2) for i, p in sorted(expected.items())
    }
    assume(not tie)
    shuffled = list(root.children)
    shuffler.shuffle(shuffled)
    assert allocate_buy(pie("", 10_000, shuffled), amount).amounts == allocation.amounts
