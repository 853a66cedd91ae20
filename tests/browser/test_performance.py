"""The value chart with returns on the demo data, in Chromium, on a desktop and a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from trading.demo import DEMO_PASSWORD, seed_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_as_alice(page: Page) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your accounts")).to_be_visible()


def test_the_demo_account_shows_its_value_chart_and_returns(page: Page, screenshot_dir):
    seed_demo()
    log_in_as_alice(page)
    page.get_by_role("link", name="Main").first.click()
    chart = page.get_by_role("img", name=re.compile(r"^Value and net contributions, 1Y"))
    expect(chart).to_be_visible()
    section = page.locator("#performance")
    expect(section.get_by_text("Time-weighted return")).to_be_visible()
    expect(section.locator("[data-return=twr]")).to_have_text(re.compile(r"^[+\u2212]\d+\.\d\d%$"))
    expect(section.locator("[data-return=mwr]")).to_have_text(re.compile(r"^[+\u2212]\d+\.\d\d%$"))
    # The numbers are there for screen readers, visually hidden.
    table = section.get_by_role("table")
    expect(table).to_be_attached()
    hidden = section.locator(".sr-only").bounding_box()
    assert hidden is not None and hidden["width"] <= 1 and hidden["height"] <= 1
    page.locator("#performance").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "account-performance.png"), full_page=True)

    # A range by htmx: the chart is swapped in place and the address follows.
    section.get_by_role("link", name="All", exact=True).click()
    expect(page.get_by_role("img", name="Value and net contributions, All")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?range=ALL$"))
    expect(page.locator("#performance [aria-current=page]")).to_have_text("All")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.url)
    expect(page.get_by_role("img", name="Value and net contributions, All")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.get_by_role("img", name="Value and net contributions, All").bounding_box()
    assert box is not None and box["width"] <= 390
    page.screenshot(path=str(screenshot_dir / "account-performance-phone.png"), full_page=True)
