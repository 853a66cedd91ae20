"""Allocation kernel benchmark (performance.md, section 1).

Seeded random nested pies with S leaves (about 1,000.00 per leaf, drift +-30 %); deposits of 1 %
and withdrawals of 10 % of the pie's value. Prints microseconds per call (median of 7 runs, each
long enough to last 0.2 s), checks every result sums to the amount, and ends with one JSON line.

Run: .venv/bin/python bench/allocation.py
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pies.allocation import Node, allocate_buy, allocate_sell, leaf, pie, pie_value
from trading.money import floor_cents

SIZES = (5, 20, 100, 1000)
RUNS = 7
MIN_RUN_SECONDS = 0.2


def targets(rng: random.Random, n: int) -> list[int]:
    """n basis-point targets summing to 10,000, each at least 1."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(n)]
    total = sum(weights)
    points = [max(1, int(10_000 * w / total)) for w in weights]
    points[-1] += 10_000 - sum(points)
    return points


def random_pie(rng: random.Random, key: str, target: int, leaves: int, depth: int) -> Node:
    """A pie holding ``leaves`` leaves, nested up to ``depth`` more levels."""
    if depth == 0 or leaves <= 12:
        sizes = [1] * leaves
    else:
        count = min(leaves, rng.randint(5, 12))
        cuts = sorted(rng.sample(range(1, leaves), count - 1))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, leaves], strict=True)]
    prefix = f"{key}/" if key else ""
    children = []
    for i, (size, bp) in enumerate(zip(sizes, targets(rng, len(sizes)), strict=True)):
        if size == 1:
            value = Decimal(round(1000 * bp / 10_000 * len(sizes) * rng.uniform(0.7, 1.3), 2))
            children.append(leaf(f"{prefix}S{i}", bp, floor_cents(value)))
        else:
            children.append(random_pie(rng, f"{prefix}P{i}", bp, size, depth - 1))
    return pie(key, target, children)


def scale_values(node: Node, factor: Decimal) -> Node:
    """Make each leaf about 1,000.00 on average whatever its depth."""
    if not node.is_pie:
        return leaf(node.key, node.target_bp, floor_cents(node.value * factor))
    return pie(node.key, node.target_bp, [scale_values(c, factor) for c in node.children])


def rebuild(node: Node) -> Node:
    """Build the same tree again: what a caller pays once per account (pie values are summed
    when a pie node is built, so the allocation calls themselves only visit the pies that
    trade)."""
    if not node.is_pie:
        return leaf(node.key, node.target_bp, node.value)
    return pie(node.key, node.target_bp, [rebuild(child) for child in node.children])


def time_per_call(call: Callable[[], object]) -> float:
    """Median over RUNS of the microseconds per call."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-6)
    calls = max(1, int(MIN_RUN_SECONDS / once))
    results = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def main() -> None:
    rng = random.Random(20240601)
    deposits: dict[str, float] = {}
    header = f"{'S':>6} {'deposit us':>12} {'withdrawal us':>14} {'deposit us/leaf':>16}"
    print(f"{header} {'tree build us':>14}")
    for size in SIZES:
        root = random_pie(rng, "", 10_000, size, 3)
        root = scale_values(root, Decimal(1000 * size) / pie_value(root))
        value = pie_value(root)
        deposit = floor_cents(value / 100)
        withdrawal = floor_cents(value / 10)
        assert allocate_buy(root, deposit).total == deposit
        assert allocate_sell(root, withdrawal).total == withdrawal
        buy_us = time_per_call(lambda root=root, a=deposit: allocate_buy(root, a))
        sell_us = time_per_call(lambda root=root, a=withdrawal: allocate_sell(root, a))
        build_us = time_per_call(lambda root=root: rebuild(root))
        deposits[str(size)] = round(buy_us, 1)
        print(
            f"{size:>6} {buy_us:>12.1f} {sell_us:>14.1f} {buy_us / size:>16.2f} {build_us:>14.1f}"
        )
    print(json.dumps({"us_per_call": deposits}))


if __name__ == "__main__":
    main()
