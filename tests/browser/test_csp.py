"""The Content-Security-Policy holds in Chromium: the investor pages, the pie editor (with
htmx at work), Swagger UI and the admin load and run with no violation (issue 13)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_journeys import PASSWORD, dana, log_in, priced, wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["dana", "priced"]  # fixtures used by name

REPORT = "csp-violation"
# Chromium reports a violation twice: a console error ("Refused to ... because it violates
# the following Content Security Policy directive") and a securitypolicyviolation event.
LISTEN = f"""
document.addEventListener("securitypolicyviolation", (e) => {{
  console.error("{REPORT} " + e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile);
}});
"""


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    seen: list[str] = []
    page.set_default_timeout(30_000)  # a loaded machine: the policy is the point, not speed
    page.add_init_script(LISTEN)
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if REPORT in message.text or "Content Security Policy" in message.text
            else None
        ),
    )
    yield seen


def load(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy, policy
    page.wait_for_load_state("load")


def test_the_investor_pages_and_the_editor_run_without_a_csp_violation(
    page: Page, violations, dana
):
    load(page, "/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    log_in(page, "dana")
    load(page, f"/account/{dana.pk}/")
    expect(page.locator(".legend .swatch").first).to_be_visible()
    load(page, f"/account/{dana.pk}/pie/edit/")
    # htmx at work: the search swaps its results, the targets are validated as you type.
    page.get_by_label("Search securities").fill("VX")
    expect(page.get_by_role("button", name="Add VXUS", exact=True)).to_be_visible()
    page.get_by_label("Target % of VTI").fill("59")
    wait_for_htmx(page)
    expect(page.get_by_text("Targets add up to 99.00%")).to_be_visible()
    # htmx was told not to inject its indicator <style>: app.css carries it.
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.locator("style").count() == 0

    assert violations == []


def test_swagger_ui_renders_the_schema_without_a_csp_violation(page: Page, violations, alice):
    load(page, "/api/docs/")
    expect(page.get_by_role("heading", name=re.compile("Pies API"))).to_be_visible()
    expect(page.get_by_text("/api/v1/accounts/", exact=True).first).to_be_visible()

    assert violations == []


def test_the_admin_works_without_a_csp_violation(page: Page, violations, make_user, dana):
    make_user("root", password=PASSWORD, is_staff=True, is_superuser=True)
    load(page, "/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Staff tools")).to_be_visible()
    load(page, "/admin/trading/tradewindow/")
    run = page.get_by_role("button", name="Run an ad-hoc window now")
    expect(run).to_be_visible()
    assert run.evaluate("b => getComputedStyle(b).borderTopLeftRadius") == "15px"  # admin.css
    load(page, "/admin/trading/security/")
    page.get_by_role("link", name="VTI").first.click()  # a change form, with its widgets
    page.wait_for_load_state("load")
    load(page, "/admin/trading/dividend/add/")
    page.get_by_role("link", name="Today").first.click()  # the admin's date widgets (JS)
    load(page, "/ops/")

    assert violations == []


def test_a_violation_would_be_seen(page: Page, violations, live_server):
    # The listener works: an inline style the policy refuses is reported.
    load(page, "/accounts/login/")
    page.evaluate(
        """() => { const s = document.createElement("style");
                   s.textContent = "body{color:red}"; document.head.appendChild(s); }"""
    )
    page.wait_for_timeout(200)
    assert violations, "an injected inline <style> was not reported"
