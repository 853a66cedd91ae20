"""Number formatting filters and the SVG donut."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pies.donut import build_donut, ring_segment
from pies.templatetags.pies_format import (
    drift_class,
    money,
    percent,
    price,
    quantity,
    signed_money,
    signed_percent,
)


@pytest.mark.parametrize(
    "value,shown",
    [
        (Decimal("1234567.5"), "$1,234,567.50"),
        (Decimal("-1234.5"), "\u2212$1,234.50"),
        (Decimal("0.005"), "$0.01"),  # half-up, for display only
        (Decimal("-0.001"), "$0.00"),  # never "-0.00"
        ("12", "$12.00"),
        (None, "\u2014"),
        ("abc", "\u2014"),
        (Decimal("NaN"), "\u2014"),
    ],
)
def test_money_has_separators_and_two_decimals(value, shown):
    assert money(value) == shown


def test_signed_money_marks_gains_and_losses():
    assert signed_money(Decimal("12")) == "+$12.00"
    assert signed_money(Decimal("-12")) == "\u2212$12.00"
    assert signed_money(Decimal("0")) == "$0.00"


def test_quantities_have_six_decimals_and_percentages_two():
    assert quantity(Decimal("1234.5")) == "1,234.500000"
    assert quantity(Decimal("0.0000004")) == "0.000000"
    assert percent(Decimal("33.3333")) == "33.33%"
    assert signed_percent(Decimal("-13.45")) == "\u221213.45%"
    assert signed_percent(Decimal("2")) == "+2.00%"


def test_prices_show_sub_cent_digits_only_when_they_matter():
    assert price(Decimal("412.1200")) == "$412.12"
    assert price(Decimal("412.1234")) == "$412.1234"


@pytest.mark.parametrize(
    "drift,css",
    [("0.5", "drift-ok"), ("-3", "drift-warn"), ("7", "drift-bad"), (None, "drift-none")],
)
def test_drift_colours(drift, css):
    assert drift_class(drift) == css


def test_the_donut_draws_one_arc_per_slice_in_proportion():
    donut = build_donut(
        [
            {"label": "VTI", "actual_percent": "75", "target_percent": "60", "drift_percent": "15"},
            {
                "label": "BND",
                "actual_percent": "25",
                "target_percent": "40",
                "drift_percent": "-15",
            },
        ]
    )
    assert [arc.label for arc in donut.arcs] == ["VTI", "BND"]
    assert all(arc.actual_path and arc.target_path for arc in donut.arcs)
    assert donut.arcs[0].actual_path.split(" A ")[1].split()[3] == "1"  # 75%: the large arc
    assert donut.arcs[1].actual_path.split(" A ")[1].split()[3] == "0"
    assert donut.arcs[0].drift_class == "drift-bad"
    assert donut.arcs[0].description == "VTI: actual 75.00%, target 60.00%"


def test_an_unfunded_pie_draws_targets_only_and_an_empty_pie_nothing():
    unfunded = build_donut(
        [{"label": "VTI", "actual_percent": None, "target_percent": "100", "drift_percent": None}]
    )
    assert not unfunded.has_value
    assert unfunded.arcs[0].actual_path == ""
    assert unfunded.arcs[0].target_path.count("Z") == 2  # a full ring is two closed halves
    assert build_donut([]).empty


def test_a_ring_segment_of_nothing_is_empty():
    assert ring_segment(0.2, 0.2, 10, 5) == ""
