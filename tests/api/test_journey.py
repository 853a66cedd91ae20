"""A scripted journey through the API only: the `first-deposit-nested` scenario end to end."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "scenarios.json"


def scenario(name: str) -> dict:
    found = json.loads(SCENARIOS.read_text())["scenarios"]
    return next(s for s in found if s["id"] == name)


def as_put_tree(node: dict) -> list[dict]:
    """The scenario's pie in the api.md PUT shape (a child with slices is a sub-pie)."""
    slices = []
    for child in node["slices"]:
        if "slices" in child:
            sub = {"name": child["name"], "slices": as_put_tree(child)}
            slices.append({"target_percent": child["target_percent"], "pie": sub})
        else:
            slices.append({"target_percent": child["target_percent"], "symbol": child["name"]})
    return slices


def leaf_symbols(node: dict) -> list[str]:
    out = []
    for child in node["slices"]:
        out.extend(leaf_symbols(child) if "slices" in child else [child["name"]])
    return out


@pytest.mark.django_db(transaction=True)
def test_first_deposit_nested_through_the_api_only(make_user, capsys):
    case = scenario("first-deposit-nested")
    make_user("ivy")
    from trading.ops import ensure_operations_group

    make_user("sam", is_staff=True).groups.add(ensure_operations_group())

    def signed_in(username: str) -> APIClient:
        client = APIClient()
        response = client.post(
            "/api/v1/auth/token/",
            {"username": username, "password": "correct horse battery"},
            format="json",
        )
        assert response.status_code == 200
        client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        return client

    staff, ivy = signed_in("sam"), signed_in("ivy")

    # Staff list the securities and price them.
    symbols = leaf_symbols(case["pie"])
    for symbol in symbols:
        created = staff.post(
            "/api/v1/securities/",
            {"symbol": symbol, "name": f"{symbol} Fund", "kind": "etf"},
            format="json",
        )
        assert created.status_code == 201
    prices = [{"symbol": symbol, "price": "100.00"} for symbol in symbols]
    assert staff.post("/api/v1/prices/", prices, format="json").status_code == 200

    # The investor opens an account, sets a nested pie and deposits.
    account = ivy.post("/api/v1/accounts/", {"kind": "roth_ira"}, format="json").json()
    pie_url = f"/api/v1/accounts/{account['id']}/pie/"
    version = ivy.get(pie_url).json()["version"]
    saved = ivy.put(
        pie_url,
        {"name": "Core", "version": version, "slices": as_put_tree(case["pie"])},
        format="json",
    )
    assert saved.status_code == 200, saved.json()
    deposit = ivy.post(
        f"/api/v1/accounts/{account['id']}/deposits/",
        {"amount": case["amount"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="journey-1",
    )
    assert deposit.status_code == 201

    call_command("run_trade_window")
    capsys.readouterr()

    holdings = ivy.get(f"/api/v1/accounts/{account['id']}/holdings/").json()["results"]
    invested = {row["path"]: row["cost_basis"] for row in holdings if row["cost_basis"] != "0.00"}
    assert invested == case["expected_buys"]
    for row in holdings:
        expected = Decimal(case["expected_buys"][row["path"]])
        assert Decimal(row["quantity"]) == expected / Decimal("100")
        assert row["value"] == f"{expected:.2f}"
    intents = ivy.get(f"/api/v1/accounts/{account['id']}/intents/").json()["results"]
    assert [i["status"] for i in intents] == ["done"]
    after = ivy.get(f"/api/v1/accounts/{account['id']}/").json()
    assert after["cash"] == "0.00"
    assert after["invested_value"] == after["total_value"] == "100.00"
    orders = ivy.get(f"/api/v1/accounts/{account['id']}/orders/").json()["results"]
    assert {o["path"]: o["amount"] for o in orders} == case["expected_buys"]
    assert {o["side"] for o in orders} == {"buy"}
