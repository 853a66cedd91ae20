"""Contract tests: every endpoint of api.md, its status codes, field names and formats."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from pies.models import Pie, Slice, SliceStatus
from tests.api.conftest import NESTED_PIE
from trading.models import (
    Account,
    Disposal,
    Dividend,
    Intent,
    IntentStatus,
    Lot,
    Order,
    Position,
    Price,
    Security,
    TradeWindow,
)
from trading.tasks import run_window_task

pytestmark = pytest.mark.django_db

MONEY = re.compile(r"^-?\d+\.\d{2}$")
QUANTITY = re.compile(r"^\d+\.\d{6}$")
PRICE = re.compile(r"^\d+\.\d{4}$")
PAGE_KEYS = {"count", "next", "previous", "results"}


def url(path: str) -> str:
    return f"/api/v1/{path}"


def traded(account: Account) -> dict:
    """Books as a window would leave them: an order, a lot, a partial sale (a disposal)."""
    position = Position.objects.get(account=account, security__symbol="AAA")
    window = TradeWindow.objects.create(
        trade_date=date(2026, 1, 5),
        session="adhoc",
        scheduled_at=timezone.now() - timedelta(days=1),
        status="done",
    )
    buy = Order.objects.create(
        window=window,
        account=account,
        position=position,
        security=position.security,
        side="buy",
        status="filled",
        amount=Decimal("20.00"),
        quantity=Decimal("0.200000"),
        price=Decimal("100.0000"),
        filled_amount=Decimal("20.00"),
        reason="deposit",
    )
    lot = Lot.objects.create(
        position=position,
        order=buy,
        acquired_on=date(2025, 1, 2),
        quantity=Decimal("0.200000"),
        remaining_quantity=Decimal("0.100000"),
        cost_basis=Decimal("20.00"),
        remaining_cost=Decimal("10.00"),
    )
    closed = Lot.objects.create(
        position=position,
        acquired_on=date(2025, 6, 1),
        quantity=Decimal("0.050000"),
        remaining_quantity=Decimal("0"),
        cost_basis=Decimal("5.00"),
        remaining_cost=Decimal("0"),
    )
    Position.objects.filter(pk=position.pk).update(quantity=Decimal("0.100000"))
    long_gain = Disposal.objects.create(
        lot=lot,
        account=account,
        security=position.security,
        acquired_on=lot.acquired_on,
        sold_on=date(2026, 3, 2),
        quantity=Decimal("0.100000"),
        proceeds=Decimal("12.50"),
        cost_basis=Decimal("10.00"),
        gain=Decimal("2.50"),
        term="long",
    )
    short_loss = Disposal.objects.create(
        lot=closed,
        account=account,
        security=position.security,
        acquired_on=closed.acquired_on,
        sold_on=date(2026, 4, 1),
        quantity=Decimal("0.050000"),
        proceeds=Decimal("4.00"),
        cost_basis=Decimal("5.00"),
        gain=Decimal("-1.00"),
        term="short",
    )
    old = Disposal.objects.create(
        lot=closed,
        account=account,
        security=position.security,
        acquired_on=closed.acquired_on,
        sold_on=date(2025, 12, 1),
        quantity=Decimal("0.010000"),
        proceeds=Decimal("1.00"),
        cost_basis=Decimal("1.00"),
        gain=Decimal("0.00"),
        term="short",
    )
    return {
        "window": window,
        "order": buy,
        "lot": lot,
        "closed": closed,
        "old": old,
        "long": long_gain,
        "short": short_loss,
    }


# --- auth ------------------------------------------------------------------------------------


def test_a_token_is_exchanged_for_a_username_and_password(anon, alice):
    response = anon.post(
        url("auth/token/"), {"username": "alice", "password": "correct horse battery"}, "json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    again = anon.post(
        url("auth/token/"), {"username": "alice", "password": "correct horse battery"}, "json"
    )
    assert again.json()["token"] == response.json()["token"]

    anon.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert anon.get(url("accounts/")).status_code == 200


def test_a_wrong_password_gets_no_token(anon, alice):
    response = anon.post(url("auth/token/"), {"username": "alice", "password": "nope"}, "json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_repeated_wrong_passwords_lock_the_token_endpoint_with_a_json_429(anon, alice):
    codes = [
        anon.post(url("auth/token/"), {"username": "alice", "password": "nope"}, "json")
        for _ in range(6)
    ]
    assert [r.status_code for r in codes[:4]] == [400] * 4
    assert codes[-1].status_code == 429
    assert codes[-1]["Content-Type"] == "application/json"
    assert "detail" in codes[-1].json()
    right = anon.post(
        url("auth/token/"), {"username": "alice", "password": "correct horse battery"}, "json"
    )
    assert right.status_code == 429  # locked out, even with the right password


def test_requests_without_credentials_are_401_with_a_token_challenge(anon):
    response = anon.get(url("accounts/"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_session_auth_needs_csrf_for_writes(alice):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get(url("accounts/")).status_code == 200
    response = browser.post(url("accounts/"), {"kind": "roth_ira"}, "json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# --- securities, prices, dividends ----------------------------------------------------------


def test_securities_are_searched_by_symbol_or_name_with_their_latest_price(
    alice_api, make_security
):
    make_security("VT", "101.5", name="Vanguard Total World")
    make_security("VTI", "250.1234", name="Vanguard Total Market")
    make_security("BND", "70", name="Bond Market")
    response = alice_api.get(url("securities/"), {"search": "vt"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS
    assert [row["symbol"] for row in body["results"]] == ["VT", "VTI"]
    row = body["results"][1]
    assert set(row) == {"symbol", "name", "kind", "price", "price_at", "active"}
    assert row["price"] == "250.1234"
    assert row["kind"] == "etf" and row["active"] is True
    assert alice_api.get(url("securities/"), {"search": "bond"}).json()["count"] == 1


def test_a_security_without_a_price_lists_null(alice_api, make_security):
    make_security("NEW", None)
    row = alice_api.get(url("securities/")).json()["results"][0]
    assert row["price"] is None and row["price_at"] is None


def test_staff_add_securities_and_investors_may_not(staff_api, alice_api):
    body = {"symbol": "vxus", "name": "Vanguard Total Intl", "kind": "etf"}
    assert alice_api.post(url("securities/"), body, "json").status_code == 403
    response = staff_api.post(url("securities/"), body, "json")
    assert response.status_code == 201
    assert response.json()["symbol"] == "VXUS"
    assert Security.objects.filter(symbol="VXUS").exists()
    duplicate = staff_api.post(url("securities/"), body, "json")
    assert duplicate.status_code == 400 and "symbol" in duplicate.json()
    bad = staff_api.post(url("securities/"), {"symbol": "1X", "name": "", "kind": "bond"}, "json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"symbol", "name", "kind"}


def test_staff_upsert_prices_in_bulk(staff_api, alice_api, make_security):
    make_security("VTI", None)
    make_security("BND", None)
    rows = [
        {"symbol": "VTI", "price": "250.12", "at": "2026-03-02T15:00:00Z"},
        {"symbol": "bnd", "price": 71.5, "at": "2026-03-02"},
        {"symbol": "VTI", "price": "251"},
    ]
    assert alice_api.post(url("prices/"), rows, "json").status_code == 403
    response = staff_api.post(url("prices/"), rows, "json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 3
    assert [p["price"] for p in body["prices"]] == ["250.1200", "71.5000", "251.0000"]
    bnd = Price.objects.get(security__symbol="BND")
    assert bnd.price == Decimal("71.5000")
    # A bare date is that day's close: 16:00 New York, 21:00 UTC in March before DST.
    assert bnd.at.isoformat() == "2026-03-02T21:00:00+00:00"
    again = staff_api.post(
        url("prices/"), [{"symbol": "VTI", "price": "252", "at": "2026-03-02T15:00:00Z"}], "json"
    )
    assert again.status_code == 200
    assert Price.objects.filter(security__symbol="VTI").count() == 2
    assert Price.objects.get(security__symbol="VTI", price=Decimal("252")).at.hour == 15


@pytest.mark.parametrize(
    ("rows", "key"),
    [
        ([{"symbol": "NOPE", "price": "1"}], "0.symbol"),
        ([{"symbol": "VTI", "price": "-1"}], "0.price"),
        ([{"symbol": "VTI", "price": "1.00001"}], "0.price"),
        ([{"symbol": "VTI", "price": "NaN"}], "0.price"),
        ([{"symbol": "VTI", "price": "1e3"}], "0.price"),
        ([{"symbol": "VTI", "price": "1", "at": "yesterday"}], "0.at"),
        ([{"symbol": "VTI", "price": "1", "at": "0001-01-01T00:00:00+14:00"}], "0.at"),
        ({"symbol": "VTI", "price": "1"}, "non_field_errors"),
        ([], "non_field_errors"),
        ([None], "0"),
        ([{"symbol": ["VTI"], "price": {"a": 1}}], "0.symbol"),
    ],
)
def test_bad_prices_are_400_and_nothing_is_stored(staff_api, make_security, rows, key):
    make_security("VTI", None)
    response = staff_api.post(url("prices/"), rows, "json")
    assert response.status_code == 400
    assert key in response.json()
    assert not Price.objects.exists()


def test_staff_record_dividends(staff_api, alice_api, make_security):
    make_security("VTI")
    body = {
        "symbol": "VTI",
        "ex_date": "2026-03-20",
        "pay_date": "2026-03-25",
        "amount_per_share": "0.8123",
    }
    assert alice_api.post(url("dividends/"), body, "json").status_code == 403
    response = staff_api.post(url("dividends/"), body, "json")
    assert response.status_code == 201
    assert response.json()["amount_per_share"] == "0.812300"
    assert Dividend.objects.get().amount_per_share == Decimal("0.8123")
    assert staff_api.post(url("dividends/"), body, "json").status_code == 400
    backwards = {**body, "ex_date": "2026-04-01"}
    assert "pay_date" in staff_api.post(url("dividends/"), backwards, "json").json()
    unknown = {**body, "symbol": "ZZZ"}
    assert "symbol" in staff_api.post(url("dividends/"), unknown, "json").json()


# --- accounts --------------------------------------------------------------------------------

ACCOUNT_KEYS = {
    "id",
    "name",
    "kind",
    "cash",
    "invested_value",
    "total_value",
    "available_to_withdraw",
    "auto_invest",
    "min_cash",
    "window_preference",
    "lot_method",
    "notify",
}


def test_accounts_list_with_cash_and_values(alice_api, alice_account, nested_pie):
    traded(alice_account)
    Account.objects.filter(pk=alice_account.pk).update(cash=Decimal("5.25"))
    response = alice_api.get(url("accounts/"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS and body["count"] == 1
    row = body["results"][0]
    assert set(row) == ACCOUNT_KEYS
    assert row["cash"] == "5.25"
    assert row["invested_value"] == "10.00"  # 0.1 AAA at 100.00
    assert row["total_value"] == "15.25"
    assert row["available_to_withdraw"] == "15.25"
    assert row["min_cash"] == "0.00"
    assert row["kind"] == "individual" and row["lot_method"] == "tax_min"


def test_an_account_is_opened_once_per_kind(alice_api, alice_account):
    response = alice_api.post(url("accounts/"), {"kind": "roth_ira", "name": "Retirement"}, "json")
    assert response.status_code == 201
    assert set(response.json()) == ACCOUNT_KEYS
    assert response.json()["name"] == "Retirement"
    assert Pie.objects.filter(account_id=response.json()["id"], is_root=True).exists()
    again = alice_api.post(url("accounts/"), {"kind": "roth_ira"}, "json")
    assert again.status_code == 400 and "kind" in again.json()
    assert alice_api.post(url("accounts/"), {"kind": "house"}, "json").status_code == 400


def test_patch_changes_settings_only(alice_api, alice_account):
    path = url(f"accounts/{alice_account.pk}/")
    assert set(alice_api.get(path).json()) == ACCOUNT_KEYS
    response = alice_api.patch(
        path,
        {
            "auto_invest": False,
            "min_cash": "250.5",
            "window_preference": "afternoon",
            "lot_method": "hifo",
        },
        "json",
    )
    assert response.status_code == 200
    assert response.json()["min_cash"] == "250.50"
    alice_account.refresh_from_db()
    assert (alice_account.auto_invest, alice_account.min_cash) == (False, Decimal("250.50"))
    assert alice_account.window_preference == "afternoon" and alice_account.lot_method == "hifo"
    assert alice_api.patch(path, {"min_cash": 0}, "json").json()["min_cash"] == "0.00"
    refused = alice_api.patch(path, {"cash": "1000000"}, "json")
    assert refused.status_code == 400 and "cash" in refused.json()
    assert alice_api.patch(path, {"min_cash": "-1"}, "json").status_code == 400
    assert alice_api.patch(path, {"lot_method": "random"}, "json").status_code == 400
    alice_account.refresh_from_db()
    assert alice_account.cash == 0


# --- pie -------------------------------------------------------------------------------------


def test_the_pie_tree_has_values_percentages_and_a_version(alice_api, alice_account, nested_pie):
    traded(alice_account)
    response = alice_api.get(url(f"accounts/{alice_account.pk}/pie/"))
    assert response.status_code == 200
    tree = response.json()
    assert set(tree) == {"id", "name", "version", "slices"}
    assert tree["name"] == "Core" and tree["version"] == 2
    aaa, bonds = tree["slices"][0], tree["slices"][4]
    assert aaa["symbol"] == "AAA" and aaa["status"] == "active"
    assert aaa["target_percent"] == "20.00"
    assert aaa["quantity"] == "0.100000" and aaa["value"] == "10.00"
    assert aaa["actual_percent"] == "100.00" and aaa["drift_percent"] == "80.00"
    assert "pie" not in aaa and "symbol" not in bonds
    assert bonds["pie"]["name"] == "Bonds"
    assert [s["symbol"] for s in bonds["pie"]["slices"]] == ["BND", "TIP"]
    assert bonds["pie"]["slices"][0]["target_percent"] == "50.00"
    assert bonds["value"] == "0.00"


def test_put_replaces_the_tree_and_keeps_holdings_attached(alice_api, alice_account, nested_pie):
    traded(alice_account)
    path = url(f"accounts/{alice_account.pk}/pie/")
    tree = alice_api.get(path).json()
    aaa = tree["slices"][0]
    bonds = tree["slices"][4]
    # Move AAA into the (renamed) bond pie, drop BBB and DDD, keep CCC.
    new = {
        "name": "Core",
        "version": tree["version"],
        "slices": [
            {"target_percent": "50.00", "symbol": "CCC"},
            {
                "id": bonds["id"],
                "target_percent": 50,
                "pie": {
                    "id": bonds["pie"]["id"],
                    "name": "Fixed income",
                    "slices": [
                        {"id": aaa["id"], "target_percent": "40", "symbol": "AAA"},
                        {"target_percent": 30.5, "symbol": "BND"},
                        {"target_percent": "29.50", "symbol": "TIP"},
                    ],
                },
            },
        ],
    }
    response = alice_api.put(path, new, "json")
    assert response.status_code == 200, response.json()
    after = response.json()
    assert after["version"] == tree["version"] + 1
    moved = after["slices"][1]["pie"]["slices"][0]
    assert moved["id"] == aaa["id"] and moved["quantity"] == "0.100000"
    assert after["slices"][1]["pie"]["name"] == "Fixed income"
    assert after["slices"][1]["pie"]["slices"][1]["target_percent"] == "30.50"
    assert not Slice.objects.filter(security__symbol="BBB").exclude(status="removed").exists()

    stale = alice_api.put(path, new, "json")
    assert stale.status_code == 409
    assert stale.json()["version"] == after["version"]
    assert "detail" in stale.json()


def test_a_vanished_slice_with_shares_becomes_removing(alice_api, alice_account, nested_pie):
    traded(alice_account)
    path = url(f"accounts/{alice_account.pk}/pie/")
    tree = alice_api.get(path).json()
    body = {
        "version": tree["version"],
        "slices": [{"target_percent": "100", "pie": NESTED_PIE["slices"][4]["pie"]}],
    }
    response = alice_api.put(path, body, "json")
    assert response.status_code == 200, response.json()
    removing = [s for s in response.json()["slices"] if s.get("symbol") == "AAA"]
    assert removing[0]["status"] == "removing" and removing[0]["target_percent"] == "0.00"
    assert Slice.objects.get(security__symbol="AAA").status == SliceStatus.REMOVING


@pytest.mark.parametrize(
    ("slices", "key"),
    [
        ([{"target_percent": "60", "symbol": "AAA"}], "slices"),
        ([{"target_percent": "100.001", "symbol": "AAA"}], "slices.0.target_percent"),
        ([{"target_percent": "100", "symbol": "NOPE"}], "slices.0.symbol"),
        ([{"target_percent": "100", "symbol": "AAA", "id": 10**30}], "slices.0.id"),
        ("many", "slices"),
    ],
)
def test_bad_trees_are_400_with_field_errors_by_path(
    alice_api, alice_account, universe, slices, key
):
    path = url(f"accounts/{alice_account.pk}/pie/")
    response = alice_api.put(path, {"version": 1, "slices": slices}, "json")
    assert response.status_code == 400
    assert key in response.json()


def test_a_pie_body_that_is_not_an_object_is_400(alice_api, alice_account):
    path = url(f"accounts/{alice_account.pk}/pie/")
    assert alice_api.put(path, [1, 2], "json").status_code == 400
    assert alice_api.put(path, {"slices": []}, "json").status_code == 400  # no version
    deep = '{"a": [' * 5000 + "1" + "]}" * 5000
    response = alice_api.put(path, deep, content_type="application/json")
    assert response.status_code == 400


def test_export_and_import_use_the_open_pie_format(alice_api, alice_account, nested_pie):
    exported = alice_api.get(url(f"accounts/{alice_account.pk}/pie/export/"))
    assert exported.status_code == 200
    data = exported.json()
    assert data["format"] == "pies/1" and data["name"] == "Core"
    assert data["slices"][4] == {
        "target_percent": "20.00",
        "pie": {
            "name": "Bonds",
            "slices": [
                {"target_percent": "50.00", "symbol": "BND"},
                {"target_percent": "50.00", "symbol": "TIP"},
            ],
        },
    }
    data["slices"] = data["slices"][:4]
    for item in data["slices"]:
        item["target_percent"] = "25.00"
    path = url(f"accounts/{alice_account.pk}/pie/import/")
    response = alice_api.post(path, {**data, "version": 2}, "json")
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 3
    assert len(response.json()["slices"]) == 4
    assert alice_api.post(path, {**data, "version": 2}, "json").status_code == 409
    wrong = alice_api.post(path, {**data, "format": "other", "version": 3}, "json")
    assert wrong.status_code == 400 and "format" in wrong.json()


# --- money in and out ------------------------------------------------------------------------

INTENT_KEYS = {
    "id",
    "kind",
    "amount",
    "amount_paid",
    "withdraw_all",
    "pie",
    "schedule",
    "occurrence_date",
    "status",
    "created_at",
    "window",
    "failure_reason",
}


def test_a_deposit_is_a_pending_intent(alice_api, alice_account):
    response = alice_api.post(
        url(f"accounts/{alice_account.pk}/deposits/"), {"amount": "100.1"}, "json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == INTENT_KEYS
    assert (body["kind"], body["amount"], body["status"]) == ("deposit", "100.10", "pending")
    assert body["amount_paid"] is None
    assert Intent.objects.get().amount == Decimal("100.10")


def test_a_json_number_amount_is_read_as_its_decimal_text_not_a_float(alice_api, alice_account):
    path = url(f"accounts/{alice_account.pk}/deposits/")
    response = alice_api.post(path, '{"amount": 0.29}', content_type="application/json")
    assert response.status_code == 201
    assert response.json()["amount"] == "0.29"
    assert Intent.objects.get().amount == Decimal("0.29")


@pytest.mark.parametrize(
    "raw",
    [
        '"NaN"',
        "NaN",
        "Infinity",
        '"-5"',
        "0",
        '"0.001"',
        '"1e5"',
        "1e400",
        "1e-400",
        '"abc"',
        "true",
        "null",
        "[1]",
        '"1000000.01"',
        "1" + "0" * 5000,
    ],
)
def test_bad_amounts_are_400_and_create_nothing(alice_api, alice_account, raw):
    response = alice_api.post(
        url(f"accounts/{alice_account.pk}/deposits/"),
        '{"amount": ' + raw + "}",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not Intent.objects.exists()


def test_withdrawals_are_limited_to_the_value(alice_api, alice_account):
    Account.objects.filter(pk=alice_account.pk).update(cash=Decimal("50.00"))
    path = url(f"accounts/{alice_account.pk}/withdrawals/")
    too_much = alice_api.post(path, {"amount": "50.01"}, "json")
    assert too_much.status_code == 400 and "amount" in too_much.json()
    response = alice_api.post(path, {"amount": 20}, "json")
    assert response.status_code == 201
    assert response.json()["kind"] == "withdrawal" and response.json()["amount"] == "20.00"
    everything = alice_api.post(path, {"withdraw_all": True}, "json")
    assert everything.status_code == 201
    assert everything.json()["withdraw_all"] is True and everything.json()["amount"] is None
    assert alice_api.post(path, {}, "json").status_code == 400


def test_previews_show_orders_and_tax_impact(alice_api, alice_account, nested_pie):
    traded(alice_account)
    rebalance = alice_api.get(url(f"accounts/{alice_account.pk}/rebalance/preview/"))
    assert rebalance.status_code == 200, rebalance.json()
    body = rebalance.json()
    assert set(body) >= {"orders", "tax"}
    assert set(body["tax"]) >= {"short_term_gain", "long_term_gain", "lots"}
    sell = next(o for o in body["orders"] if o["side"] == "sell")
    assert (
        sell["path"] == "AAA" and MONEY.match(sell["amount"]) and QUANTITY.match(sell["quantity"])
    )
    buy = next(o for o in body["orders"] if o["side"] == "buy")
    assert set(buy) == {"path", "symbol", "side", "amount"}
    assert body["tax"]["lots"][0]["symbol"] == "AAA"

    bonds = Pie.objects.get(account=alice_account, name="Bonds")
    only_bonds = alice_api.get(
        url(f"accounts/{alice_account.pk}/rebalance/preview/"), {"pie": bonds.pk}
    )
    assert only_bonds.status_code == 200

    withdrawal = alice_api.get(
        url(f"accounts/{alice_account.pk}/withdrawals/preview/"), {"amount": "5.00"}
    )
    assert withdrawal.status_code == 200, withdrawal.json()
    assert withdrawal.json()["orders"][0]["side"] == "sell"
    assert MONEY.match(withdrawal.json()["tax"]["long_term_gain"])
    bad = alice_api.get(url(f"accounts/{alice_account.pk}/withdrawals/preview/"), {"amount": "x"})
    assert bad.status_code == 400 and "amount" in bad.json()


def test_a_rebalance_is_one_pending_intent_per_pie(alice_api, alice_account, nested_pie):
    path = url(f"accounts/{alice_account.pk}/rebalance/")
    response = alice_api.post(path, {}, "json")
    assert response.status_code == 201
    assert response.json()["kind"] == "rebalance"
    assert response.json()["pie"] == nested_pie.pk
    second = alice_api.post(path, {"pie": nested_pie.pk}, "json")
    assert second.status_code == 409
    bonds = Pie.objects.get(account=alice_account, name="Bonds")
    assert alice_api.post(path, {"pie": bonds.pk}, "json").status_code == 201
    assert alice_api.post(path, [], "json").status_code == 400
    assert alice_api.post(path, "0", content_type="application/json").status_code == 400
    missing = alice_api.post(path, {"pie": 10**30}, "json")
    assert missing.status_code == 400 and "pie" in missing.json()


def test_intents_are_listed_and_cancelled_until_their_window_starts(alice_api, alice_account):
    base = url(f"accounts/{alice_account.pk}/")
    first = alice_api.post(base + "deposits/", {"amount": "10"}, "json").json()
    second = alice_api.post(base + "deposits/", {"amount": "20"}, "json").json()
    listing = alice_api.get(base + "intents/")
    assert listing.status_code == 200
    assert set(listing.json()) == PAGE_KEYS
    assert [i["id"] for i in listing.json()["results"]] == [second["id"], first["id"]]
    assert set(listing.json()["results"][0]) == INTENT_KEYS

    assert alice_api.delete(base + f"intents/{first['id']}/").status_code == 204
    assert Intent.objects.get(pk=first["id"]).status == IntentStatus.CANCELLED
    assert alice_api.delete(base + f"intents/{first['id']}/").status_code == 409

    window = TradeWindow.objects.create(
        trade_date=date(2026, 1, 5),
        session="adhoc",
        scheduled_at=timezone.now(),
        status="running",
    )
    Intent.objects.filter(pk=second["id"]).update(window=window)
    started = alice_api.delete(base + f"intents/{second['id']}/")
    assert started.status_code == 409 and "detail" in started.json()
    assert alice_api.delete(base + "intents/999999/").status_code == 404


# --- holdings, lots, gains, orders ------------------------------------------------------------


def test_holdings_give_portfolio_wide_percentages(alice_api, alice_account, nested_pie):
    traded(alice_account)
    response = alice_api.get(url(f"accounts/{alice_account.pk}/holdings/"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS and body["count"] == 6
    aaa = body["results"][0]
    assert set(aaa) >= {
        "path",
        "symbol",
        "quantity",
        "price",
        "value",
        "cost_basis",
        "unrealized_gain",
        "target_percent",
        "actual_percent",
    }
    assert (aaa["quantity"], aaa["price"], aaa["value"]) == ("0.100000", "100.0000", "10.00")
    assert (aaa["cost_basis"], aaa["unrealized_gain"]) == ("10.00", "0.00")
    assert (aaa["target_percent"], aaa["actual_percent"]) == ("20.00", "100.00")
    bnd = body["results"][4]
    assert bnd["path"] == "Bonds/BND" and bnd["target_percent"] == "10.00"
    assert bnd["actual_percent"] == "0.00"


def test_lots_are_filtered_by_status(alice_api, alice_account, nested_pie):
    books = traded(alice_account)
    base = url(f"accounts/{alice_account.pk}/lots/")
    every = alice_api.get(base).json()
    assert every["count"] == 2
    lot = every["results"][0]
    assert set(lot) >= {
        "path",
        "symbol",
        "acquired_on",
        "quantity",
        "remaining_quantity",
        "cost_basis",
    }
    assert (lot["path"], lot["acquired_on"]) == ("AAA", "2025-01-02")
    assert (lot["quantity"], lot["remaining_quantity"], lot["cost_basis"]) == (
        "0.200000",
        "0.100000",
        "20.00",
    )
    assert [x["id"] for x in alice_api.get(base, {"status": "open"}).json()["results"]] == [
        books["lot"].pk
    ]
    assert [x["id"] for x in alice_api.get(base, {"status": "closed"}).json()["results"]] == [
        books["closed"].pk
    ]
    assert alice_api.get(base, {"status": "sideways"}).status_code == 400


def test_realized_gains_by_year_with_totals(alice_api, alice_account, nested_pie):
    traded(alice_account)
    base = url(f"accounts/{alice_account.pk}/realized-gains/")
    response = alice_api.get(base, {"year": 2026})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS | {"short_term_gain", "long_term_gain"}
    assert body["count"] == 2
    assert (body["short_term_gain"], body["long_term_gain"]) == ("-1.00", "2.50")
    row = body["results"][0]
    assert set(row) == {
        "symbol",
        "acquired_on",
        "sold_on",
        "quantity",
        "proceeds",
        "cost_basis",
        "gain",
        "term",
    }
    assert row == {
        "symbol": "AAA",
        "acquired_on": "2025-01-02",
        "sold_on": "2026-03-02",
        "quantity": "0.100000",
        "proceeds": "12.50",
        "cost_basis": "10.00",
        "gain": "2.50",
        "term": "long",
    }
    assert alice_api.get(base).json()["count"] == 3
    assert alice_api.get(base, {"year": "twenty"}).status_code == 400
    paged = alice_api.get(base, {"year": 2026, "page_size": 1}).json()
    assert len(paged["results"]) == 1 and paged["next"]
    assert paged["long_term_gain"] == "2.50"


def test_realized_gains_as_csv_have_a_header_and_every_row(alice_api, alice_account, nested_pie):
    traded(alice_account)
    base = url(f"accounts/{alice_account.pk}/realized-gains/")
    response = alice_api.get(base, {"year": 2026, "format": "csv", "page_size": 1})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == "symbol,acquired_on,sold_on,quantity,proceeds,cost_basis,gain,term"
    assert lines[1:] == [
        "AAA,2025-01-02,2026-03-02,0.100000,12.50,10.00,2.50,long",
        "AAA,2025-06-01,2026-04-01,0.050000,4.00,5.00,-1.00,short",
    ]
    empty = alice_api.get(base, {"year": 2020, "format": "csv"})
    assert empty.content.decode().splitlines() == [lines[0]]
    bad = alice_api.get(base, {"year": "x", "format": "csv"})
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json" and "year" in bad.json()
    assert alice_api.get(base, {"format": "xml"}).status_code == 404


def test_orders_show_window_side_amount_quantity_price_and_reason(
    alice_api, alice_account, nested_pie
):
    books = traded(alice_account)
    response = alice_api.get(url(f"accounts/{alice_account.pk}/orders/"))
    assert response.status_code == 200
    order = response.json()["results"][0]
    assert order["id"] == books["order"].pk
    assert order["window"] == books["window"].pk and order["trade_date"] == "2026-01-05"
    assert (order["path"], order["symbol"], order["side"]) == ("AAA", "AAA", "buy")
    assert (order["amount"], order["quantity"], order["price"]) == ("20.00", "0.200000", "100.0000")
    assert order["reason"] == "deposit" and order["status"] == "filled"


# --- trade windows ---------------------------------------------------------------------------


def test_the_next_window_is_a_session_and_a_start(alice_api):
    response = alice_api.get(url("trade-windows/next/"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"session", "starts_at"}
    assert body["session"] in {"morning", "afternoon"}


def test_staff_list_windows_with_counts(staff_api, alice_api, alice_account, nested_pie):
    books = traded(alice_account)
    assert alice_api.get(url("trade-windows/")).status_code == 403
    response = staff_api.get(url("trade-windows/"))
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["id"] == books["window"].pk
    assert row["counts"] == {"intents": 0, "orders": 1, "blocks": 0}
    assert set(row) >= {"status", "phase", "timings", "scheduled_at", "session"}


@pytest.mark.django_db(transaction=True)
def test_staff_run_a_window_now_on_a_worker_and_read_its_report(
    staff_api, alice_api, alice_account, sent_windows
):
    deposit = alice_api.post(
        url(f"accounts/{alice_account.pk}/deposits/"), {"amount": "40.00"}, "json"
    ).json()
    response = staff_api.post(url("trade-windows/run/"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["session"] == "adhoc" and body["status"] == "scheduled"
    assert sent_windows == [body["id"]]  # answered before anything ran
    assert Intent.objects.get(pk=deposit["id"]).status == "pending"

    run_window_task(body["id"])  # the worker

    window = staff_api.get(url(f"trade-windows/{body['id']}/")).json()
    assert window["status"] == "done" and window["counts"]["intents"] == 1
    assert window["report"]["intents"] == 1
    assert Intent.objects.get(pk=deposit["id"]).status == "done"
    account = alice_api.get(url(f"accounts/{alice_account.pk}/")).json()
    assert account["cash"] == "40.00"  # no pie yet: the money stays cash
    assert staff_api.get(url("trade-windows/99999/")).status_code == 404
    assert alice_api.get(url(f"trade-windows/{body['id']}/")).status_code == 403


def test_only_staff_run_a_window(alice_api, anon, sent_windows):
    assert alice_api.post(url("trade-windows/run/")).status_code == 403
    assert anon.post(url("trade-windows/run/")).status_code == 401
    assert sent_windows == [] and not TradeWindow.objects.exists()


# --- the edges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["accounts/abc/", "accounts/-1/", "accounts/99999999999999999999999/pie/", "nothing/"],
)
def test_unknown_api_paths_are_json_404s(alice_api, path):
    response = alice_api.get(url(path))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_body_that_is_not_json_is_refused(alice_api, alice_account):
    path = url(f"accounts/{alice_account.pk}/deposits/")
    assert alice_api.post(path, "amount=1", content_type="text/plain").status_code == 415
    assert alice_api.post(path, "{", content_type="application/json").status_code == 400


@pytest.mark.parametrize("path", ["accounts/", "securities/", "prices/", "trade-windows/next/"])
def test_options_describe_the_endpoint_without_crashing(staff_api, path):
    response = staff_api.options(url(path))
    assert response.status_code == 200
    assert "application/json" in response.json()["renders"]


def test_nul_characters_anywhere_in_the_input_are_a_400(
    alice_api, anon, staff_api, alice_account, universe
):
    # PostgreSQL text cannot hold NUL: without the check these were database errors (500s).
    pie = f"/api/v1/accounts/{alice_account.pk}/pie/"
    deposits = f"/api/v1/accounts/{alice_account.pk}/deposits/"
    responses = [
        alice_api.get(url("securities/"), {"search": "a\x00b"}),
        alice_api.get(url(f"accounts/{alice_account.pk}/intents/"), {"x\x00": "1"}),
        anon.post(url("auth/token/"), {"username": "a\x00", "password": "x"}, "json"),
        alice_api.put(
            pie, {"version": 1, "slices": [{"target_percent": "100", "symbol": "A\x00"}]}, "json"
        ),
        alice_api.put(pie, {"version": 1, "name": "a\x00", "slices": []}, "json"),
        alice_api.post(url("accounts/"), {"kind": "joint", "name": "x\x00"}, "json"),
        staff_api.post(url("securities/"), {"symbol": "X", "name": "x\x00", "kind": "etf"}, "json"),
        staff_api.post(url("prices/"), [{"symbol": "X\x00", "price": "1"}], "json"),
        alice_api.post(deposits, {"amount": "1"}, "json", HTTP_IDEMPOTENCY_KEY="a\x00"),
        alice_api.post(deposits, {"amount": "1", "x\x00": 1}, "json"),
    ]
    assert [r.status_code for r in responses] == [400] * len(responses)
    assert not Intent.objects.exists()


def test_a_retirement_accounts_preview_says_no_tax_instead_of_numbers(alice_api, alice, universe):
    from pies.services import open_account, save_pie_tree

    ira = open_account(user=alice, kind="roth_ira")
    save_pie_tree(account=ira, tree=NESTED_PIE, version=1)
    response = alice_api.get(url(f"accounts/{ira.pk}/rebalance/preview/"))
    assert response.status_code == 200
    tax = response.json()["tax"]
    assert tax["taxable"] is False and tax["note"]
    assert tax["short_term_gain"] is None and tax["lots"] == []


def test_a_settings_body_that_is_not_an_object_is_400(alice_api, alice_account):
    path = url(f"accounts/{alice_account.pk}/")
    assert alice_api.patch(path, [1], "json").status_code == 400
    assert alice_api.patch(path, "3", content_type="application/json").status_code == 400
