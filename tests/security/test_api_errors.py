"""Every error under /api/ is JSON (api.md, Conventions): 404, 405, 413, 429 and 500; the
web pages keep Django's HTML."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.api.conftest import client_for
from tests.security.conftest import database_fingerprint

pytestmark = pytest.mark.django_db


def is_json_error(response, status: int) -> bool:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert "detail" in json.loads(response.content)
    return True


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/nope", "/api/v2/accounts/", "/api/v1/nope/", "/api/v1/accounts/abc/"],
)
def test_an_unknown_api_path_is_a_json_404(alice, path):
    assert is_json_error(client_for(alice).get(path), 404)
    assert is_json_error(APIClient().post(path, {}, format="json"), 404)


def test_someone_elses_account_is_a_json_404(alice, bob_account):
    assert is_json_error(client_for(alice).get(f"/api/v1/accounts/{bob_account.pk}/"), 404)


def test_a_web_404_is_still_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "method, path",
    [("put", "/api/v1/prices/"), ("get", "/api/v1/auth/token/"), ("delete", "/api/v1/accounts/")],
)
def test_a_method_the_endpoint_does_not_take_is_a_json_405(alice, make_user, method, path):
    from trading.ops import ensure_operations_group

    ops = make_user("opal", is_staff=True)
    ops.groups.add(ensure_operations_group())
    assert is_json_error(getattr(client_for(ops), method)(path), 405)


def test_an_oversized_body_is_a_json_413_and_changes_nothing(alice_account, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    api = client_for(alice_account.owner)
    body = json.dumps({"amount": "10.00", "note": "x" * 5_000})
    before = database_fingerprint()

    response = api.post(
        f"/api/v1/accounts/{alice_account.pk}/deposits/", body, content_type="application/json"
    )

    assert is_json_error(response, 413)
    assert database_fingerprint() == before
    small = api.post(
        f"/api/v1/accounts/{alice_account.pk}/deposits/", {"amount": "10.00"}, format="json"
    )
    assert small.status_code == 201


def test_an_oversized_body_to_an_open_endpoint_is_a_413_too(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = json.dumps({"username": "x" * 3_000, "password": "y"})
    response = APIClient().post("/api/v1/auth/token/", body, content_type="application/json")
    assert is_json_error(response, 413)
    unknown = APIClient().post("/api/v1/nope/", body, content_type="application/json")
    assert unknown.status_code in (404, 413)
    assert unknown["Content-Type"].startswith("application/json")


def test_too_many_failed_logins_is_a_json_429(alice, settings):
    api = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"}, format="json")

    response = api.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "wrong"}, format="json"
    )

    assert is_json_error(response, 429)


class Boom(Exception):
    pass


def explode(*args, **kwargs):
    raise Boom("a bug")


def test_a_crash_in_the_api_is_a_json_500(alice, monkeypatch):
    import trading.api.windows

    monkeypatch.setattr(trading.api.windows, "next_window", explode)
    api = client_for(alice)
    api.raise_request_exception = False

    assert is_json_error(api.get("/api/v1/trade-windows/next/"), 500)


def test_a_crash_in_a_web_page_is_still_html(alice, monkeypatch):
    from django.contrib.auth.views import LoginView

    monkeypatch.setattr(LoginView, "get", explode)
    client = Client(raise_request_exception=False)

    response = client.get("/accounts/login/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
