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
from trading.models import Dividend, Intent, LedgerEntry, Position, TradeWindow
from trading.ops import window_summary
from trading.services import request_deposit

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


def test_the_operations_page_shows_the_figures_of_a_window_just_run(ops_client, invested):
    response = ops_client.post(reverse("ops:run_window"), follow=True)

    window = TradeWindow.objects.get()
    assert window.status == "done", window.error
    summary = window_summary(window)
    assert (summary.accounts, summary.orders, summary.blocks) == (2, 3, 2)
    page = response.content.decode()
    row = page[page.index(f'id="window-{window.pk}"') :].split("</tr>")[0]
    assert "Done" in row
    for figure in (">2<", ">3<", ">2<"):
        assert figure in row
    for phase, _ in summary.phases:
        assert phase in row
    assert "Balanced" in page
    assert "Nothing is waiting." in page


def test_the_admin_runs_an_adhoc_window_now(ops_client, invested):
    response = ops_client.post(reverse("admin:trading_tradewindow_run_now"))
    window = TradeWindow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:trading_tradewindow_change", args=[window.pk])
    assert window.status == "done"
    assert not Intent.objects.pending().exists()
    page = ops_client.get(response["Location"]).content.decode()
    assert "Phase" in page and "Duration" in page


def test_running_a_window_is_a_post_for_staff_with_the_right(client, staff_user, invested):
    client.force_login(staff_user)  # staff, but not in the Operations group
    assert client.post(reverse("admin:trading_tradewindow_run_now")).status_code == 403
    assert client.post(reverse("ops:run_window")).status_code == 403
    assert not TradeWindow.objects.exists()


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
