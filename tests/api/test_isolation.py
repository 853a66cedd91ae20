"""Isolation: one user's objects are 404 to another in paths, and in request bodies they read
exactly like ids that do not exist."""

from __future__ import annotations

import re

import pytest

from pieproject import api_urls
from pies.models import Pie, Slice
from pies.services import open_account, save_pie_tree
from tests.api.conftest import NESTED_PIE
from trading.models import Intent

pytestmark = pytest.mark.django_db

MISSING = 987654321


def account_paths() -> list[tuple[str, str]]:
    """(method, route) for every API endpoint with an account in its path, from the URLconf:
    a new endpoint is walked without anyone remembering to add it here."""
    found = []
    for pattern in api_urls.urlpatterns:
        route = str(pattern.pattern)
        if "<int:account_id>" not in route:
            continue
        view = pattern.callback.view_class
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.append((method, route))
    return found


@pytest.fixture
def two_users(alice, bob, universe):
    alice_account = open_account(user=alice, kind="individual")
    bob_account = open_account(user=bob, kind="individual")
    save_pie_tree(account=alice_account, tree=NESTED_PIE, version=1)
    save_pie_tree(account=bob_account, tree=NESTED_PIE, version=1)
    intent = Intent.objects.create(account=alice_account, kind="deposit", amount="10.00")
    return alice_account, bob_account, intent


def test_every_account_endpoint_is_walked():
    routes = {route for _, route in account_paths()}
    assert len(routes) >= 15  # the api.md table: account, pie, export, import, ... orders
    assert "accounts/<int:account_id>/intents/<int:intent_id>/" in routes


def call(client, method: str, path: str):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, {}, format="json")


def test_someone_elses_account_is_404_on_every_endpoint(two_users, bob_api, alice_api):
    alice_account, _, intent = two_users
    checked = 0
    for method, route in account_paths():
        path = "/api/v1/" + route.replace("<int:account_id>", str(alice_account.pk)).replace(
            "<int:intent_id>", str(intent.pk)
        )
        response = call(bob_api, method, path)
        assert response.status_code == 404, (method, path, response.status_code)
        # The same request on a missing account gives the very same answer.
        missing = call(bob_api, method, path.replace(f"/{alice_account.pk}/", f"/{MISSING}/", 1))
        assert missing.status_code == 404
        assert response.json() == missing.json()
        checked += 1
    assert checked >= 17
    # Alice's own requests on the same paths are not 404s (the walk tests ownership, not typos).
    assert alice_api.get(f"/api/v1/accounts/{alice_account.pk}/").status_code == 200
    intent.refresh_from_db()
    assert intent.status == "pending"  # bob's DELETE did not cancel it


def test_someone_elses_intent_under_your_own_account_is_404(two_users, bob_api):
    _, bob_account, intent = two_users
    response = bob_api.delete(f"/api/v1/accounts/{bob_account.pk}/intents/{intent.pk}/")
    assert response.status_code == 404
    intent.refresh_from_db()
    assert intent.status == "pending"


def test_lists_show_only_your_own_objects(two_users, bob_api, bob):
    _, bob_account, _ = two_users
    accounts = bob_api.get("/api/v1/accounts/").json()["results"]
    assert [a["id"] for a in accounts] == [bob_account.pk]
    assert bob_api.get(f"/api/v1/accounts/{bob_account.pk}/intents/").json()["count"] == 0


def same_shape(a: dict, b: dict, *ids: int) -> bool:
    """Equal once the ids named in the messages are blanked out."""

    def blank(value: object) -> str:
        text = str(value)
        for pk in ids:
            text = re.sub(rf"\b{pk}\b", "N", text)
        return text

    return blank(a) == blank(b)


def test_someone_elses_pie_in_a_rebalance_body_reads_like_a_missing_one(two_users, bob_api):
    alice_account, bob_account, _ = two_users
    alice_bonds = Pie.objects.get(account=alice_account, name="Bonds")
    path = f"/api/v1/accounts/{bob_account.pk}/rebalance/"
    theirs = bob_api.post(path, {"pie": alice_bonds.pk}, "json")
    missing = bob_api.post(path, {"pie": MISSING}, "json")
    assert theirs.status_code == missing.status_code == 400
    assert theirs.json() == missing.json()
    assert not Intent.objects.filter(kind="rebalance").exists()

    preview = f"/api/v1/accounts/{bob_account.pk}/rebalance/preview/"
    theirs = bob_api.get(preview, {"pie": alice_bonds.pk})
    missing = bob_api.get(preview, {"pie": MISSING})
    assert theirs.status_code == missing.status_code == 400
    assert theirs.json() == missing.json()


def test_someone_elses_slice_and_sub_pie_in_a_pie_body_read_like_missing_ones(two_users, bob_api):
    alice_account, bob_account, _ = two_users
    alice_slice = Slice.objects.get(pie__account=alice_account, security__symbol="AAA")
    alice_bonds = Pie.objects.get(account=alice_account, name="Bonds")
    path = f"/api/v1/accounts/{bob_account.pk}/pie/"

    def put(slice_id: int, pie_id: int):
        body = {
            "version": 2,
            "slices": [
                {"id": slice_id, "target_percent": "50", "symbol": "AAA"},
                {
                    "target_percent": "50",
                    "pie": {
                        "id": pie_id,
                        "name": "Bonds",
                        "slices": [{"target_percent": "100", "symbol": "BND"}],
                    },
                },
            ],
        }
        return bob_api.put(path, body, "json")

    theirs = put(alice_slice.pk, alice_bonds.pk)
    missing = put(MISSING, MISSING + 1)
    assert theirs.status_code == missing.status_code == 400
    assert set(theirs.json()) == set(missing.json()) == {"slices.0.id", "slices.1.pie.id"}
    assert same_shape(
        theirs.json(), missing.json(), alice_slice.pk, alice_bonds.pk, MISSING, MISSING + 1
    )
    alice_slice.refresh_from_db()
    assert alice_slice.pie.account_id == alice_account.pk
