"""Allocation kernel benchmark (performance.md, section 1).

Seeded random nested pies with S leaves (about 1,000.00 per leaf, drift +-30 %); deposits of 1 %
and withdrawals of 10 % of the pie's value. Prints microseconds per call (median of 7 runs, each
long enough to last 0.2 s), checks every result sums to the amount, and ends with one JSON line.
Times are the process's CPU time (``time.process_time``): on a shared machine, the time spent
waiting for a core does not count; the load average is printed at the end.

The first table times the calls on ready-built ``Node`` trees. The second times what the window
pays per account: from plain rows (tuples of ints: pie, basis points, cents, sub-pie) to cents
per leaf, input building included, on nested pies and on flat ones (one level of S slices, the
worst case for a water-fill), each over a batch of 16 seeded pies. "rows" is the kernel's row
entry (``buy_rows`` / ``sell_rows``), "nodes" the ``Node`` API with its tree built from the same
rows. Where the float peer ``../shared/peers/lazy_rebalance/rebalance.py`` exists (GPL: loaded by
path, never copied), it is timed on the same flat inputs in the same run (its input built from
the same rows) and the ratio ours (rows) / peer is printed; inputs it crashes on are counted and
left out of both timings of the ratio.

Run: .venv/bin/python bench/allocation.py
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pies import allocation  # noqa: E402
from pies.allocation import Node, allocate_buy, allocate_sell, leaf, pie, pie_value  # noqa: E402
from trading.money import floor_cents  # noqa: E402

SIZES = (5, 20, 100, 1000)
RATIO_SIZES = ("20", "100")
RUNS = 7
MIN_RUN_SECONDS = 0.2
BATCH = 16  # pies per size in the build-included tables
PEER = REPO.parent / "shared" / "peers" / "lazy_rebalance" / "rebalance.py"

Row = tuple[int, int, int, int | None]  # (pie, target_bp, value in cents, sub-pie or None)


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


def nested_pie(rng: random.Random, size: int) -> Node:
    root = random_pie(rng, "", 10_000, size, 3)
    return scale_values(root, Decimal(1000 * size) / pie_value(root))


# --- Plain rows, as the window reads them ---------------------------------------------------


def rows_of(root: Node) -> tuple[list[Row], list[str]]:
    """The tree as rows ordered by pie (as the window's query returns them), with their keys."""
    found: list[tuple[int, Row, str]] = []
    ids = itertools.count(1)

    def visit(node: Node, pie_id: int) -> None:
        for child in node.children:
            if child.is_pie:
                child_id = next(ids)
                found.append((pie_id, (pie_id, child.target_bp, 0, child_id), child.key))
                visit(child, child_id)
            else:
                cents = int(child.value.scaleb(2))
                found.append((pie_id, (pie_id, child.target_bp, cents, None), child.key))

    visit(root, 0)
    found.sort(key=lambda item: item[0])
    return [row for _, row, _ in found], [key for _, _, key in found]


def flat_rows(rng: random.Random, size: int) -> tuple[list[Row], list[str]]:
    """One level of ``size`` slices, about 1,000.00 each, drift +-30 %."""
    rows: list[Row] = [
        (0, bp, round(100_000 * size * bp / 10_000 * rng.uniform(0.7, 1.3)), None)
        for bp in targets(rng, size)
    ]
    return rows, [f"S{i}" for i in range(size)]


def nodes_from_rows(rows: Sequence[Row], keys: Sequence[str]) -> Node:
    """What the window does today before calling the Node API: a tree from its rows."""
    members: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        members.setdefault(row[0], []).append(i)

    def build(pie_id: int, key: str, target: int) -> Node:
        children = []
        for i in members.get(pie_id, ()):
            _, bp, cents, child = rows[i]
            if child is None:
                children.append(leaf(keys[i], bp, Decimal(cents).scaleb(-2)))
            else:
                children.append(build(child, keys[i], bp))
        return pie(key, target, children)

    return build(0, "", 10_000)


class Case:
    """One pie as plain rows with the amounts to deposit and withdraw (in cents)."""

    def __init__(self, rows: list[Row], keys: list[str]) -> None:
        self.rows = rows
        self.keys = keys
        value = sum(row[2] for row in rows)
        self.deposit = value // 100
        self.withdrawal = value // 10


def node_call(case: Case, kind: str) -> Callable[[], int]:
    if kind == "deposit":
        amount = Decimal(case.deposit).scaleb(-2)
        return lambda: len(allocate_buy(nodes_from_rows(case.rows, case.keys), amount).amounts)
    amount = Decimal(case.withdrawal).scaleb(-2)
    return lambda: len(allocate_sell(nodes_from_rows(case.rows, case.keys), amount).amounts)


def row_call(case: Case, kind: str) -> Callable[[], int] | None:
    if not hasattr(allocation, "buy_rows"):
        return None  # the kernel before its row entry
    if kind == "deposit":
        return lambda: len(allocation.buy_rows(case.rows, case.deposit).amounts)
    return lambda: len(allocation.sell_rows(case.rows, case.withdrawal).amounts)


def peer_call(peer: ModuleType, case: Case, kind: str) -> Callable[[], int]:
    amount = case.deposit / 100 if kind == "deposit" else -case.withdrawal / 100
    rows = case.rows

    def call() -> int:
        assets = [(i, bp / 10_000, cents / 100) for i, (_, bp, cents, _) in enumerate(rows)]
        return len(peer.rebalance(amount, assets))

    return call


def check(case: Case, kind: str) -> None:
    """Every result sums to the amount to the cent (and the two entries agree)."""
    amount = case.deposit if kind == "deposit" else case.withdrawal
    tree = nodes_from_rows(case.rows, case.keys)
    split_tree = allocate_buy if kind == "deposit" else allocate_sell
    result = split_tree(tree, Decimal(amount).scaleb(-2))
    assert result.total == Decimal(amount).scaleb(-2), (kind, amount)
    if hasattr(allocation, "buy_rows"):
        split = allocation.buy_rows if kind == "deposit" else allocation.sell_rows
        cents = split(case.rows, amount).amounts
        assert sum(cents.values()) == amount
        assert {case.keys[i]: Decimal(c).scaleb(-2) for i, c in cents.items()} == result.amounts


def time_per_call(call: Callable[[], object]) -> float:
    """Median over RUNS of the microseconds (of CPU time) per call."""
    start = time.process_time()
    call()
    once = max(time.process_time() - start, 1e-6)
    calls = max(1, int(MIN_RUN_SECONDS / once))
    results = []
    for _ in range(RUNS):
        start = time.process_time()
        for _ in range(calls):
            call()
        results.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(results)


def time_batch(calls: Sequence[Callable[[], object]]) -> float | None:
    """Median microseconds per call over a batch of calls (None for an empty batch)."""
    if not calls:
        return None

    def run() -> None:
        for call in calls:
            call()

    return time_per_call(run) / len(calls)


def load_peer() -> ModuleType | None:
    if not PEER.exists():
        return None
    spec = importlib.util.spec_from_file_location("lazy_rebalance_peer", PEER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crashes(call: Callable[[], object]) -> bool:
    try:
        call()
    except Exception:  # the peer's own failures (IndexError, RecursionError, ...)
        return True
    return False


def fmt(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def node_table(rng: random.Random) -> dict[str, float]:
    deposits: dict[str, float] = {}
    header = f"{'S':>6} {'deposit us':>12} {'withdrawal us':>14} {'deposit us/leaf':>16}"
    print(f"{header} {'tree build us':>14}")
    for size in SIZES:
        root = nested_pie(rng, size)
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
    return deposits


def build_included_table(rng: random.Random, peer: ModuleType | None) -> dict:
    print()
    print(
        f"Build included (plain rows -> cents per leaf), us per call, mean over {BATCH} pies;"
        " flat = one level of S slices"
    )
    kinds = ("deposit", "withdrawal")
    columns = ["nested rows", "nested nodes", "flat rows", "flat nodes"]
    if peer is not None:
        columns += ["flat peer", "ours/peer"]
    header = f"{'S':>6} {'kind':>11} " + " ".join(f"{c:>12}" for c in columns)
    print(header)
    ratios: dict[str, dict[str, float]] = {kind: {} for kind in kinds}
    timings: dict[str, dict[str, dict[str, float | None]]] = {kind: {} for kind in kinds}
    crashed: dict[str, dict[str, int]] = {kind: {} for kind in kinds}
    for size in SIZES:
        nested = [Case(*rows_of(nested_pie(rng, size))) for _ in range(BATCH)]
        flat = [Case(*flat_rows(rng, size)) for _ in range(BATCH)]
        for kind in kinds:
            for case in nested + flat:
                check(case, kind)
            rows_nested = [c for c in (row_call(case, kind) for case in nested) if c]
            rows_flat = [c for c in (row_call(case, kind) for case in flat) if c]
            nodes_flat = [node_call(case, kind) for case in flat]
            line = {
                "nested rows": time_batch(rows_nested),
                "nested nodes": time_batch([node_call(case, kind) for case in nested]),
                "flat rows": time_batch(rows_flat),
                "flat nodes": time_batch(nodes_flat),
            }
            if peer is not None:
                peers = [peer_call(peer, case, kind) for case in flat]
                ok = [i for i, call in enumerate(peers) if not crashes(call)]
                crashed[kind][str(size)] = len(flat) - len(ok)
                peer_us = time_batch([peers[i] for i in ok])
                # Ours: the row entry (the kernel before it had none: the Node API from rows).
                mine = rows_flat or nodes_flat
                ours = line["flat rows"] if rows_flat else line["flat nodes"]
                if len(ok) < len(flat):  # ours on the same inputs as the peer
                    ours = time_batch([mine[i] for i in ok])
                line["flat peer"] = peer_us
                ratio = None if ours is None or peer_us is None else ours / peer_us
                line["ours/peer"] = ratio
                if ratio is not None:
                    ratios[kind][str(size)] = round(ratio, 2)
            timings[kind][str(size)] = {k: v for k, v in line.items() if k != "ours/peer"}
            cells = " ".join(
                fmt(line[c], 12, 2 if c == "ours/peer" else 1) for c in columns if c in line
            )
            print(f"{size:>6} {kind:>11} {cells}")
    if peer is None:
        print(f"No peer at {PEER}: the ratio to the float peer is skipped.")
        return {}
    if not hasattr(allocation, "buy_rows"):
        print("No row entry in pies.allocation: the ratio uses the Node API from rows.")
    for kind in kinds:
        counts = ", ".join(f"S={size}: {n}/{BATCH}" for size, n in crashed[kind].items())
        print(f"Peer crashes ({kind}, left out of both timings of the ratio): {counts}")
    return {"peer_ratio": {kind: {s: ratios[kind].get(s) for s in RATIO_SIZES} for kind in kinds}}


def main() -> None:
    rng = random.Random(20240601)
    deposits = node_table(rng)
    extra = build_included_table(rng, load_peer())
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Load average at the end: {load} ({os.cpu_count()} cores)")
    print(json.dumps({"us_per_call": deposits, **extra}))


if __name__ == "__main__":
    main()
