"""The staff tools against the real window engine: run and retry windows, the operations
page's figures, and dividends paid to holders of real lots."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from pies.services import save_pie_tree
from trading.calendar import market_date
from trading.models import Account, Dividend, Intent, LedgerEntry, Position, TradeWindow
from trading.ops import window_summary
from trading.services import request_deposit
from trading.tasks import run_window_task

pytestmark = pytest.mark.django_db

ONE_FUND = {"name": "Portfolio", "slices": [{"target_percent": "100.00", "symbol": "VTI"}]}
TWO_FUNDS = {
    "name": "Portfolio",
    "slices": [
        {"target_percent": "60.00", "symbol": "VTI"},
        {"target_percent": "40.00", "symbol": "BND"},
    ],
}


@pytest.fixture
def invested(alice_account, bob_account, make_security):
    """Alice and Bob each deposit into a pie; their window has not run yet."""
    earlier = timezone.now() - timedelta(days=12)
    make_security("VTI", "200.00", at=earlier)
    make_security("BND", "50.00", at=earlier)
    save_pie_tree(account=alice_account, tree=TWO_FUNDS, version=1)
    save_pie_tree(account=bob_account, tree=ONE_FUND, version=1)
    request_deposit(account=alice_account, amount="1000.00")
    request_deposit(account=bob_account, amount="333.33")
    return earlier


def run_in_the_past(at):
    from trading.window import open_adhoc_window, run_window

    Intent.objects.pending().update(created_at=at - timedelta(minutes=5))
    window = open_adhoc_window(now=at)
    run_window(window.pk)
    window.refresh_from_db()
    assert window.status == "done", window.error
    return window


def test_the_operations_page_sends_a_window_to_a_worker_and_shows_its_figures(
    ops_client, invested, sent_windows
):
    response = ops_client.post(reverse("ops:run_window"), follow=True)
    window = TradeWindow.objects.get()
    assert sent_windows == [window.pk]
    assert window.status == "scheduled"  # the request ran nothing
    assert f"Window {window.pk} is open and a worker runs it now" in response.content.decode()

    run_window_task(window.pk)  # the worker
    window.refresh_from_db()
    assert window.status == "done", window.error
    summary = window_summary(window)
    assert (summary.accounts, summary.orders, summary.blocks) == (2, 3, 2)
    page = ops_client.get(reverse("ops:index")).content.decode()
    row = page[page.index(f'id="window-{window.pk}"') :].split("</tr>")[0]
    assert "Done" in row
    for figure in (">2<", ">3<", ">2<"):
        assert figure in row
    for phase, _ in summary.phases:
        assert phase in row
    assert "Balanced" in page
    assert "Nothing is waiting." in page


def test_the_admin_sends_an_adhoc_window_to_a_worker(ops_client, invested, sent_windows):
    response = ops_client.post(reverse("admin:trading_tradewindow_run_now"))
    window = TradeWindow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:trading_tradewindow_change", args=[window.pk])
    assert sent_windows == [window.pk] and window.status == "scheduled"
    assert Intent.objects.pending().count() == 2

    run_window_task(window.pk)
    window.refresh_from_db()
    assert window.status == "done"
    assert not Intent.objects.pending().exists()
    page = ops_client.get(response["Location"]).content.decode()
    assert "Phase" in page and "Duration" in page


def test_running_a_window_is_a_post_for_staff_with_the_right(
    client, staff_user, invested, sent_windows
):
    client.force_login(staff_user)  # staff, but not in the Operations group
    assert client.post(reverse("admin:trading_tradewindow_run_now")).status_code == 403
    assert client.post(reverse("ops:run_window")).status_code == 403
    assert not TradeWindow.objects.exists() and sent_windows == []


def test_a_dividend_recorded_in_the_admin_is_paid_once_to_the_holders(
    ops_client, invested, alice_account, bob_account, carol_account
):
    from trading.books import verify_books
    from trading.tasks import pay_dividends

    run_in_the_past(invested + timedelta(days=1))
    today = market_date(timezone.now())  # the daily job's idea of today
    response = ops_client.post(
        reverse("admin:trading_dividend_add"),
        {
            "security": Position.objects.filter(security__symbol="VTI").first().security_id,
            "ex_date": (today - timedelta(days=3)).isoformat(),
            "pay_date": today.isoformat(),
            "amount_per_share": "0.123457",
        },
    )
    assert response.status_code == 302
    dividend = Dividend.objects.get()

    pay_dividends.apply()
    pay_dividends.apply()

    dividend.refresh_from_db()
    assert dividend.paid_at is not None
    for account in (alice_account, bob_account):
        shares = sum(
            p.quantity for p in Position.objects.filter(account=account, security__symbol="VTI")
        )
        expected = (shares * Decimal("0.123457")).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        paid = LedgerEntry.objects.filter(dividend=dividend, account=account)
        assert [entry.amount for entry in paid] == [expected]
    assert not LedgerEntry.objects.filter(dividend=dividend, account=carol_account).exists()
    assert verify_books() == []

    page = ops_client.get(reverse("admin:trading_dividend_change", args=[dividend.pk]))
    text = page.content.decode()
    assert "2 account(s)" in text
    assert "alice" in text and "bob" in text
    assert page.status_code == 200
    assert b'name="amount_per_share"' not in page.content  # paid: no longer editable


def test_the_admin_retries_a_failed_window_and_it_applies_once(ops_client, invested):
    from trading.books import verify_books
    from trading.window import WindowFault, open_adhoc_window, run_window

    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, fail_after_chunk=1)
    window.refresh_from_db()
    assert window.status == "failed"
    listing = ops_client.get(reverse("ops:index")).content.decode()
    assert "Injected fault" in listing

    response = ops_client.post(
        reverse("admin:trading_tradewindow_changelist"),
        {"action": "retry_failed", "_selected_action": [window.pk]},
        follow=True,
    )

    window.refresh_from_db()
    assert window.status == "done"
    assert f"Window {window.pk} retried" in response.content.decode()
    assert not Intent.objects.pending().exists()
    assert LedgerEntry.objects.filter(kind="deposit", amount__gt=0).count() == 2
    assert verify_books() == []
    page = ops_client.get(reverse("admin:trading_tradewindow_change", args=[window.pk]))
    assert b'name="_save"' not in page.content  # a window's page only shows it


# --- a failed window: retry or abandon (its own permission, a reason) -------------------------


class BrokerDown(Exception):
    pass


class Refuses:
    def sell(self, orders):
        raise BrokerDown("the broker is down")

    def buy(self, orders):
        raise BrokerDown("the broker is down")


@pytest.fixture
def failed(invested):
    """The invested deposits' window, failed at the broker: planned, credited, no fill."""
    from trading.window import open_adhoc_window, run_window

    window = open_adhoc_window()
    with pytest.raises(BrokerDown):
        run_window(window.pk, broker=Refuses())
    window.refresh_from_db()
    assert window.status == "failed"
    return window


