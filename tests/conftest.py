"""Shared fixtures: a few named people and accounts, securities with prices.

Tests run against PostgreSQL and Redis (DATABASE_URL / REDIS_URL, or the embedded servers
that `make test` starts).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone


@pytest.fixture
def make_user(db):
    def make(username: str, *, password: str = "correct horse battery", **extra):
        return get_user_model().objects.create_user(
            username=username, password=password, email=f"{username}@example.com", **extra
        )

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def staff_user(make_user):
    return make_user("sam", is_staff=True)


@pytest.fixture
def make_security(db):
    from trading.models import Price, Security

    def make(
        symbol: str,
        price: str | Decimal | None = "100.00",
        *,
        name: str | None = None,
        kind: str = "etf",
        at: datetime | None = None,
    ) -> Security:
        security, _ = Security.objects.get_or_create(
            symbol=symbol, defaults={"name": name or f"{symbol} Fund", "kind": kind}
        )
        if price is not None:
            Price.objects.update_or_create(
                security=security,
                at=at or timezone.now() - timezone.timedelta(minutes=1),
                defaults={"price": Decimal(str(price))},
            )
        return security

    return make


@pytest.fixture
def alice_account(alice):
    from pies.services import open_account

    return open_account(user=alice, kind="individual")


@pytest.fixture
def bob_account(bob):
    from pies.services import open_account

    return open_account(user=bob, kind="individual")
