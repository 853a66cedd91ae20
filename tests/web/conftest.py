"""Fixtures of the web view tests: signed-in clients and pies built through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web.builders import build_pie, hold
from trading.models import Account


@pytest.fixture
def alice_client(alice, alice_account) -> Client:
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def core_pie(alice_account, make_security) -> Account:
    """VTI 60% and a Bonds sub-pie 40% (BND 70%, TIP 30%), with shares held."""
    for symbol, price in (("VTI", "250.00"), ("BND", "72.50"), ("TIP", "108.00")):
        make_security(symbol, price, name=f"{symbol} Index Fund")
    build_pie(
        alice_account,
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
    hold(alice_account, "VTI", "28", "6000.00")
    hold(alice_account, "Bonds/BND", "20", "1500.00")
    hold(alice_account, "Bonds/TIP", "10", "1000.00")
    return alice_account
