"""Idempotency-Key: the same key and body give the first result; another body is a conflict."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests
from rest_framework.authtoken.models import Token

from trading.models import Intent


@pytest.mark.django_db
def test_a_repeated_key_returns_the_first_intent_with_200(alice_api, alice_account):
    path = f"/api/v1/accounts/{alice_account.pk}/deposits/"
    first = alice_api.post(path, {"amount": "25.00"}, "json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = alice_api.post(path, {"amount": "25.00"}, "json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Intent.objects.count() == 1


@pytest.mark.django_db
def test_a_repeated_key_with_another_body_is_a_conflict(alice_api, alice_account):
    path = f"/api/v1/accounts/{alice_account.pk}/deposits/"
    alice_api.post(path, {"amount": "25.00"}, "json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = alice_api.post(path, {"amount": "26.00"}, "json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]
    assert Intent.objects.get().amount == Decimal("25.00")
    # The same key on another endpoint is another request too.
    withdraw = alice_api.post(
        f"/api/v1/accounts/{alice_account.pk}/withdrawals/",
        {"amount": "25.00"},
        "json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert withdraw.status_code in (400, 409)
    assert Intent.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_account(alice_api, bob_api, alice_account, bob_account):
    for client, account in ((alice_api, alice_account), (bob_api, bob_account)):
        response = client.post(
            f"/api/v1/accounts/{account.pk}/deposits/",
            {"amount": "5"},
            "json",
            HTTP_IDEMPOTENCY_KEY="shared",
        )
        assert response.status_code == 201
    assert Intent.objects.count() == 2


@pytest.mark.django_db
def test_an_overlong_key_is_a_400(alice_api, alice_account):
    response = alice_api.post(
        f"/api/v1/accounts/{alice_account.pk}/deposits/",
        {"amount": "5"},
        "json",
        HTTP_IDEMPOTENCY_KEY="k" * 256,
    )
    assert response.status_code == 400
    assert not Intent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_with_one_key_create_one_intent(live_server, alice):
    from pies.services import open_account

    account = open_account(user=alice, kind="individual")
    token = Token.objects.create(user=alice)
    url = f"{live_server.url}/api/v1/accounts/{account.pk}/deposits/"
    headers = {"Authorization": f"Token {token.key}", "Idempotency-Key": "one-key-for-all"}
    start = threading.Barrier(20)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def post() -> None:
        with requests.Session() as session:
            start.wait()
            response = session.post(url, json={"amount": "100.00"}, headers=headers, timeout=30)
            with lock:
                results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(code for code, _ in results)
    assert statuses == [200] * 19 + [201]
    assert len({body["id"] for _, body in results}) == 1
    assert Intent.objects.filter(account=account).count() == 1
