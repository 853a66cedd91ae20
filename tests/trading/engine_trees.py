"""Pie trees for the engine's stateful test: the live tree as the editor sends it, random
edits of it (targets, new funds and sub-pies, drops, moves by id, re-adds), a first tree."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pies.models import Pie, Slice

PRICES = {"AAA": "13.37", "BBB": "7.1234", "CCC": "101.0101", "DDD": "3.33", "EEE": "48.52"}
SYMBOLS = [*PRICES, "ZZZ"]  # ZZZ has no price until a price move lists it


def percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}"


def split(weights: list[int]) -> list[int]:
    """10,000 basis points in proportion to ``weights`` (each part at least 1)."""
    total = sum(weights)
    parts = [max(1, 10_000 * w // total) for w in weights]
    parts[-1] += 10_000 - sum(parts)
    return parts


# --- the pie tree as the editor sends it ------------------------------------------------------


def live_tree(account_id: int) -> list[dict[str, Any]]:
    """The account's active slices as nested dicts (removing ones are left out: a save that
    does not name them leaves them removing)."""
    rows = list(
        Slice.objects.filter(pie__account_id=account_id, status="active")
        .select_related("security", "child_pie")
        .order_by("order", "id")
    )
    by_pie: dict[int, list[Slice]] = {}
    for row in rows:
        by_pie.setdefault(row.pie_id, []).append(row)

    def build(pie_id: int) -> list[dict[str, Any]]:
        out = []
        for s in by_pie.get(pie_id, []):
            if s.child_pie is not None:
                node = {
                    "id": s.child_pie_id,
                    "name": s.child_pie.name,
                    "slices": build(s.child_pie_id),
                }
                out.append({"id": s.pk, "pie": node})
            else:
                out.append({"id": s.pk, "symbol": s.security.symbol})
        return out

    root = Pie.objects.get(account_id=account_id, is_root=True)
    return build(root.pk)


def pies_in(slices: list[dict[str, Any]], depth: int = 1) -> list[tuple[list[dict], int]]:
    found = [(slices, depth)]
    for item in slices:
        if "pie" in item:
            found.extend(pies_in(item["pie"]["slices"], depth + 1))
    return found


def retarget(slices: list[dict[str, Any]], data: Any) -> None:
    if slices:
        weights = data.draw(st.lists(st.integers(1, 6), min_size=len(slices), max_size=len(slices)))
        for item, bp in zip(slices, split(weights), strict=True):
            item["target_percent"] = percent(bp)
    for item in slices:
        if "pie" in item:
            retarget(item["pie"]["slices"], data)


def edited_tree(account_id: int, data: Any, names: list[int]) -> dict[str, Any]:
    """The live tree with one random edit, new targets everywhere."""
    slices = live_tree(account_id)
    pies = pies_in(slices)
    edit = data.draw(
        st.sampled_from(["targets", "add", "drop", "add_pie", "move", "drop_pie", "readd"])
    )
    home, depth = data.draw(st.sampled_from(pies))
    if edit in ("add", "readd"):
        present = {item.get("symbol") for item in home}
        choices = [s for s in SYMBOLS if s not in present]
        if choices:
            home.append({"symbol": data.draw(st.sampled_from(choices))})
    elif edit == "drop" and home and (len(home) > 1 or depth == 1):
        home.pop(data.draw(st.integers(0, len(home) - 1)))
    elif edit == "add_pie" and depth < 3:
        names[0] += 1
        leaves = data.draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=2, unique=True))
        home.append({"pie": {"name": f"P{names[0]}", "slices": [{"symbol": s} for s in leaves]}})
    elif edit == "drop_pie":
        subs = [i for i, item in enumerate(home) if "pie" in item]
        if subs and (len(home) > 1 or depth == 1):
            home.pop(data.draw(st.sampled_from(subs)))
    elif edit == "move":
        leaves = [(p, i) for p, _ in pies for i, item in enumerate(p) if "symbol" in item]
        if leaves:
            source, index = data.draw(st.sampled_from(leaves))
            if len(source) > 1 or source is slices:
                moving = source.pop(index)
                target, _ = data.draw(st.sampled_from(pies_in(slices)))
                target.append(moving)
    retarget(slices, data)
    return {"name": "Portfolio", "slices": slices}


def initial_tree(data: Any) -> dict[str, Any]:
    """Two or three funds at the top, a sub-pie of one or two, and maybe one inside it."""

    def funds(low: int, high: int, pool: list[str]) -> list[dict[str, Any]]:
        drawn = data.draw(st.lists(st.sampled_from(pool), min_size=low, max_size=high, unique=True))
        return [{"symbol": symbol} for symbol in drawn]

    inner: list[dict[str, Any]] = funds(1, 2, SYMBOLS)
    if data.draw(st.booleans()):
        inner.append({"pie": {"name": "Inner", "slices": funds(1, 2, list(PRICES))}})
    slices = [*funds(2, 3, list(PRICES)), {"pie": {"name": "Sub", "slices": inner}}]
    retarget(slices, data)
    return {"name": "Portfolio", "slices": slices}
