"""Each slice keeps its colour across edits and moves (issue 14); the donut's slices are links
and the account page names the pie."""

from __future__ import annotations

import re

import pytest

from pies.models import Pie, Slice
from tests.web.builders import build_pie

pytestmark = pytest.mark.django_db


def colours(account) -> dict[str, int]:
    return {
        (s.security.symbol if s.security else s.child_pie.name): s.colour
        for s in Slice.objects.filter(pie__account=account)
        .exclude(status="removed")
        .select_related("security", "child_pie")
    }


def test_a_slice_keeps_its_colour_when_others_come_go_and_move(alice_account, make_security):
    for symbol in ("VTI", "BND", "TIP", "AGG"):
        make_security(symbol, "100.00")
    build_pie(
        alice_account,
        [
            {"target_percent": "40", "symbol": "VTI"},
            {"target_percent": "30", "symbol": "BND"},
            {"target_percent": "30", "symbol": "TIP"},
        ],
    )
    assert colours(alice_account) == {"VTI": 0, "BND": 1, "TIP": 2}
    # BND goes (it holds nothing), TIP moves first, AGG comes: it takes the free colour.
    build_pie(
        alice_account,
        [
            {"target_percent": "30", "symbol": "TIP"},
            {"target_percent": "40", "symbol": "VTI"},
            {"target_percent": "30", "symbol": "AGG"},
        ],
    )
    assert colours(alice_account) == {"TIP": 2, "VTI": 0, "AGG": 1}
    # A move into a new sub-pie by id keeps the colour; the sub-pie takes a free one.
    tip = Slice.objects.get(security__symbol="TIP")
    build_pie(
        alice_account,
        [
            {"target_percent": "40", "symbol": "VTI"},
            {"target_percent": "30", "symbol": "AGG"},
            {
                "target_percent": "30",
                "pie": {"name": "Safe", "slices": [{"id": tip.pk, "target_percent": "100", "symbol": "TIP"}]},
            },
        ],
    )  # fmt: skip
    assert colours(alice_account) == {"VTI": 0, "AGG": 1, "Safe": 2, "TIP": 2}


def test_the_donut_uses_the_slice_colours_links_each_slice_and_the_page_names_the_pie(
    alice_client, core_pie
):
    Slice.objects.filter(security__symbol="VTI").update(colour=7)
    page = alice_client.get(f"/account/{core_pie.pk}/").content.decode()
    bonds = Pie.objects.get(account=core_pie, name="Bonds")
    assert f'<a href="/account/{core_pie.pk}/pie/{bonds.pk}/" class="donut-link">' in page
    assert f'<a href="/account/{core_pie.pk}/activity/?security=VTI" class="donut-link">' in page
    assert re.search(r'class="donut-slice colour-7" data-label="VTI"', page)
    assert 'class="swatch colour-7"' in page
    assert re.search(r'<h2 id="pie-name" class="pie-name">Portfolio <span', page)
    assert " style=" not in page
