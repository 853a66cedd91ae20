"""Sign up and log in, the dashboard, the account page, activity, lots, settings and tokens."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from pies.models import Pie
from trading.calendar import previous_close
from trading.models import (
    Account,
    Disposal,
    Intent,
    IntentKind,
    Lot,
    Order,
    Position,
    Price,
    Security,
    TradeWindow,
)

NY = ZoneInfo("America/New_York")


def html(response) -> str:
    return response.content.decode()


# --- sign up, log in, passwords ---------------------------------------------------------------


def test_signing_up_opens_an_individual_account_with_an_empty_pie_and_logs_in(client: Client, db):
    response = client.post(
        "/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
        follow=True,
    )
    user = get_user_model().objects.get(username="carol")
    account = Account.objects.get(owner=user)
    assert account.kind == "individual"
    root = Pie.objects.get(account=account, is_root=True)
    assert not root.slices.exists()
    assert response.context["user"] == user
    assert "Your accounts" in html(response)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"password2": "something else entirely"}, "The two password fields"),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
        ({"username": "alice"}, "A user with that username already exists."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": "alice@example.com"}, "An account with this email already exists."),
    ],
)
def test_a_bad_sign_up_is_refused_and_creates_nobody(client, alice, changes, message):
    data = {
        "username": "carol",
        "email": "carol@example.com",
        "password1": "a long enough passphrase",
        "password2": "a long enough passphrase",
        **changes,
    }
    response = client.post("/signup/", data)
    assert response.status_code == 200
    assert message in html(response).replace("&#x27;", "'")
    assert get_user_model().objects.count() == 1
    assert not Account.objects.investor().exists()


def test_logging_in_goes_to_the_dashboard_and_logging_out_to_the_login_page(client, alice):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"


def test_repeated_failed_logins_lock_the_login_out(client, alice):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_password_reset_sends_a_link_by_email(client, alice):
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body
    assert mail.outbox[0].subject == "Reset your Pies password"


def test_the_password_change_page_is_ours_and_labelled(alice_client):
    page = html(alice_client.get("/accounts/password_change/"))
    assert '<label for="id_old_password">Old password</label>' in page
    assert "Change password</button>" in page


# --- the dashboard and the account page -------------------------------------------------------


def test_the_dashboard_shows_value_cash_change_pending_and_the_next_window(alice_client, core_pie):
    Account.objects.filter(pk=core_pie.pk).update(cash=Decimal("1234.50"))
    Intent.objects.create(account=core_pie, kind=IntentKind.DEPOSIT, amount="100.00")
    # VTI closed 10.00 lower at the previous close: today's change is 28 x 10.00.
    Price.objects.create(
        security=Security.objects.get(symbol="VTI"),
        at=previous_close(timezone.now()),
        price=Decimal("240.00"),
    )
    page = html(alice_client.get("/"))
    assert "$10,764.50" in page  # 9,530.00 invested + 1,234.50 cash
    assert "$1,234.50" in page and "$9,530.00" in page
    assert "+$280.00" in page
    assert "Deposit $100.00" in page
    assert " ET</time>" in page


def test_previous_close_is_the_close_before_the_latest_session():
    # Tuesday 2026-11-24 11:00 New York: Monday's close. Before Tuesday's open: Friday's.
    assert previous_close(datetime(2026, 11, 24, 11, 0, tzinfo=NY)) == datetime(
        2026, 11, 23, 16, 0, tzinfo=NY
    )
    assert previous_close(datetime(2026, 11, 24, 8, 0, tzinfo=NY)) == datetime(
        2026, 11, 20, 16, 0, tzinfo=NY
    )
    # Saturday after Thanksgiving week: Friday 27 was the last session, Wednesday 25 before it.
    assert previous_close(datetime(2026, 11, 28, 12, 0, tzinfo=NY)) == datetime(
        2026, 11, 25, 16, 0, tzinfo=NY
    )


def test_the_account_page_shows_holdings_donut_and_buttons(alice_client, core_pie):
    page = html(alice_client.get(f"/account/{core_pie.pk}/"))
    assert "28.000000" in page and "$250.00" in page and "$7,000.00" in page
    assert "+$1,000.00" in page  # VTI: 7,000.00 value - 6,000.00 cost
    assert "VTI: actual 73.45%, target 60.00%" in page
    assert 'class="ring-drift-bad"' in page
    for label in ("Deposit", "Withdraw", "Rebalance", "Edit pie"):
        assert f">{label}</a>" in page


def test_a_sub_pie_opens_as_its_own_page_with_a_breadcrumb(alice_client, core_pie):
    bonds = Pie.objects.get(account=core_pie, name="Bonds")
    page = html(alice_client.get(f"/account/{core_pie.pk}/pie/{bonds.pk}/"))
    assert f'<a href="/account/{core_pie.pk}/">Individual</a>' in page
    assert '<span aria-current="page">Bonds</span>' in page
    assert "20.000000" in page and "$1,450.00" in page  # BND
    assert f"/account/{core_pie.pk}/rebalance/?pie={bonds.pk}" in page


def test_a_pending_rebalance_shows_with_a_cancel_button(alice_client, core_pie):
    root = Pie.objects.get(account=core_pie, is_root=True)
    intent = Intent.objects.create(account=core_pie, kind=IntentKind.REBALANCE, pie=root)
    page = html(alice_client.get(f"/account/{core_pie.pk}/"))
    assert f"/account/{core_pie.pk}/intents/{intent.pk}/cancel/" in page
    assert 'Cancel <span class="sr-only">rebalance</span>' in page


# --- activity and lots ------------------------------------------------------------------------


@pytest.fixture
def traded(core_pie):
    """A finished window with one explained buy and one sell with a realized gain."""
    window = TradeWindow.objects.create(
        trade_date=date(2026, 3, 2),
        session="morning",
        scheduled_at=datetime(2026, 3, 2, 9, 30, tzinfo=NY),
        status="done",
    )
    vti = Position.objects.get(account=core_pie, security__symbol="VTI")
    Order.objects.create(
        window=window,
        account=core_pie,
        position=vti,
        security=vti.security,
        side="buy",
        status="filled",
        amount=Decimal("400.00"),
        quantity=Decimal("1.600000"),
        price=Decimal("250.0000"),
        filled_amount=Decimal("400.00"),
        reason="deposit",
        explanation={"rule": "deposit", "rho_before": "0.5", "level": "0.62", "dropped": ["TIP"]},
    )
    lot = Lot.objects.filter(position=vti).first()
    Disposal.objects.create(
        lot=lot,
        account=core_pie,
        security=vti.security,
        acquired_on=date(2024, 1, 2),
        sold_on=date(2026, 3, 2),
        quantity=Decimal("1"),
        proceeds=Decimal("250.00"),
        cost_basis=Decimal("214.29"),
        gain=Decimal("35.71"),
        term="long",
    )
    return core_pie


def test_activity_shows_orders_by_window_with_the_allocation_explanation(alice_client, traded):
    page = html(alice_client.get(f"/account/{traded.pk}/activity/"))
    assert "Mon 2026-03-02, morning window" in page
    assert "1.600000" in page and "$400.00" in page
    assert (
        "Deposit: VTI got $400.00 as one of the most underweight slices "
        "(before, it stood at 81% of its target share after the trade)." in page
    )
    assert "Below the $1.00 minimum, so skipped: TIP." in page


def test_lots_page_shows_open_lots_and_gains_per_year(alice_client, traded):
    page = html(alice_client.get(f"/account/{traded.pk}/lots/"))
    assert "2026" in page and "+$35.71" in page
    assert "28.000000" in page  # the open VTI lot


def test_realized_gains_download_as_csv_per_year(alice_client, traded):
    response = alice_client.get(f"/account/{traded.pk}/realized-gains.csv?year=2026")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["symbol", "acquired_on", "sold_on", "quantity", "proceeds", "cost_basis", "gain", "term"],
        ["VTI", "2024-01-02", "2026-03-02", "1.000000", "250.00", "214.29", "35.71", "long"],
    ]
    empty = alice_client.get(f"/account/{traded.pk}/realized-gains.csv?year=2025")
    assert len(list(csv.reader(io.StringIO(empty.content.decode())))) == 1


@pytest.mark.parametrize("year", ["abc", "-1", "99999"])
def test_a_bad_year_is_not_found(alice_client, traded, year):
    assert alice_client.get(f"/account/{traded.pk}/lots/?year={year}").status_code == 404


# --- settings and API tokens ------------------------------------------------------------------


def test_an_api_token_is_created_shown_once_regenerated_and_revoked(alice_client, alice):
    alice_client.post("/settings/token/")
    first = Token.objects.get(user=alice).key
    page = html(alice_client.get("/settings/"))
    assert first in page
    assert first not in html(alice_client.get("/settings/"))  # shown once, then masked
    alice_client.post("/settings/token/")
    second = Token.objects.get(user=alice).key
    assert second != first
    alice_client.post("/settings/token/revoke/")
    assert not Token.objects.filter(user=alice).exists()


def test_opening_a_second_account_kind_works_once(alice_client, alice, alice_account):
    alice_client.post("/account/open/", {"kind": "roth_ira"})
    response = alice_client.post("/account/open/", {"kind": "roth_ira"}, follow=True)
    assert "You already have a Roth IRA account." in html(response)
    assert Account.objects.filter(owner=alice).count() == 2
    bad = alice_client.post("/account/open/", {"kind": "house"}, follow=True)
    assert "Unknown account kind" in html(bad).replace("&#x27;", "'")
    assert Account.objects.filter(owner=alice).count() == 2


@pytest.mark.parametrize(
    "template",
    [
        "/",
        "/account/{pk}/",
        "/account/{pk}/deposit/?amount=100",
        "/account/{pk}/withdraw/?amount=100",
        "/account/{pk}/withdraw/?withdraw_all=on",
        "/account/{pk}/rebalance/",
        "/account/{pk}/activity/",
        "/account/{pk}/lots/",
        "/account/{pk}/pie/edit/",
        "/account/{pk}/pie/export/",
    ],
)
def test_every_page_works_for_a_new_account_with_an_empty_pie_and_no_money(
    alice_client, alice_account, template
):
    response = alice_client.get(template.format(pk=alice_account.pk))
    assert response.status_code == 200
