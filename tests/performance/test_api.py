"""The performance and dividends endpoints (api.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.api.conftest import client_for
from tests.performance.helpers import FRI, MON, WED, ny
from trading.books import verify_books
from trading.models import Dividend
from trading.services import pay_dividend
from trading.services.snapshots import backfill_snapshots

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(history):
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    return client_for(history.owner)


def test_performance_of_all_of_the_history(api, history):
    response = api.get(f"/api/v1/accounts/{history.pk}/performance/?range=ALL")
    assert response.status_code == 200
    body = response.json()
    assert (body["range"], body["start"], body["end"]) == ("ALL", "2026-03-02", "2026-03-06")
    assert (body["value_start"], body["value_end"]) == ("0.00", "510.00")
    assert (body["net_contributions"], body["gain"]) == ("505.00", "5.00")
    # 1,100/1,000 x 990/1,100 x 500/(990 - 495) x 510/500 - 1 = 2 %.
    assert body["twr"] == "2.00"
    assert Decimal(body["mwr"]) > 0 and body["mwr_annualised"] is False
    assert body["points"][1] == {
        "date": "2026-03-03",
        "value": "1100.00",
        "net_contributions": "1000.00",
    }
    assert len(body["points"]) == 5


def test_a_bad_range_is_a_400_and_another_users_account_a_404(api, history, bob):
    url = f"/api/v1/accounts/{history.pk}/performance/"
    assert api.get(url + "?range=2Y").status_code == 400
    assert "range" in api.get(url + "?range=2Y").json()
    assert client_for(bob).get(url).status_code == 404


def test_an_account_without_snapshots_has_no_returns(alice_account, alice):
    response = client_for(alice).get(f"/api/v1/accounts/{alice_account.pk}/performance/")
    body = response.json()
    assert response.status_code == 200
    assert (body["twr"], body["mwr"], body["points"], body["start"]) == (None, None, [], None)


@pytest.fixture
def paid(history):
    dividend = Dividend.objects.create(
        security=history.positions.get().security,
        ex_date=WED,
        pay_date=FRI,
        amount_per_share=Decimal("0.50"),
    )
    pay_dividend(dividend_id=dividend.pk, today=FRI, now=ny(FRI, 8))
    assert verify_books() == []
    return history


def test_dividends_by_month_security_and_year_and_as_csv(paid):
    api = client_for(paid.owner)
    body = api.get(f"/api/v1/accounts/{paid.pk}/dividends/?year=2026").json()
    # 10 shares held before the ex-date x 0.50.
    assert body["total"] == "5.00"
    assert body["by_month"] == [{"month": "2026-03", "amount": "5.00"}]
    assert body["by_security"] == [{"symbol": "VTI", "amount": "5.00"}]
    assert body["by_year"] == [{"year": 2026, "amount": "5.00"}]
    assert api.get(f"/api/v1/accounts/{paid.pk}/dividends/?year=2025").json()["total"] == "0.00"
    csv = api.get(f"/api/v1/accounts/{paid.pk}/dividends/?format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode() == "month,symbol,amount\r\n2026-03,VTI,5.00\r\n"
    bad = api.get(f"/api/v1/accounts/{paid.pk}/dividends/?year=abc&format=csv")
    assert bad.status_code == 400 and "year" in bad.json()


def test_dividends_are_income_in_the_snapshots_not_contributions(paid):
    from trading.models import Snapshot

    backfill_snapshots(first=FRI, last=FRI, now=ny(FRI, 17))
    snapshot = Snapshot.objects.get(account=paid, day=FRI)
    assert (snapshot.value, snapshot.net_contributions, snapshot.dividends) == (
        Decimal("515.00"),
        Decimal("505.00"),
        Decimal("5.00"),
    )
