"""The investor journeys in Chromium, found by role and label (issue 6, acceptance 1 and 2)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from pies.models import Pie, Slice
from pies.services import open_account
from tests.web.builders import build_pie, hold
from trading.models import Account, Intent, IntentKind, IntentStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your accounts")).to_be_visible()


def wait_for_htmx(page: Page) -> None:
    """Let the as-you-type validation (300 ms debounce) ask and swap its answer."""
    page.wait_for_timeout(450)
    page.wait_for_load_state("networkidle")


def add_security(page: Page, symbol: str, *, to: str) -> None:
    # A new sub-pie's name reaches this list with the as-you-type answer: wait for it (a
    # loaded machine can take longer than the debounce).
    expect(page.get_by_label("Add to").locator("option", has_text=to)).to_have_count(1)
    page.get_by_label("Add to").select_option(label=to)
    page.get_by_label("Search securities").fill(symbol[:2])
    page.get_by_role("button", name=f"Add {symbol}", exact=True).click()
    expect(page.get_by_label(re.compile(rf"^Target % of (.*/)?{symbol}$"))).to_be_visible()


@pytest.fixture
def priced(make_security):
    """Round prices so that a $1,000.00 deposit buys round numbers of shares."""
    return {
        symbol: make_security(symbol, price, name=name)
        for symbol, price, name in (
            ("VTI", "250.00", "Vanguard Total Stock Market ETF"),
            ("VXUS", "60.00", "Vanguard Total International Stock ETF"),
            ("BND", "70.00", "Vanguard Total Bond Market ETF"),
            ("TIP", "120.00", "iShares TIPS Bond ETF"),
        )
    }


def test_sign_up_build_a_first_pie_from_scratch_deposit_and_see_the_window_fill_it(
    page: Page, priced, screenshot_dir
):
    page.goto("/signup/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Email").fill("carol@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    # Signing up hashes the password: on a loaded 2-core machine that alone can take 10 s.
    page.get_by_role("button", name="Sign up").click(timeout=40_000)
    expect(page.get_by_role("heading", name="Your accounts")).to_be_visible(timeout=40_000)
    page.get_by_role("link", name="Open Individual").click()
    expect(page.get_by_text("This pie has no slices yet")).to_be_visible()

    page.get_by_role("link", name="Edit pie").click()
    add_security(page, "VTI", to="Portfolio (top level)")
    # The first slice gets the whole pie and the focus; the search starts again empty.
    expect(page.get_by_label("Target % of VTI")).to_have_value("100.00")
    expect(page.get_by_label("Target % of VTI")).to_be_focused()
    expect(page.get_by_label("Search securities")).to_have_value("")
    page.get_by_label("Add to").select_option(label="Portfolio (top level)")
    page.get_by_role("button", name="Add sub-pie").click()
    expect(page.get_by_label("Sub-pie name: new sub-pie 1")).to_be_focused()
    page.get_by_label("Sub-pie name: new sub-pie 1").fill("Bonds")
    wait_for_htmx(page)  # the as-you-type answer renames the choice in "Add to" too
    add_security(page, "BND", to="Bonds")
    expect(page.get_by_label("Target % of Bonds/BND")).to_have_value("100.00")
    add_security(page, "TIP", to="Bonds")
    page.get_by_role("button", name="Split evenly in Bonds").click()
    expect(page.get_by_label("Target % of Bonds/TIP")).to_have_value("50.00")
    page.get_by_label("Target % of VTI").fill("60")
    page.get_by_label("Target % of Bonds", exact=True).fill("40")
    page.get_by_label("Target % of Bonds/BND").fill("70")
    page.get_by_label("Target % of Bonds/TIP").fill("30")
    wait_for_htmx(page)
    expect(page.locator("#root-total")).to_have_text("100.00%")
    # The last as-you-type answer has cleared the problems the blank targets had.
    expect(page.locator("#editor-summary")).to_have_text("", timeout=15_000)
    page.screenshot(path=str(screenshot_dir / "pie-editor.png"), full_page=True)
    page.get_by_role("button", name="Save pie").click()
    expect(page.get_by_text("Pie saved.")).to_be_visible()

    account = Account.objects.get(owner__username="carol")
    tree = {
        (s.pie.name, s.security.symbol if s.security else s.child_pie.name): s.target_bp
        for s in Slice.objects.filter(pie__account=account).select_related(
            "pie", "security", "child_pie"
        )
    }
    assert tree == {
        ("Portfolio", "VTI"): 6000,
        ("Portfolio", "Bonds"): 4000,
        ("Bonds", "BND"): 7000,
        ("Bonds", "TIP"): 3000,
    }

    page.get_by_role("link", name="Deposit", exact=True).first.click()
    page.get_by_label("Amount", exact=True).fill("1000")
    wait_for_htmx(page)
    preview = page.locator("#deposit-preview")
    expect(preview.get_by_role("row", name="VTI $600.00")).to_be_visible()
    expect(preview.get_by_role("row", name="Bonds/BND $280.00")).to_be_visible()
    page.get_by_role("button", name="Deposit").click()
    expect(
        page.get_by_text(re.compile(r"Deposit queued for the \w{3} \d\d:\d\d ET"))
    ).to_be_visible()
    expect(page.get_by_role("button", name="Cancel deposit")).to_be_visible()
    assert Intent.objects.get(account=account).amount == Decimal("1000.00")

    from trading.window import open_adhoc_window, run_window

    run_window(open_adhoc_window().id)

    page.reload()
    holdings = page.locator("table.holdings")
    expect(
        holdings.get_by_role("row", name=re.compile(r"^VTI 2\.400000 \$250\.00 \$600\.00"))
    ).to_be_visible()
    expect(
        holdings.get_by_role("row", name=re.compile(r"^Bonds sub-pie — — \$400\.00"))
    ).to_be_visible()
    expect(page.locator("#donut-desc")).to_have_text(
        "VTI: actual 60.00%, target 60.00%. Bonds: actual 40.00%, target 40.00%. "
    )
    expect(page.get_by_text("Nothing pending.")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "account.png"), full_page=True)

    # The donut's Bonds slice is a link into the sub-pie.
    page.get_by_role("link", name=re.compile(r"^Bonds: actual 40\.00%")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("Individual")
    holdings = page.locator("table.holdings")
    expect(
        holdings.get_by_role("row", name=re.compile(r"^BND 4\.000000 \$70\.00 \$280\.00"))
    ).to_be_visible()
    expect(
        holdings.get_by_role("row", name=re.compile(r"^TIP 1\.000000 \$120\.00 \$120\.00"))
    ).to_be_visible()

    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_text("Deposit: VTI got $600.00")).to_be_visible()
    expect(page.get_by_role("cell", name="Done")).to_be_visible()

    page.goto("/")
    expect(page.get_by_text("$1,000.00").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "dashboard.png"), full_page=True)


@pytest.fixture
def dana(make_user, priced):
    """A signed-up investor with a two-level pie and long- and short-term lots."""
    user = make_user("dana", password=PASSWORD)
    account = open_account(user=user, kind="individual")
    build_pie(
        account,
        [
            {"target_percent": "60", "symbol": "VTI"},
            {
                "target_percent": "40",
                "pie": {
                    "name": "Bonds",
                    "slices": [
                        {"target_percent": "70", "symbol": "BND"},
                        {"target_percent": "30", "symbol": "TIP"},
                    ],
                },
            },
        ],
    )
    hold(account, "VTI", "4", "600.00", acquired_on=date(2023, 3, 1))  # long-term lot
    hold(account, "VTI", "2", "540.00", acquired_on=date.today())  # short-term, at a loss
    hold(account, "Bonds/BND", "2", "150.00", acquired_on=date(2024, 1, 5))
    hold(account, "Bonds/TIP", "1", "118.00", acquired_on=date(2024, 1, 5))
    return account


def test_an_edit_whose_targets_sum_to_99_percent_shows_an_inline_error_and_saves_nothing(
    page: Page, dana
):
    version = Pie.objects.get(account=dana, is_root=True).version
    log_in(page, "dana")
    page.goto(f"/account/{dana.pk}/pie/edit/")
    page.get_by_label("Target % of VTI").fill("59")
    wait_for_htmx(page)
    expect(page.locator("#root-total")).to_have_text("99.00%")
    expect(page.get_by_text("Targets add up to 99.00%")).to_be_visible()
    page.get_by_role("button", name="Save pie").click()
    expect(page.get_by_text("Targets add up to 99.00%")).to_be_visible()
    expect(page.get_by_label("Target % of VTI")).to_have_value("59")
    assert Pie.objects.get(account=dana, is_root=True).version == version
    assert Slice.objects.get(pie__account=dana, security__symbol="VTI").target_bp == 6000


def test_rebalance_shows_orders_and_tax_then_confirm_and_cancel(page: Page, dana, screenshot_dir):
    log_in(page, "dana")
    page.goto(f"/account/{dana.pk}/")
    # Readable on a phone: the holdings table scrolls inside its card, the page does not.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Rebalance").click()
    expect(page.get_by_role("heading", name="Rebalance Individual?")).to_be_visible()
    # VTI is worth 6 x 250 = 1,500.00 of 1,760.00: sold down to 60% = 1,056.00; BND (28%)
    # and TIP (12%) are bought up to 492.80 and 211.20.
    orders = page.locator("table.orders")
    expect(orders.get_by_role("row", name="VTI Sell $444.00 1.776000")).to_be_visible()
    expect(
        orders.get_by_role("row", name="Bonds/BND Buy $352.80 at the window price")
    ).to_be_visible()
    expect(
        orders.get_by_role("row", name="Bonds/TIP Buy $91.20 at the window price")
    ).to_be_visible()
    # tax_min sells the short-term loss lot first: 1.776 of 2 shares bought for 540.00 cost
    # 479.52 and bring 444.00, a short-term loss of 35.52; no long-term lot is touched.
    expect(page.locator(".short-term-gain")).to_have_text("\u2212$35.52")
    expect(page.locator(".long-term-gain")).to_have_text("$0.00")
    expect(
        page.get_by_role("table", name=re.compile("Lots the sells would consume"))
    ).to_contain_text("Short-term")
    page.screenshot(path=str(screenshot_dir / "rebalance-preview.png"), full_page=True)

    page.get_by_role("button", name="Confirm rebalance").click()
    expect(page.get_by_text(re.compile("Rebalance queued"))).to_be_visible()
    intent = Intent.objects.get(account=dana, kind=IntentKind.REBALANCE)
    assert intent.status == IntentStatus.PENDING

    page.get_by_role("button", name="Cancel rebalance").click()
    expect(page.get_by_text("Rebalance cancelled.")).to_be_visible()
    intent.refresh_from_db()
    assert intent.status == IntentStatus.CANCELLED
    expect(page.get_by_role("button", name="Cancel rebalance")).to_have_count(0)


def test_a_withdrawal_larger_than_the_account_shows_an_error(page: Page, dana):
    log_in(page, "dana")
    page.goto(f"/account/{dana.pk}/withdraw/")
    page.get_by_label("Amount", exact=True).fill("5000")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_text("You can withdraw at most 1,760.00.").first).to_be_visible()
    assert not Intent.objects.filter(account=dana).exists()


def test_the_withdrawal_preview_follows_the_amount_and_the_everything_box(page: Page, dana):
    log_in(page, "dana")
    page.goto(f"/account/{dana.pk}/withdraw/")
    preview = page.locator("#withdraw-preview")
    page.get_by_label("Amount", exact=True).fill("5000")
    expect(preview.get_by_text("You can withdraw at most 1,760.00.")).to_be_visible()
    page.get_by_label("Amount", exact=True).fill("")
    expect(preview.get_by_text("Enter an amount to see what would be sold")).to_be_visible()
    page.get_by_label("Withdraw everything (sells every holding)").check()
    expect(preview.get_by_role("row", name=re.compile(r"^Bonds\/TIP Sell"))).to_be_visible()
    assert not Intent.objects.filter(account=dana).exists()


def test_another_users_account_page_is_not_found(page: Page, dana, make_user):
    make_user("erin", password=PASSWORD)
    log_in(page, "erin")
    response = page.goto(f"/account/{dana.pk}/")
    assert response is not None and response.status == 404
    response = page.goto(f"/account/{dana.pk}/pie/edit/")
    assert response is not None and response.status == 404


def test_the_editor_and_the_deposit_work_without_javascript(browser, live_server, dana):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, "dana")
        page.goto(f"/account/{dana.pk}/pie/edit/")
        page.get_by_label("Search securities").fill("VX")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("button", name="Add VXUS").click()
        page.get_by_label("Target % of VTI").fill("50")
        page.get_by_label("Target % of VXUS").fill("10")
        page.get_by_role("button", name="Save pie").click()
        expect(page.get_by_text("Pie saved.")).to_be_visible()
        targets = dict(
            Slice.objects.filter(
                pie__account=dana, pie__is_root=True, security__isnull=False
            ).values_list("security__symbol", "target_bp")
        )
        assert targets == {"VTI": 5000, "VXUS": 1000}

        page.goto(f"/account/{dana.pk}/deposit/")
        page.get_by_label("Amount", exact=True).fill("25.50")
        page.get_by_role("button", name="Deposit").click()
        expect(page.get_by_text("Deposit queued")).to_be_visible()
        assert Intent.objects.get(account=dana).amount == Decimal("25.50")
    finally:
        context.close()