def api_for(user):
    from tests.api.conftest import client_for

    return client_for(user)


def test_abandoning_over_the_api_needs_the_abandon_permission(
    failed, staff_user, operations_user, make_user
):
    from django.contrib.auth.models import Permission

    from trading.books import verify_books

    url = f"/api/v1/trade-windows/{failed.pk}/abandon/"
    body = {"reason": "prices were stale"}
    assert api_for(staff_user).post(url, body, format="json").status_code == 403
    runner = make_user("runner", is_staff=True)
    runner.user_permissions.add(Permission.objects.get(codename="run_window"))
    assert api_for(runner).post(url, body, format="json").status_code == 403
    assert TradeWindow.objects.get(pk=failed.pk).status == "failed"

    ops = api_for(operations_user)
    assert ops.post(url, {}, format="json").status_code == 400  # a reason is required
    answer = ops.post(url, body, format="json")

    assert answer.status_code == 200
    data = answer.json()
    assert (data["status"], data["abandon_reason"], data["abandoned_by"]) == (
        "abandoned",
        "prices were stale",
        "opal",
    )
    assert Intent.objects.pending().filter(window=None).count() == 2
    investors = Account.objects.filter(owner__isnull=False)
    assert [account.cash for account in investors] == [0, 0]  # the credits are reversed
    again = ops.post(url, body, format="json")
    assert again.status_code == 409
    assert "only a failed window can be abandoned" in again.json()["detail"]
    assert verify_books() == []


