"""Fixtures for the API tests: token-authenticated clients and a priced universe."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    """Staff in the Operations group: ``is_staff`` alone gives nothing in the API."""
    from trading.ops import ensure_operations_group

    staff_user.groups.add(ensure_operations_group())
    return client_for(staff_user)


@pytest.fixture
def universe(make_security) -> dict[str, Any]:
    """The securities of the nested-pie scenario, each at 100.00."""
    return {
        symbol: make_security(symbol, "100.00")
        for symbol in ("AAA", "BBB", "CCC", "DDD", "BND", "TIP")
    }


NESTED_PIE = {
    "name": "Core",
    "slices": [
        {"target_percent": "20", "symbol": "AAA"},
        {"target_percent": "20", "symbol": "BBB"},
        {"target_percent": "20", "symbol": "CCC"},
        {"target_percent": "20", "symbol": "DDD"},
        {
            "target_percent": "20",
            "pie": {
                "name": "Bonds",
                "slices": [
                    {"target_percent": "50", "symbol": "BND"},
                    {"target_percent": "50", "symbol": "TIP"},
                ],
            },
        },
    ],
}


@pytest.fixture
def nested_pie(universe, alice_account) -> Any:
    from pies.services import save_pie_tree

    return save_pie_tree(account=alice_account, tree=NESTED_PIE, version=1)
