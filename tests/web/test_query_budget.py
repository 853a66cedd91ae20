"""The account page and the pie editor cost the same number of queries, at most 10, whatever
the pie's size and depth (issue 6, acceptance 3)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pies.services import open_account
from tests.web.builders import build_pie, hold

BUDGET = 10


def split(count: int) -> list[str]:
    """``count`` targets in percent summing to exactly 100.00."""
    base, extra = divmod(10000, count)
    bps = [base + (1 if i < extra else 0) for i in range(count)]
    return [f"{bp // 100}.{bp % 100:02d}" for bp in bps]


def leaves(symbols: list[str]) -> list[dict]:
    return [
        {"target_percent": t, "symbol": s}
        for t, s in zip(split(len(symbols)), symbols, strict=True)
    ]


def tree(symbols: list[str], levels: int) -> list[dict]:
    """One level: every security at the top. Three: one security and a sub-pie per level,
    the rest of the securities at the bottom."""
    if levels == 1:
        return leaves(symbols)
    return [
        {"target_percent": "50", "symbol": symbols[0]},
        {
            "target_percent": "50",
            "pie": {"name": f"Level {levels}", "slices": tree(symbols[1:], levels - 1)},
        },
    ]


@pytest.fixture
def investor(make_user, make_security):
    made = {"n": 0}

    def make(slices: int, levels: int):
        made["n"] += 1
        user = make_user(f"investor{made['n']}")
        account = open_account(user=user, kind="individual")
        symbols = [f"S{made['n']}X{i}" for i in range(slices)]
        for symbol in symbols:
            make_security(symbol, "10.00")
        build_pie(account, tree(symbols, levels))
        for path in _paths(tree(symbols, levels), ""):
            hold(account, path, "1.5", "12.00")
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client, account

    return make


def _paths(slices: list[dict], prefix: str) -> list[str]:
    out = []
    for item in slices:
        if "symbol" in item:
            out.append(prefix + item["symbol"])
        else:
            out += _paths(item["pie"]["slices"], f"{prefix}{item['pie']['name']}/")
    return out


def count_queries(client: Client, url: str) -> int:
    client.get(url)  # warm caches that are not per request (content types, the calendar)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


SHAPES = [(5, 1), (50, 1), (5, 3), (50, 3)]


@pytest.mark.parametrize("page", ["/account/{pk}/", "/account/{pk}/pie/edit/"])
def test_the_page_costs_the_same_queries_for_5_or_50_slices_and_1_or_3_levels(investor, page):
    counts = {}
    for slices, levels in SHAPES:
        client, account = investor(slices, levels)
        counts[(slices, levels)] = count_queries(client, page.format(pk=account.pk))
    assert len(set(counts.values())) == 1, counts
    assert max(counts.values()) <= BUDGET, counts


def test_the_sub_pie_page_costs_the_account_page_less_its_performance_section(investor):
    from pies.models import Pie

    client, account = investor(50, 3)
    deepest = Pie.objects.filter(account=account, name="Level 2").get()
    whole = count_queries(client, f"/account/{account.pk}/")
    sub = count_queries(client, f"/account/{account.pk}/pie/{deepest.pk}/")
    # The same, less the performance section's query: it is drawn on the account's own page only.
    # Seven: the session, the user, the account, its portfolio, pending intents, recurring
    # deposits and the performance section's digest (it is cached: count_queries views twice).
    assert sub == whole - 1 and whole == 7
