"""The read side of a portfolio: the live pie tree with quantities, prices and values.

``load_portfolio`` reads an account's whole tree in one query (pies, slices, positions with
their open cost, latest prices), whatever its size or depth, so the account page, the pie
editor, the API and the previews all stand on the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from pies.allocation import Node, leaf, pie
from pies.models import Pie, SliceStatus
from trading.models import Account, Lot
from trading.money import CENT, ZERO, sellable_value
from trading.valuation import latest_price_sql

HUNDRED = Decimal(100)


def percent(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return ZERO
    return (part * HUNDRED / whole).quantize(CENT)


@dataclass
class SliceView:
    id: int
    pie_id: int
    target_bp: int
    status: str
    order: int
    path: str
    name: str  # the symbol, or the sub-pie's name
    colour: int = 0  # its donut colour (an index into pies.donut.PALETTE)
    security_id: int | None = None
    symbol: str | None = None
    security_name: str = ""
    child: PieView | None = None
    position_id: int | None = None
    quantity: Decimal = ZERO
    price: Decimal | None = None
    price_at: datetime | None = None
    cost_basis: Decimal = ZERO
    exact_value: Decimal = ZERO  # quantity x price, unrounded (the allocation input)
    value: Decimal = ZERO  # its sellable value: rounded down to cents (a sub-pie: the sum)
    actual_percent: Decimal = ZERO  # of the parent pie's value
    drift_percent: Decimal = ZERO  # actual minus target, in points
    portfolio_target_percent: Decimal = ZERO  # product of targets along the path
    portfolio_actual_percent: Decimal = ZERO  # of the invested value

    @property
    def is_pie(self) -> bool:
        return self.child is not None

    @property
    def is_removing(self) -> bool:
        return self.status == SliceStatus.REMOVING

    @property
    def target_percent(self) -> Decimal:
        return (Decimal(self.target_bp) / 100).quantize(CENT)

    @property
    def unrealized_gain(self) -> Decimal:
        return self.value - self.cost_basis

    def leaves(self) -> Iterator[SliceView]:
        if self.child is None:
            yield self
        else:
            yield from self.child.leaves()


@dataclass
class PieView:
    id: int
    name: str
    path: str  # "" for the portfolio pie, "Bonds" or "Bonds/Short" for sub-pies
    depth: int  # the portfolio pie is level 1
    slices: list[SliceView] = field(default_factory=list)
    exact_value: Decimal = ZERO
    value: Decimal = ZERO
    cost_basis: Decimal = ZERO

    def leaves(self) -> Iterator[SliceView]:
        for slice_ in self.slices:
            yield from slice_.leaves()

    def pies(self) -> Iterator[PieView]:
        yield self
        for slice_ in self.slices:
            if slice_.child is not None:
                yield from slice_.child.pies()

    def to_node(self, *, target_bp: int = 10000) -> Node:
        """The allocation input for this pie: keys are leaf paths, refs are slice ids."""
        children = []
        for slice_ in self.slices:
            if slice_.child is not None:
                sub = slice_.child.to_node(target_bp=slice_.target_bp)
                children.append(pie(sub.key, slice_.target_bp, sub.children, ref=slice_.id))
            else:
                children.append(
                    leaf(slice_.path, slice_.target_bp, slice_.exact_value, ref=slice_.id)
                )
        return pie(self.path, target_bp, children)


@dataclass
class PortfolioView:
    account: Account
    root: PieView
    version: int
    cash: Decimal
    missing_prices: list[str]  # symbols held or targeted that have no price yet

    @property
    def invested_value(self) -> Decimal:
        return self.root.value

    @property
    def total_value(self) -> Decimal:
        return self.cash + self.root.value

    @property
    def leaves(self) -> list[SliceView]:
        return list(self.root.leaves())

    def find_pie(self, pie_id: int) -> PieView | None:
        return next((p for p in self.root.pies() if p.id == pie_id), None)

    def breadcrumb(self, pie_id: int) -> list[PieView]:
        """The pies from the portfolio down to ``pie_id`` (for the sub-pie page)."""

        def walk(node: PieView, trail: list[PieView]) -> list[PieView] | None:
            trail = [*trail, node]
            if node.id == pie_id:
                return trail
            for slice_ in node.slices:
                if slice_.child is not None and (found := walk(slice_.child, trail)):
                    return found
            return None

        return walk(self.root, []) or []

    def to_node(self, pie_id: int | None = None) -> Node:
        target = self.root if pie_id is None else self.find_pie(pie_id)
        if target is None:
            raise KeyError(pie_id)
        return target.to_node()


# An account's pies, each with its live slices in order (a pie without any: one row of NULLs),
# each slice's security with its latest price, and its position with the cost of its open
# lots. One statement: the four the ORM and ``latest_prices`` would send cost the account page
# several times as long, each a round trip that waits on a busy database under load.
_TREE = f"""
    SELECT p.id, p.name, p.is_root, p.version,
           s.id, s.security_id, sec.symbol, sec.name, s.child_pie_id, s.target_bp, s.status,
           s."order", s.colour, pos.id, pos.quantity, open_lots.cost, lp.price, lp.at
    FROM pies_pie p
    LEFT JOIN pies_slice s ON s.pie_id = p.id AND s.status <> %(removed)s
    LEFT JOIN trading_security sec ON sec.id = s.security_id
    LEFT JOIN {latest_price_sql(security="s.security_id", at="%(at)s")} lp ON TRUE
    LEFT JOIN trading_position pos ON pos.slice_id = s.id AND pos.account_id = %(account)s
    LEFT JOIN LATERAL (
        SELECT SUM(l.remaining_cost) AS cost FROM trading_lot l
        WHERE l.position_id = pos.id AND l.remaining_quantity > 0
    ) open_lots ON TRUE
    WHERE p.account_id = %(account)s
    ORDER BY p.id, s."order", s.id
