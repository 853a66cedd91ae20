"""A recurring deposit becomes an intent (issue 14, acceptance 1): scheduled on the web page,
queued by the tick's job, and shown pending on the account page."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from pies.services import open_account
from trading.calendar import market_date
from trading.models import Intent, RecurringDeposit
from trading.services import create_due_deposits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def test_a_recurring_deposit_made_on_the_page_becomes_a_pending_deposit(
    page: Page, make_user, screenshot_dir
):
    account = open_account(user=make_user("erin", password=PASSWORD), kind="individual")
    today = market_date(timezone.now())
    page.set_default_timeout(30_000)  # a loaded 2-core machine: logging in can take a while
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your accounts")).to_be_visible()

    page.get_by_role("link", name="Manage recurring deposits").click()
    expect(page.get_by_role("heading", name="Recurring deposits", exact=True)).to_be_visible()
    page.get_by_label("Amount").fill("75")
    page.get_by_label("How often").select_option(label="Weekly")
    page.get_by_label("Start date").fill(today.isoformat())
    page.get_by_role("button", name="Schedule deposit").click()
    expect(page.get_by_text("Recurring deposit scheduled.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="$75.00")
    expect(row).to_contain_text(f"Weekly on {today:%A}")
    expect(row.locator("time")).to_have_attribute("datetime", today.isoformat())

    # The tick's job, as it runs every minute: today's occurrence becomes one deposit intent.
    created = create_due_deposits()
    assert len(created) == 1
    assert create_due_deposits() == []

    page.get_by_role("link", name="Overview").click()
    pending = page.locator("#pending-intents")
    expect(pending).to_contain_text(f"Deposit (recurring, {today:%b} {today.day})")
    expect(pending).to_contain_text("$75.00")
    page.screenshot(path=str(screenshot_dir / "recurring-pending.png"), full_page=True)
    intent = Intent.objects.get(account=account)
    assert (intent.kind, intent.status, intent.amount) == ("deposit", "pending", 75)
    assert intent.schedule_id == RecurringDeposit.objects.get().pk

    # Pause from the page: the button says what it does next.
    page.get_by_role("link", name="Recurring deposits", exact=True).click()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    assert RecurringDeposit.objects.get().paused
