"""The activity page (issue 14): cash movements name their security, pending removals name
their slice, 50 rows a page, filters by kind, security and dates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from pies.models import Slice
from tests.web.builders import build_pie
from trading.books import verify_books
from trading.models import Intent, IntentKind, LedgerEntry, Order
from trading.services import request_deposit


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def after_a_window(core_pie):
    from trading.window import open_adhoc_window, run_window

    request_deposit(account=core_pie, amount="1000.00")
    run_window(open_adhoc_window().id)
    assert verify_books() == []
    return core_pie


def test_each_trade_and_dividend_cash_movement_names_its_security(alice_client, after_a_window):
    response = alice_client.get(f"/account/{after_a_window.pk}/activity/")
    page = html(response)
    buys = [entry for entry in response.context["flows"] if entry.kind == "buy"]
    assert buys, "the deposit bought something"
    for entry in buys:
        assert entry.symbol in {"VTI", "BND", "TIP"}
        assert f"Buy {entry.symbol}" in page
    assert re.search(r'data-label="What">Deposit</td>', page)


def test_a_pending_slice_removal_names_its_slice(alice_client, core_pie):
    build_pie(
        core_pie,
        [
            {"target_percent": "60", "symbol": "VTI"},
            {"target_percent": "40", "pie": {"name": "Bonds", "slices": [
                {"target_percent": "100", "symbol": "BND"}
            ]}},
        ],
    )  # fmt: skip
    assert Slice.objects.get(security__symbol="TIP").status == "removing"
    assert "Slice removal of TIP" in html(alice_client.get(f"/account/{core_pie.pk}/"))
    assert "Slice removal of TIP" in html(alice_client.get(f"/account/{core_pie.pk}/activity/"))
    assert "Slice removal of TIP" in html(alice_client.get("/"))


def test_requests_come_50_to_a_page_with_links_that_keep_the_filters(alice_client, core_pie):
    Intent.objects.bulk_create(
        Intent(account=core_pie, kind=IntentKind.DEPOSIT, amount="1.00", status="cancelled")
        for _ in range(120)
    )
    first = alice_client.get(f"/account/{core_pie.pk}/activity/?kind=deposit")
    assert len(first.context["intents"]) == 50
    assert "Page 1 of 3" in html(first)
    assert 'href="?kind=deposit&amp;requests_page=2"' in html(first)
    last = alice_client.get(f"/account/{core_pie.pk}/activity/?kind=deposit&requests_page=3")
    assert len(last.context["intents"]) == 20
    # A page past the end is the last page, a page that is not a number the first: no 500.
    assert alice_client.get(f"/account/{core_pie.pk}/activity/?requests_page=99").status_code == 200
    assert alice_client.get(f"/account/{core_pie.pk}/activity/?requests_page=x").status_code == 200


def test_filters_by_kind_security_and_dates(alice_client, after_a_window):
    url = f"/account/{after_a_window.pk}/activity/"
    buys = alice_client.get(url, {"kind": "buy"}).context
    assert {order.side for order in buys["orders"]} == {"buy"}
    assert {entry.kind for entry in buys["flows"]} == {"buy"}
    assert list(buys["intents"]) == []

    deposits = alice_client.get(url, {"kind": "deposit"}).context
    assert {entry.kind for entry in deposits["flows"]} == {"deposit"}
    assert [intent.kind for intent in deposits["intents"]] == ["deposit"]

    symbol = Order.objects.filter(account=after_a_window).first().security.symbol
    one = alice_client.get(url, {"security": symbol}).context
    assert {order.security.symbol for order in one["orders"]} == {symbol}
    assert one["flows"] and {entry.symbol for entry in one["flows"]} == {symbol}

    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    later = alice_client.get(url, {"start": tomorrow}).context
    assert list(later["intents"]) == [] and list(later["flows"]) == []
    everything = LedgerEntry.objects.filter(account=after_a_window).count()
    today = alice_client.get(url, {"end": tomorrow}).context
    assert today["flows"].paginator.count == everything


@pytest.mark.parametrize(
    "query,message",
    [
        ({"kind": "bogus"}, "Select a valid choice."),
        ({"security": "NOPE"}, "Select a valid choice."),
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "Choose a date on or after the start."),
    ],
)
def test_bad_filters_say_so_and_show_everything(alice_client, after_a_window, query, message):
    response = alice_client.get(f"/account/{after_a_window.pk}/activity/", query)
    assert response.status_code == 200
    assert message in html(response)
    assert response.context["flows"].paginator.count == (
        LedgerEntry.objects.filter(account=after_a_window).count()
    )


def test_the_account_sub_nav_marks_the_current_page(alice_client, core_pie):
    for url, name in (
        (f"/account/{core_pie.pk}/", "Overview"),
        (f"/account/{core_pie.pk}/activity/", "Activity"),
        (f"/account/{core_pie.pk}/recurring/", "Recurring deposits"),
        (f"/account/{core_pie.pk}/lots/", "Lots and gains"),
        (f"/account/{core_pie.pk}/dividends/", "Dividends"),
        (f"/account/{core_pie.pk}/settings/", "Account settings"),
    ):
        page = html(alice_client.get(url))
        [nav] = re.findall(r'<nav class="account-nav.*?</nav>', page, flags=re.S)
        assert re.findall(r'aria-current="page">([^<]+)</a>', nav) == [name], url


def test_pending_intents_are_described_in_one_query_or_two_when_some_name_a_slice_or_pie(
    core_pie,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pies.models import Pie

    request_deposit(account=core_pie, amount="10.00")
    request_deposit(account=core_pie, amount="20.00")
    with CaptureQueriesContext(connection) as queries:
        deposits = [i.description for i in Intent.objects.pending().described()]
    assert deposits == ["Deposit", "Deposit"] and len(queries) == 1
    bonds = Pie.objects.get(account=core_pie, name="Bonds")
    Intent.objects.create(account=core_pie, kind=IntentKind.REBALANCE, pie=bonds)
    tip = Slice.objects.get(security__symbol="TIP")
    Intent.objects.create(account=core_pie, kind=IntentKind.REMOVAL, slice=tip)
    with CaptureQueriesContext(connection) as queries:
        described = [i.description for i in Intent.objects.pending().described()]
    assert described == ["Deposit", "Deposit", "Rebalance of Bonds", "Slice removal of TIP"]
    assert len(queries) == 2  # however many name a slice or a pie: no query per intent
    # The account page's read (plain SQL): the same intents, described the same way.
    Intent.objects.create(account=core_pie, kind=IntentKind.DEPOSIT, amount="5.00", status="done")
    with CaptureQueriesContext(connection) as queries:
        pending = Intent.objects.pending_of(core_pie.pk)
        assert [i.description for i in pending] == described
    assert len(queries) == 2
    assert [i.pk for i in pending] == [
        i.pk for i in Intent.objects.pending().filter(account=core_pie).order_by("created_at", "id")
    ]


def test_the_account_pages_recurring_deposits_are_its_schedules_oldest_first(core_pie, bob_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trading.models import RecurringDeposit

    start = timezone.now().date()
    for account, amount in ((core_pie, "50.00"), (bob_account, "60.00"), (core_pie, "70.00")):
        RecurringDeposit.objects.create(
            account=account, amount=amount, frequency="weekly", start_date=start, next_date=start
        )
    with CaptureQueriesContext(connection) as queries:
        schedules = RecurringDeposit.objects.of_account(core_pie.pk)
    assert len(queries) == 1
    assert [str(s.amount) for s in schedules] == ["50.00", "70.00"]
    assert schedules == list(RecurringDeposit.objects.filter(account=core_pie))