"""


def load_portfolio(account: Account, *, at: datetime | None = None) -> PortfolioView:
    """The account's live tree (active and removing slices) valued at the latest prices at
    ``at`` (default now). One query."""
    when = at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_TREE, {"account": account.pk, "removed": SliceStatus.REMOVED, "at": when})
        rows = cursor.fetchall()
    pies: dict[int, tuple[str, bool, int]] = {}
    slice_rows: list[tuple] = []
    positions: dict[int, tuple[int | None, Decimal, Decimal]] = {}
    prices: dict[int, tuple[Decimal, datetime]] = {}
    for row in rows:
        pie_id, name, is_root, version, slice_id = row[:5]
        pies[pie_id] = (name, is_root, version)
        if slice_id is None:
            continue
        slice_rows.append((slice_id, pie_id, *row[5:13]))  # security_id ... colour
        position_id, quantity, cost, price, price_at = row[13:]
        if position_id is not None:
            positions[slice_id] = (position_id, quantity, cost or ZERO)
        if price is not None:
            prices[row[5]] = (price, price_at)

    children_of: dict[int, list[tuple]] = {}
    for row in slice_rows:
        children_of.setdefault(row[1], []).append(row)
    root_id = next((pk for pk, (_, is_root, _) in pies.items() if is_root), None)
    if root_id is None:
        raise Pie.DoesNotExist(f"Account {account.pk} has no portfolio pie.")
    missing: list[str] = []

    def build(pie_id: int, path: str, depth: int) -> PieView:
        view = PieView(id=pie_id, name=pies[pie_id][0], path=path, depth=depth)
        for (
            sid,
            _,
            security_id,
            symbol,
            sec_name,
            child_id,
            target_bp,
            status,
            order,
            colour,
        ) in children_of.get(pie_id, []):
            if child_id is not None:
                name = pies[child_id][0]
                child_path = f"{path}/{name}" if path else name
                child = build(child_id, child_path, depth + 1)
                slice_view = SliceView(
                    id=sid,
                    pie_id=pie_id,
                    target_bp=target_bp,
                    status=status,
                    order=order,
                    path=child_path,
                    name=name,
                    colour=colour,
                    child=child,
                    exact_value=child.exact_value,
                    value=child.value,
                    cost_basis=child.cost_basis,
                )
            else:
                position_id, quantity, cost = positions.get(sid, (None, ZERO, ZERO))
                price, price_at = prices.get(security_id, (None, None))
                if price is None:
                    missing.append(symbol)
                exact = quantity * price if price is not None else ZERO
                slice_view = SliceView(
                    id=sid,
                    pie_id=pie_id,
                    target_bp=target_bp,
                    status=status,
                    order=order,
                    path=f"{path}/{symbol}" if path else symbol,
                    name=symbol,
                    colour=colour,
                    security_id=security_id,
                    symbol=symbol,
                    security_name=sec_name,
                    position_id=position_id,
                    quantity=quantity,
                    price=price,
                    price_at=price_at,
                    cost_basis=cost,
                    exact_value=exact,
                    value=sellable_value(exact),
                )
            view.slices.append(slice_view)
            view.exact_value += slice_view.exact_value
            view.value += slice_view.value  # the sum of its sellable values: a table adds up
            view.cost_basis += slice_view.cost_basis
        for slice_view in view.slices:
            slice_view.actual_percent = percent(slice_view.exact_value, view.exact_value)
            slice_view.drift_percent = (
                slice_view.actual_percent - slice_view.target_percent if view.exact_value else ZERO
            )
        return view

    root = build(root_id, "", 1)
    invested = root.exact_value

    def weigh(view: PieView, fraction: Decimal) -> None:
        for slice_view in view.slices:
            share = fraction * slice_view.target_bp / 10000
            slice_view.portfolio_target_percent = (share * HUNDRED).quantize(CENT)
            slice_view.portfolio_actual_percent = percent(slice_view.exact_value, invested)
            if slice_view.child is not None:
                weigh(slice_view.child, share)

    weigh(root, Decimal(1))
    return PortfolioView(
        account=account,
        root=root,
        version=pies[root_id][2],
        cash=account.cash,
        missing_prices=sorted(set(missing)),
    )


def open_lots(position_ids: Iterable[int]) -> dict[int, list[Lot]]:
    """Open lots per position, oldest first, in one query (for previews and the lots page)."""
    by_position: dict[int, list[Lot]] = {}
    for lot in Lot.objects.filter(
        position_id__in=list(position_ids), remaining_quantity__gt=0
    ).order_by("acquired_on", "id"):
        by_position.setdefault(lot.position_id, []).append(lot)
    return by_position
