"""The pie as a server-rendered SVG donut: no chart library, no JavaScript.

Three concentric rings per slice: the outer band is the slice's actual share of the pie, a
thin inner ring is its target share, and a thin outermost band is coloured by drift (how far
actual is from target). Money stays Decimal elsewhere; only the geometry here uses floats,
because SVG coordinates are floats anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Colour-blind-friendly palette (Okabe-Ito, then a few darker tones) with enough contrast
# against the white page for the thin rings.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#6A3D9A",
    "#B8860B",
    "#1B7837",
    "#7F7F7F",
)

PALETTE_SIZE = len(PALETTE)  # the stylesheet has a .colour-N class for each

CENTER = 100.0
ACTUAL_OUTER, ACTUAL_INNER = 88.0, 62.0
TARGET_OUTER, TARGET_INNER = 58.0, 50.0
DRIFT_OUTER, DRIFT_INNER = 96.0, 91.0


@dataclass(frozen=True)
class DonutSlice:
    label: str
    actual_percent: Decimal | None
    target_percent: Decimal
    drift_percent: Decimal | None = None
    colour: int | None = None  # the slice's own colour index (default: its position)
    url: str = ""  # where the slice leads (a sub-pie's page)


@dataclass(frozen=True)
class Arc:
    label: str
    colour: str
    colour_index: int
    url: str
    actual_path: str
    target_path: str
    drift_path: str
    drift_class: str
    actual_percent: Decimal | None
    target_percent: Decimal
    drift_percent: Decimal | None

    @property
    def description(self) -> str:
        actual = "no value yet" if self.actual_percent is None else f"{self.actual_percent:.2f}%"
        return f"{self.label}: actual {actual}, target {self.target_percent:.2f}%"


@dataclass(frozen=True)
class Donut:
    arcs: list[Arc]
    empty: bool
    has_value: bool


def _point(radius: float, fraction: float) -> tuple[float, float]:
    angle = 2 * math.pi * fraction - math.pi / 2  # start at 12 o'clock, clockwise
    return CENTER + radius * math.cos(angle), CENTER + radius * math.sin(angle)


def ring_segment(start: float, end: float, outer: float, inner: float) -> str:
    """An annulus segment from ``start`` to ``end`` (fractions of the circle) as a path."""
    if end - start <= 0:
        return ""
    if end - start >= 0.99999:
        # A full ring cannot be drawn as one arc: two half rings, even-odd filled.
        return (
            f"M {CENTER - outer:.3f} {CENTER:.3f} a {outer} {outer} 0 1 0 {2 * outer} 0 "
            f"a {outer} {outer} 0 1 0 {-2 * outer} 0 Z "
            f"M {CENTER - inner:.3f} {CENTER:.3f} a {inner} {inner} 0 1 1 {2 * inner} 0 "
            f"a {inner} {inner} 0 1 1 {-2 * inner} 0 Z"
        )
    large = 1 if end - start > 0.5 else 0
    x0, y0 = _point(outer, start)
    x1, y1 = _point(outer, end)
    x2, y2 = _point(inner, end)
    x3, y3 = _point(inner, start)
    return (
        f"M {x0:.3f} {y0:.3f} A {outer} {outer} 0 {large} 1 {x1:.3f} {y1:.3f} "
        f"L {x2:.3f} {y2:.3f} A {inner} {inner} 0 {large} 0 {x3:.3f} {y3:.3f} Z"
    )


def _drift_class(drift: Decimal | None) -> str:
    if drift is None:
        return "drift-none"
    size = abs(drift)
    if size < 1:
        return "drift-ok"
    return "drift-warn" if size < 5 else "drift-bad"


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _optional(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def build_donut(slices: Any) -> Donut:
    """Slices with ``label``, ``actual_percent`` (None before any value), ``target_percent``
    and ``drift_percent`` (dicts or objects), in the pie's order."""
    items = list(slices or [])
    actuals = [_field(item, "actual_percent") for item in items]
    has_value = any(a is not None and Decimal(a) > 0 for a in actuals)
    total_actual = sum((Decimal(a) for a in actuals if a is not None), Decimal(0))
    total_target = sum((Decimal(_field(item, "target_percent")) for item in items), Decimal(0))

    arcs: list[Arc] = []
    actual_at = target_at = 0.0
    for index, item in enumerate(items):
        actual = _field(item, "actual_percent")
        actual = None if actual is None else Decimal(actual)
        target = Decimal(_field(item, "target_percent"))
        drift = _field(item, "drift_percent")
        drift = None if drift is None else Decimal(drift)
        actual_share = float(actual / total_actual) if has_value and actual else 0.0
        target_share = float(target / total_target) if total_target else 0.0
        own = _optional(item, "colour")
        colour_index = (index if own is None else int(own)) % PALETTE_SIZE
        arcs.append(
            Arc(
                label=str(_field(item, "label")),
                colour=PALETTE[colour_index],
                colour_index=colour_index,
                url=str(_optional(item, "url") or ""),
                actual_path=ring_segment(
                    actual_at, actual_at + actual_share, ACTUAL_OUTER, ACTUAL_INNER
                ),
                target_path=ring_segment(
                    target_at, target_at + target_share, TARGET_OUTER, TARGET_INNER
                ),
                drift_path=ring_segment(
                    actual_at, actual_at + actual_share, DRIFT_OUTER, DRIFT_INNER
                ),
                drift_class=_drift_class(drift),
                actual_percent=actual,
                target_percent=target,
                drift_percent=drift,
            )
        )
        actual_at += actual_share
        target_at += target_share
    return Donut(arcs=arcs, empty=not items, has_value=has_value)
