"""The recurring deposits pages: create, edit the start date, pause, resume, delete; the
dashboard and the account page show the next dates; someone else's schedule is a 404."""

from __future__ import annotations

from datetime import date, datetime
from unittest import mock

import pytest
from django.test import Client

from trading.calendar import MARKET_TZ
from trading.models import Intent, RecurringDeposit
from trading.services import create_due_deposits, create_schedule

# Wednesday 2 December 2026, noon in New York.
NOW = datetime(2026, 12, 2, 12, tzinfo=MARKET_TZ)


@pytest.fixture(autouse=True)
def frozen_today():
    with mock.patch("trading.services.recurring.timezone.now", return_value=NOW):
        yield


def new(client: Client, account, **fields):
    data = {"amount": "50.00", "frequency": "weekly", "start_date": "2026-12-05", **fields}
    return client.post(f"/account/{account.pk}/recurring/", data)


def test_a_schedule_made_on_the_page_shows_its_next_date_and_trading_day(
    alice_client, alice_account
):
    response = new(alice_client, alice_account)
    assert response.status_code == 302
    schedule = RecurringDeposit.objects.get()
    assert (schedule.amount, schedule.frequency, schedule.next_date) == (
        50,
        "weekly",
        date(2026, 12, 5),
    )
    page = alice_client.get(f"/account/{alice_account.pk}/recurring/").content.decode()
    assert "Weekly on Saturday" in page
    assert "Sat, Dec 5, 2026" in page
    assert "invested Mon, Dec 7" in page  # a Saturday: Monday's window
    for url in ("/", f"/account/{alice_account.pk}/"):
        shown = alice_client.get(url).content.decode()
        assert "$50.00 weekly on Saturday: next" in shown, url
        assert 'datetime="2026-12-05"' in shown


def test_a_bad_schedule_is_a_form_error_and_creates_nothing(alice_client, alice_account):
    response = new(alice_client, alice_account, frequency="monthly", day="31")
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 28." in response.content.decode()
    response = new(alice_client, alice_account, frequency="monthly")
    assert "Choose a day of the month from 1 to 28" in response.content.decode()
    response = new(alice_client, alice_account, amount="0.50")
    assert "Enter at least 1.00." in response.content.decode()
    assert not RecurringDeposit.objects.exists()


def test_htmx_gets_the_form_back_with_its_errors(alice_client, alice_account, htmx_headers):
    response = alice_client.post(
        f"/account/{alice_account.pk}/recurring/",
        {"amount": "x", "frequency": "weekly", "start_date": "2026-12-05"},
        **htmx_headers,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="recurring-form"')
    ok = new(alice_client, alice_account)
    assert ok.status_code == 302  # without htmx: a plain redirect


def test_edit_the_start_date_pause_resume_and_delete(alice_client, alice_account):
    schedule = create_schedule(
        account=alice_account, amount="20", frequency="weekly", start_date=date(2026, 12, 2)
    )
    create_due_deposits(now=NOW)  # today's occurrence
    base = f"/account/{alice_account.pk}/recurring/{schedule.pk}"
    form = alice_client.get(f"{base}/").content.decode()
    assert 'value="2026-12-02"' in form
    # Back to a Monday in November: no deposits for the Mondays since.
    saved = alice_client.post(
        f"{base}/", {"amount": "20", "frequency": "weekly", "start_date": "2026-11-02"}
    )
    assert saved.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.start_date, schedule.next_date) == (date(2026, 11, 2), date(2026, 12, 7))
    alice_client.post(f"{base}/pause/", {"paused": "true"})
    schedule.refresh_from_db()
    assert schedule.paused
    assert "Resume" in alice_client.get(f"/account/{alice_account.pk}/recurring/").content.decode()
    alice_client.post(f"{base}/pause/", {"paused": "false"})
    schedule.refresh_from_db()
    assert not schedule.paused and schedule.next_date == date(2026, 12, 7)
    alice_client.post(f"{base}/delete/")
    assert not RecurringDeposit.objects.exists()
    assert Intent.objects.get().occurrence_date == date(2026, 12, 2)  # the queued one stays


def test_the_pending_deposit_says_it_is_recurring(alice_client, alice_account):
    create_schedule(
        account=alice_account, amount="20", frequency="weekly", start_date=date(2026, 12, 2)
    )
    create_due_deposits(now=NOW)
    page = alice_client.get(f"/account/{alice_account.pk}/").content.decode()
    assert "Deposit (recurring, Dec 2)" in page


def test_someone_elses_schedule_is_a_404(alice_account, bob, bob_account):
    schedule = create_schedule(
        account=alice_account, amount="20", frequency="weekly", start_date=date(2026, 12, 2)
    )
    client = Client()
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    base = f"/account/{alice_account.pk}/recurring/"
    assert client.get(base).status_code == 404
    assert client.post(base, {"amount": "5"}).status_code == 404
    for suffix in ("", "pause/", "delete/"):
        assert client.post(f"{base}{schedule.pk}/{suffix}", {"paused": "true"}).status_code == 404
        # Alice's schedule under Bob's own account is not found either.
        crossed = f"/account/{bob_account.pk}/recurring/{schedule.pk}/{suffix}"
        assert client.post(crossed, {"paused": "true"}).status_code == 404
    schedule.refresh_from_db()
    assert not schedule.paused
    assert RecurringDeposit.objects.count() == 1


def test_signed_out_visitors_are_sent_to_log_in(alice_account):
    response = Client().get(f"/account/{alice_account.pk}/recurring/")
    assert response.status_code == 302 and "/login/" in response["Location"]
