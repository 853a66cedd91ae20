"""The account page's chart, its htmx partial, and the dividend income page and CSV."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from tests.performance.helpers import FRI, MON, WED, ny
from trading.chart import money_label, nice_step, value_chart
from trading.models import Dividend
from trading.returns import Point
from trading.services import pay_dividend
from trading.services.snapshots import backfill_snapshots

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(history) -> Client:
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    client = Client()
    client.force_login(history.owner, backend="django.contrib.auth.backends.ModelBackend")
    return client


def chart_of(html: str) -> str:
    match = re.search(r'<section class="card performance".*?</section>', html, re.S)
    assert match, "no performance section"
    return match.group(0)


def test_the_account_page_draws_the_chart_with_its_numbers_for_screen_readers(web, history):
    html = chart_of(web.get(f"/account/{history.pk}/?range=ALL").content.decode())
    assert '<title id="chart-title">Value and net contributions, All</title>' in html
    assert '<desc id="chart-desc">From March 2, 2026 to March 6, 2026' in html
    assert 'aria-labelledby="chart-title chart-desc"' in html
    assert 'class="chart-value" points="' in html and 'class="chart-contributions"' in html
    # The table has every close, value then net contributions.
    assert '<th scope="row">2026-03-03</th><td>$1,100.00</td><td>$1,000.00</td>' in html
    assert 'data-return="twr">+2.00%<' in html
    assert re.search(r'href="[^"]*\?range=ALL#performance"[^>]*aria-current="page"', html)
    # CSP-ready: no inline styles or scripts in the partial.
    assert "style=" not in html and "<script" not in html


def test_a_range_comes_from_htmx_as_the_partial_and_without_it_as_the_page(web, history):
    partial = web.get(f"/account/{history.pk}/performance/?range=ALL", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert partial.content.decode().lstrip().startswith("<section")
    plain = web.get(f"/account/{history.pk}/performance/?range=3M")
    assert plain.status_code == 302 and plain["Location"].endswith("?range=3M#performance")


def test_an_unknown_range_shows_the_default_and_others_get_a_404(web, history, bob):
    html = chart_of(web.get(f"/account/{history.pk}/?range=<x>").content.decode())
    assert re.search(r'\?range=1Y#performance"[^>]*aria-current="page"', html)
    other = Client()
    other.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    assert other.get(f"/account/{history.pk}/performance/?range=ALL").status_code == 404
    assert other.get(f"/account/{history.pk}/dividends/").status_code == 404


def test_an_account_without_history_says_so(alice_account, alice):
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    html = chart_of(client.get(f"/account/{alice_account.pk}/").content.decode())
    assert "No history yet" in html and "<svg" not in html


def test_the_dividend_page_and_csv(web, history):
    dividend = Dividend.objects.create(
        security=history.positions.get().security,
        ex_date=WED,
        pay_date=FRI,
        amount_per_share=Decimal("0.25"),
    )
    pay_dividend(dividend_id=dividend.pk, today=FRI, now=ny(FRI, 8))
    html = web.get(f"/account/{history.pk}/dividends/?year=2026").content.decode()
    assert '<th scope="row">2026-03</th><td class="num">$2.50</td>' in html
    assert '<th scope="row">VTI</th><td class="num">$2.50</td>' in html
    csv = web.get(f"/account/{history.pk}/dividends.csv?year=2026")
    assert csv.content.decode() == "month,symbol,amount\r\n2026-03,VTI,2.50\r\n"
    assert web.get(f"/account/{history.pk}/dividends/?year=abc").status_code == 404


def test_the_chart_scales_to_nice_steps_and_keeps_the_last_point():
    assert nice_step(Decimal("1000")) == Decimal("250")
    assert nice_step(Decimal("37")) == Decimal("10")
    assert [money_label(Decimal(v)) for v in ("950", "12500", "14000", "1250000")] == [
        "$950",
        "$12.5k",
        "$14k",
        "$1.25M",
    ]
    points = [
        Point(FRI.replace(day=1) + (FRI - FRI), Decimal(100 + i), Decimal("100")) for i in range(1)
    ]
    chart = value_chart(points)
    assert chart is not None and chart.value_line.count(",") == 1
    assert [tick.label for tick in chart.y_ticks] == ["$100", "$101"]
