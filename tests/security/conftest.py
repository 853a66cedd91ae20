"""Fixtures for the security tests: staff with and without the Operations group's
permissions, a failed window to retry or abandon, and a fingerprint of the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone


@pytest.fixture
def operations_user(make_user):
    from trading.ops import ensure_operations_group

    user = make_user("opal", is_staff=True)
    user.groups.add(ensure_operations_group())
    return user


@pytest.fixture
def bare_staff(make_user):
    """``is_staff`` and no permission at all: the admin refuses them, so must everything."""
    return make_user("sid", is_staff=True)


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def failed_window(alice_account, bob_account, make_security):
    """Alice's and Bob's deposits' window, failed at the broker: planned, credited, no fill."""
    from pies.services import save_pie_tree
    from tests.staff.test_windows import ONE_FUND, TWO_FUNDS, BrokerDown, Refuses
    from trading.services import request_deposit
    from trading.window import open_adhoc_window, run_window

    earlier = timezone.now() - timedelta(days=12)
    make_security("VTI", "200.00", at=earlier)
    make_security("BND", "50.00", at=earlier)
    save_pie_tree(account=alice_account, tree=TWO_FUNDS, version=1)
    save_pie_tree(account=bob_account, tree=ONE_FUND, version=1)
    request_deposit(account=alice_account, amount="1000.00")
    request_deposit(account=bob_account, amount="333.33")
    window = open_adhoc_window()
    with pytest.raises(BrokerDown):
        run_window(window.pk, broker=Refuses())
    window.refresh_from_db()
    assert window.status == "failed"
    return window


def database_fingerprint() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model of the project's apps, users and tokens: compare two of
    these to show that a refused request changed nothing at all."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for label in ("trading", "pies", "auth", "authtoken"):
        for model in apps.get_app_config(label).get_models():
            rows[model._meta.label] = list(
                model._default_manager.order_by("pk").values()  # type: ignore[attr-defined]
            )
    for row in rows.get("auth.User", []):
        row.pop("last_login", None)  # signing in is not a change a refused request made
    return rows