def test_retrying_over_the_api_finishes_the_window(failed, operations_user, staff_user):
    from trading.books import verify_books

    url = f"/api/v1/trade-windows/{failed.pk}/retry/"
    assert api_for(staff_user).post(url).status_code == 403
    answer = api_for(operations_user).post(url)
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["report"]["status"]) == ("done", "done")
    assert api_for(operations_user).post(url).status_code == 409  # done: nothing to retry
    assert api_for(operations_user).post("/api/v1/trade-windows/999999/retry/").status_code == 404
    assert verify_books() == []


def test_the_operations_page_retries_and_abandons_failed_windows(ops_client, failed, client):
    from trading.books import verify_books

    page = ops_client.get(reverse("ops:index")).content.decode()
    assert f"Abandon window #{failed.pk}" in page
    assert f"Retry window #{failed.pk}" in page

    refused = ops_client.post(reverse("ops:abandon_window", args=[failed.pk]), {"reason": ""})
    assert TradeWindow.objects.get(pk=failed.pk).status == "failed"
    assert "reason is required" in ops_client.get(refused["Location"]).content.decode()

    response = ops_client.post(
        reverse("ops:abandon_window", args=[failed.pk]), {"reason": "broker outage"}, follow=True
    )
    page = response.content.decode()
    assert f"Window {failed.pk} abandoned" in page
    row = page[page.index(f'id="window-{failed.pk}"') :].split("</tr>")[0]
    assert "Abandoned" in row and "broker outage" in row and "opal" in row
    assert verify_books() == []


def test_staff_without_the_permission_get_no_abandon_button_and_a_403(client, staff_user, failed):
    from django.contrib.auth.models import Permission

    # Staff who may see the page, but not act on windows.
    staff_user.user_permissions.add(Permission.objects.get(codename="view_tradewindow"))
    client.force_login(staff_user)
    assert (
        client.post(reverse("ops:abandon_window", args=[failed.pk]), {"reason": "x"}).status_code
        == 403
    )
    assert client.post(reverse("ops:retry_window", args=[failed.pk])).status_code == 403
    assert TradeWindow.objects.get(pk=failed.pk).status == "failed"
    page = client.get(reverse("ops:index"))
    assert page.status_code == 200
    assert f"Abandon window #{failed.pk}" not in page.content.decode()
    from trading.books import verify_books

    assert verify_books() == []


def test_the_admin_abandons_a_failed_window_after_asking_why(ops_client, failed):
    from trading.books import verify_books

    changelist = reverse("admin:trading_tradewindow_changelist")
    selected = {"action": "abandon_failed", "_selected_action": [failed.pk]}
    ask = ops_client.post(changelist, selected)
    assert ask.status_code == 200
    assert "Reason (kept on the window)" in ask.content.decode()
    assert TradeWindow.objects.get(pk=failed.pk).status == "failed"

    done = ops_client.post(
        changelist, {**selected, "confirm": "yes", "reason": "orders never left"}, follow=True
    )

    assert f"Window {failed.pk} abandoned" in done.content.decode()
    window = TradeWindow.objects.get(pk=failed.pk)
    assert (window.status, window.abandon_reason) == ("abandoned", "orders never left")
    assert verify_books() == []
