"""Shared fixtures: a few named people and accounts, securities with prices.

Tests run against PostgreSQL and Redis (DATABASE_URL / REDIS_URL, or the embedded servers
that `make test` starts).
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from hypothesis import settings as hypothesis_settings

# Hypothesis profiles. "dev", the default, tries 300 examples per property: under a third of
# the full run's time, yet still reliable on the rare edges the strategies aim at. Planted bugs
# in pies/allocation.py told the numbers apart: dropping the largest instead of the smallest
# sub-dollar buy was caught in 5 of 5 runs at 300 examples, 1 of 5 at Hypothesis's default of
# 100. "full" tries 1,000: `make test-faults` runs every property at it (HYPOTHESIS_PROFILE=full),
# and CI runs that target after `make test`. HYPOTHESIS_PROFILE picks a profile by name.
hypothesis_settings.register_profile("dev", max_examples=300)
hypothesis_settings.register_profile("full", max_examples=1000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "dev")


@pytest.fixture(autouse=True)
def fast_password_hashing(request: pytest.FixtureRequest):
    """Passwords hashed with MD5 in tests, as Django's testing docs advise: its default PBKDF2
    (1,000,000 iterations) takes 0.57 s per password on a 2-core CI machine, and the suite
    creates and signs in hundreds of users. The fault tests keep the real hasher: their
    gunicorn and Celery processes read the real settings and must verify what a test wrote."""
    if request.node.get_closest_marker("faults"):
        yield
        return
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every Hypothesis test is marked ``properties`` (``make test-faults`` selects them)."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.properties)


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


@pytest.fixture
def sent_windows():
    """The windows sent to a worker (run_window_task messages), captured instead of sent; a
    test plays the worker by calling ``run_window_task(window_id)``."""
    from unittest import mock

    sent: list[int] = []
    with mock.patch("trading.tasks.run_window_task.delay_on_commit", side_effect=sent.append):
        yield sent
