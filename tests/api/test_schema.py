"""The OpenAPI schema and its docs page, served by the app itself (no CDN)."""

from __future__ import annotations

import pytest
import yaml
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

API_MD_PATHS = {
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/securities/"),
    ("post", "/api/v1/securities/"),
    ("get", "/api/v1/accounts/"),
    ("post", "/api/v1/accounts/"),
    ("get", "/api/v1/accounts/{account_id}/"),
    ("patch", "/api/v1/accounts/{account_id}/"),
    ("get", "/api/v1/accounts/{account_id}/pie/"),
    ("put", "/api/v1/accounts/{account_id}/pie/"),
    ("get", "/api/v1/accounts/{account_id}/pie/export/"),
    ("post", "/api/v1/accounts/{account_id}/pie/import/"),
    ("post", "/api/v1/accounts/{account_id}/deposits/"),
    ("post", "/api/v1/accounts/{account_id}/withdrawals/"),
    ("get", "/api/v1/accounts/{account_id}/withdrawals/preview/"),
    ("get", "/api/v1/accounts/{account_id}/rebalance/preview/"),
    ("post", "/api/v1/accounts/{account_id}/rebalance/"),
    ("get", "/api/v1/accounts/{account_id}/intents/"),
    ("delete", "/api/v1/accounts/{account_id}/intents/{intent_id}/"),
    ("get", "/api/v1/accounts/{account_id}/holdings/"),
    ("get", "/api/v1/accounts/{account_id}/lots/"),
    ("get", "/api/v1/accounts/{account_id}/realized-gains/"),
    ("get", "/api/v1/accounts/{account_id}/orders/"),
    ("get", "/api/v1/accounts/{account_id}/recurring-deposits/"),
    ("post", "/api/v1/accounts/{account_id}/recurring-deposits/"),
    ("get", "/api/v1/accounts/{account_id}/recurring-deposits/{schedule_id}/"),
    ("patch", "/api/v1/accounts/{account_id}/recurring-deposits/{schedule_id}/"),
    ("delete", "/api/v1/accounts/{account_id}/recurring-deposits/{schedule_id}/"),
    ("get", "/api/v1/accounts/{account_id}/performance/"),
    ("get", "/api/v1/accounts/{account_id}/dividends/"),
    ("get", "/api/v1/trade-windows/next/"),
    ("post", "/api/v1/prices/"),
    ("post", "/api/v1/dividends/"),
    ("get", "/api/v1/trade-windows/"),
    ("post", "/api/v1/trade-windows/run/"),
    ("get", "/api/v1/trade-windows/{window_id}/"),
    ("post", "/api/v1/trade-windows/{window_id}/retry/"),
    ("post", "/api/v1/trade-windows/{window_id}/abandon/"),
}
PAGINATED = {
    "/api/v1/securities/",
    "/api/v1/accounts/",
    "/api/v1/accounts/{account_id}/intents/",
    "/api/v1/accounts/{account_id}/holdings/",
    "/api/v1/accounts/{account_id}/lots/",
    "/api/v1/accounts/{account_id}/realized-gains/",
    "/api/v1/accounts/{account_id}/orders/",
    "/api/v1/trade-windows/",
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi_and_lists_every_endpoint_of_api_md(schema):
    validate_schema(schema)
    documented = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert documented == API_MD_PATHS


def test_the_lists_api_md_names_are_paginated(schema):
    for path in PAGINATED:
        params = {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}
        assert {"page", "page_size"} <= params, path


def test_every_operation_documents_its_error_statuses(schema):
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "400" in codes, (method, path)  # e.g. a NUL in any query parameter
            if path != "/api/v1/auth/token/":
                assert {"401", "403"} <= codes, (method, path)
            if "{account_id}" in path:
                assert "404" in codes, (method, path)
            if method in {"post", "put", "patch"} and op.get("requestBody"):
                assert {"400", "415"} <= codes, (method, path)


def test_money_fields_are_strings_in_the_schema(schema):
    account = schema["components"]["schemas"]["AccountOutput"]["properties"]
    assert account["cash"]["type"] == "string"
    assert account["cash"]["format"] == "decimal"


def test_the_docs_are_served_from_the_app_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
