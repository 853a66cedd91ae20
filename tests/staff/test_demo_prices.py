from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from trading import calendar
from trading.demo import SECURITIES, price_walk, seed_prices, seed_securities
from trading.models import Price, Security

NEW_YORK = ZoneInfo("America/New_York")


def test_the_same_seed_gives_the_same_walk_and_another_seed_another():
    vti = SECURITIES[0]
    first = list(price_walk(vti, seed=1, until=date(2025, 6, 30)))
    assert first == list(price_walk(vti, seed=1, until=date(2025, 6, 30)))
    assert first != list(price_walk(vti, seed=2, until=date(2025, 6, 30)))
    # A day's price does not depend on how far the walk goes.
    assert first == list(price_walk(vti, seed=1, until=date(2026, 6, 30)))[: len(first)]


def test_the_walk_has_one_close_per_trading_day_in_decimal():
    days = list(price_walk(SECURITIES[0], seed=1, until=date(2025, 12, 31)))
    assert all(calendar.is_trading_day(day) for day, _ in days)
    assert date(2025, 12, 25) not in {day for day, _ in days}
    assert all(price > 0 and price.as_tuple().exponent >= -4 for _, price in days)


def test_there_are_about_thirty_well_known_tickers():
    symbols = {spec.symbol for spec in SECURITIES}
    assert 28 <= len(symbols) == len(SECURITIES)
    assert {"VTI", "BND", "AAPL"} <= symbols
    assert {spec.kind for spec in SECURITIES} == {"etf", "stock", "fund"}


@pytest.mark.django_db
def test_seeding_prices_twice_changes_nothing_and_stores_only_past_closes():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=NEW_YORK)  # before that day's close
    seed_securities()
    count = seed_prices(seed=1, now=now)
    assert count == Price.objects.count()
    snapshot = list(Price.objects.order_by("pk").values_list("pk", "security_id", "at", "price"))
    seed_securities()
    assert seed_prices(seed=1, now=now) == count
    assert (
        list(Price.objects.order_by("pk").values_list("pk", "security_id", "at", "price"))
        == snapshot
    )
    assert Security.objects.count() == len(SECURITIES)
    latest = Price.objects.order_by("-at").first().at.astimezone(NEW_YORK)
    assert latest == datetime(2026, 11, 23, 16, 0, tzinfo=NEW_YORK)  # Monday: the last close
    per_security = count // len(SECURITIES)
    assert 270 <= per_security <= 280  # about 400 days of trading days
