"""The engine's shared SQL pieces, each on its own (docs/architecture.md, "Engine SQL a reader
can follow"): the one "latest price at or before t" fragment, read by the pages, the
snapshots and the window alike."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from trading.valuation import latest_prices
from trading.window.common import window_prices

D = Decimal


def test_the_latest_price_is_the_last_one_at_or_before_t_and_a_later_one_is_not_seen(
    make_security,
):
    t = timezone.now() - timedelta(days=1)
    vti = make_security("VTI", "90.00", at=t - timedelta(days=2))
    make_security("VTI", "95.00", at=t)  # exactly at t: taken
    make_security("VTI", "99.00", at=t + timedelta(hours=1))  # after t: not yet
    bnd = make_security("BND", "70.00", at=t + timedelta(seconds=1))  # only after t
    new = make_security("NEW", None)  # never priced

    assert latest_prices([vti.pk, bnd.pk, new.pk], t) == {vti.pk: (D("95.00"), t)}
    assert latest_prices([vti.pk, bnd.pk, new.pk]) == {
        vti.pk: (D("99.00"), t + timedelta(hours=1)),
        bnd.pk: (D("70.00"), t + timedelta(seconds=1)),
    }
    prices, symbols = window_prices(t)
    assert prices == {vti.pk: D("95.00")}  # no price yet: no window price, still a symbol
    assert symbols == {vti.pk: "VTI", bnd.pk: "BND", new.pk: "NEW"}
