"""Staff fixes of issue 14: dividends named by symbol, future-dated prices refused and closes
on closed days flagged, ad-hoc windows that pay due dividends first, and staff who land on
/ops/ with an Operations link in the nav."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from pies.services import open_account
from tests.trading.engine_helpers import build_account
from trading.books import verify_books
from trading.calendar import market_date
from trading.models import Dividend, Order, Price, TradeWindow
from trading.prices import parse_price_csv
from trading.tasks import run_window_task

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"
THANKSGIVING = date(2026, 11, 26)


# --- dividends by symbol ---------------------------------------------------------------------


def test_the_saved_message_of_a_dividend_names_its_symbol(ops_client, make_security):
    vti = make_security("VTI", "200.00")
    response = ops_client.post(
        reverse("admin:trading_dividend_add"),
        {
            "security": vti.pk,
            "ex_date": "2026-01-05",
            "pay_date": "2026-01-09",
            "amount_per_share": "0.5",
        },
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert ">VTI 0.5 ex 2026-01-05</a>” was added" in message
    assert str(Price.objects.get(security=vti)).startswith("VTI 200")


# --- prices: none from the future, closed days flagged ----------------------------------------


@pytest.fixture
def vti(make_security):
    return make_security("VTI", None)


def test_a_price_file_with_a_future_date_imports_nothing(vti):
    tomorrow = market_date(timezone.now()) + timedelta(days=1)
    rows, errors = parse_price_csv(f"symbol,at,price\nVTI,2026-03-02,10\nVTI,{tomorrow},11\n")
    assert rows == []
    assert errors == [f"line 3: a price cannot be dated in the future ({tomorrow})"]


def test_the_command_refuses_a_future_price_and_flags_a_holiday_close(vti, tmp_path, capsys):
    future = tmp_path / "future.csv"
    future.write_text("symbol,at,price\nVTI,2030-01-02,10\n")
    with pytest.raises(Exception, match="1 error"):
        call_command("import_prices", str(future))
    assert not Price.objects.exists()

    holiday = tmp_path / "holiday.csv"
    holiday.write_text(f"symbol,at,price\nVTI,2026-11-25,10\nVTI,{THANKSGIVING},11\n")
    call_command("import_prices", str(holiday))
    assert Price.objects.count() == 2  # imported, but flagged
    err = capsys.readouterr().err
    assert "1 price(s) dated on a day the NYSE is closed" in err
    assert f"line 3: VTI on {THANKSGIVING}" in err


def test_the_api_refuses_a_future_price_and_flags_a_weekend_close(client, operations_user, vti):
    client.force_login(operations_user)
    future = (timezone.now() + timedelta(minutes=5)).isoformat()
    response = client.post(
        "/api/v1/prices/",
        [
            {"symbol": "VTI", "price": "10", "at": "2026-03-02"},
            {"symbol": "VTI", "price": "11", "at": future},
        ],
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"1.at": ["A price cannot be dated in the future."]}
    assert not Price.objects.exists()

    response = client.post(
        "/api/v1/prices/",
        [{"symbol": "VTI", "price": "10", "at": "2026-11-28"}],  # a Saturday
        content_type="application/json",
    )
    assert response.status_code == 200
    [warning] = response.json()["warnings"]
    assert "VTI on 2026-11-28" in warning
    response = client.post(
        "/api/v1/prices/",
        [{"symbol": "VTI", "price": "10", "at": "2026-11-27"}],
        content_type="application/json",
    )
    assert response.json()["warnings"] == []


def test_the_admin_refuses_a_future_price_and_warns_about_a_holiday(ops_client, vti):
    url = reverse("admin:trading_price_add")
    response = ops_client.post(
        url, {"security": vti.pk, "at_0": "2030-01-02", "at_1": "16:00:00", "price": "10"}
    )
    assert response.status_code == 200
    assert "cannot be dated in the future" in response.content.decode()
    assert not Price.objects.exists()

    response = ops_client.post(
        url,
        {"security": vti.pk, "at_0": str(THANKSGIVING), "at_1": "12:00:00", "price": "10"},
        follow=True,
    )
    assert Price.objects.count() == 1
    messages = [str(m) for m in response.context["messages"]]
    assert any("not a NYSE trading day" in m for m in messages)

    upload = SimpleUploadedFile("p.csv", f"symbol,at,price\nVTI,{THANKSGIVING},12\n".encode())
    response = ops_client.post(reverse("admin:trading_price_import"), {"file": upload}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("dated on a day the NYSE is closed" in m for m in messages)


# --- ad-hoc windows pay due dividends first -----------------------------------------------------


@pytest.fixture
def dividend_due_today(make_user):
    """Alice holds 60 VTI since long ago; VTI pays $0.50 a share today: $30.00, above the
    auto-invest trigger, so a window that runs after the payment invests it."""
    spec = {
        "slices": [
            {"name": "VTI", "target_percent": "60", "value": "600"},
            {"name": "BND", "target_percent": "40", "value": "400"},
        ]
    }
    account, leaves = build_account(make_user("alice"), spec)
    today = market_date(timezone.now())
    dividend = Dividend.objects.create(
        security=leaves["VTI"].security,
        ex_date=today - timedelta(days=1),
        pay_date=today,
        amount_per_share=Decimal("0.50"),
    )
    return account, dividend


def test_run_trade_window_pays_due_dividends_first_and_invests_them(dividend_due_today, capsys):
    account, dividend = dividend_due_today
    call_command("run_trade_window")

    dividend.refresh_from_db()
    assert dividend.paid_at is not None
    window = TradeWindow.objects.get()
    bought = Order.objects.filter(window=window, account=account, side="buy")
    assert sum(order.amount for order in bought) == Decimal("30.00")
    assert "paid first: 1 due dividend(s)" in capsys.readouterr().out
    assert verify_books() == []


def test_run_now_on_the_ops_page_pays_due_dividends_first(
    ops_client, dividend_due_today, sent_windows
):
    account, dividend = dividend_due_today
    response = ops_client.post(reverse("ops:run_window"), follow=True)

    dividend.refresh_from_db()
    assert dividend.paid_at is not None
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Paid 1 due dividend(s) first. Window ")
    window = TradeWindow.objects.get()
    assert sent_windows == [window.pk]
    run_window_task(window.pk)  # the worker
    assert Order.objects.filter(window=window, account=account, side="buy").exists()
    assert verify_books() == []


# --- staff land on /ops/ ---------------------------------------------------------------------


def log_in(client, username: str, **extra: str):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD, **extra})


def test_operations_staff_without_accounts_land_on_the_ops_page(client, operations_user):
    response = log_in(client, "opal")
    assert response.status_code == 302 and response["Location"] == "/ops/"


def test_a_next_page_still_wins_and_staff_with_an_account_land_on_the_dashboard(
    client, operations_user
):
    response = log_in(client, "opal", next="/settings/")
    assert response["Location"] == "/settings/"
    client.logout()
    open_account(user=operations_user, kind="individual")
    assert log_in(client, "opal")["Location"] == "/"


def test_staff_without_the_permission_and_investors_land_on_the_dashboard(client, make_user):
    make_user("plainstaff", is_staff=True)
    assert log_in(client, "plainstaff")["Location"] == "/"
    client.logout()
    make_user("ivy")
    assert log_in(client, "ivy")["Location"] == "/"


def test_the_nav_has_an_operations_link_for_operations_staff_only(client, operations_user, alice):
    link = '<a href="/ops/">Operations</a>'
    client.force_login(operations_user)
    assert link in client.get("/").content.decode()
    client.force_login(alice)
    assert link not in client.get("/").content.decode()
