"""Staff endpoints follow the Django permissions the Operations group holds (api.md, staff
endpoints): ``is_staff`` alone gives nothing, in the API, on /ops/ and in the admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.api.conftest import client_for
from tests.security.conftest import database_fingerprint
from trading.api.base import StaffPermissions

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None


# Every staff API endpoint and method, with a request that succeeds for Operations staff.
# ``test_the_table_covers_every_staff_endpoint`` keeps this list complete.
STAFF_CALLS: dict[tuple[str, str], Callable[[Any], Call]] = {
    ("api-securities", "POST"): lambda w: Call(
        "post", "/api/v1/securities/", {"symbol": "NEWX", "name": "New Fund", "kind": "etf"}
    ),
    ("api-prices", "POST"): lambda w: Call(
        "post", "/api/v1/prices/", [{"symbol": "VTI", "price": "0.0100"}]
    ),
    ("api-dividends", "POST"): lambda w: Call(
        "post",
        "/api/v1/dividends/",
        {
            "symbol": "VTI",
            "ex_date": "2026-03-02",
            "pay_date": "2026-03-06",
            "amount_per_share": "0.25",
        },
    ),
    ("api-windows", "GET"): lambda w: Call("get", "/api/v1/trade-windows/"),
    ("api-window", "GET"): lambda w: Call("get", f"/api/v1/trade-windows/{w.pk}/"),
    ("api-window-run", "POST"): lambda w: Call("post", "/api/v1/trade-windows/run/"),
    ("api-window-retry", "POST"): lambda w: Call("post", f"/api/v1/trade-windows/{w.pk}/retry/"),
    ("api-window-abandon", "POST"): lambda w: Call(
        "post", f"/api/v1/trade-windows/{w.pk}/abandon/", {"reason": "stale prices"}
    ),
}


def staff_endpoints() -> set[tuple[str, str]]:
    """(url name, method) of every API view that answers a method with StaffPermissions."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "view_class", None)
                for method in getattr(view, "staff_permissions", {}):
                    found.add((str(pattern.name), method))

    walk(get_resolver().url_patterns)
    return found


def test_the_table_covers_every_staff_endpoint():
    assert staff_endpoints() == set(STAFF_CALLS)


def test_every_view_that_names_permissions_checks_them():
    from pieproject import api_urls

    for pattern in api_urls.urlpatterns:
        view = getattr(pattern.callback, "view_class", None)
        if getattr(view, "staff_permissions", None):
            instance = view()
            instance.request = type("R", (), {"method": "POST"})()  # SecuritiesView's switch
            assert any(isinstance(p, StaffPermissions) for p in instance.get_permissions()), view


def send(client: Any, call: Call) -> Any:
    if call.body is None:
        return getattr(client, call.method)(call.path)
    return getattr(client, call.method)(call.path, call.body, format="json")


@pytest.mark.parametrize("endpoint", sorted(STAFF_CALLS), ids=lambda e: f"{e[1]} {e[0]}")
def test_staff_without_permissions_are_refused_and_nothing_changes(
    endpoint, bare_staff, failed_window
):
    call = STAFF_CALLS[endpoint](failed_window)
    api = client_for(bare_staff)
    before = database_fingerprint()

    response = send(api, call)

    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith("application/json")
    assert database_fingerprint() == before


@pytest.mark.parametrize("endpoint", sorted(STAFF_CALLS), ids=lambda e: f"{e[1]} {e[0]}")
def test_operations_staff_may_use_every_staff_endpoint(endpoint, operations_user, failed_window):
    call = STAFF_CALLS[endpoint](failed_window)

    response = send(client_for(operations_user), call)

    assert 200 <= response.status_code < 300, response.content


def test_the_price_write_of_the_report_is_refused_to_bare_staff(bare_staff, make_security):
    # The probe from issue 13: POST /api/v1/prices/ [{"symbol":"VTI","price":"0.0100"}] → 200.
    from trading.models import Price

    make_security("VTI", "200.00")
    response = client_for(bare_staff).post(
        "/api/v1/prices/", [{"symbol": "VTI", "price": "0.0100"}], format="json"
    )
    assert response.status_code == 403
    assert list(Price.objects.values_list("price", flat=True)) == [Decimal("200.00")]


def test_one_permission_opens_only_its_endpoint(bare_staff, make_security):
    from django.contrib.auth.models import Permission

    make_security("VTI", "200.00")
    bare_staff.user_permissions.add(Permission.objects.get(codename="view_tradewindow"))
    api = client_for(bare_staff)
    assert api.get("/api/v1/trade-windows/").status_code == 200
    assert api.post("/api/v1/trade-windows/run/").status_code == 403
    assert (
        api.post("/api/v1/securities/", {"symbol": "Q", "name": "Q", "kind": "etf"}).status_code
        == 403
    )


def test_anonymous_callers_get_401_and_investors_403(alice, failed_window):
    from rest_framework.test import APIClient

    for make in STAFF_CALLS.values():
        call = make(failed_window)
        assert send(APIClient(), call).status_code == 401, call
        assert send(client_for(alice), call).status_code == 403, call


# --- /ops/ and the admin decide the same way --------------------------------------------------

OPS_POSTS = [
    ("ops:check_books", False),
    ("ops:run_window", False),
    ("ops:retry_window", True),
    ("ops:abandon_window", True),
]


def test_the_operations_page_refuses_staff_without_permissions(client, bare_staff, failed_window):
    client.force_login(bare_staff)
    before = database_fingerprint()

    assert client.get(reverse("ops:index")).status_code == 403
    for name, takes_id in OPS_POSTS:
        args = [failed_window.pk] if takes_id else []
        assert client.post(reverse(name, args=args), {"reason": "x"}).status_code == 403, name

    assert database_fingerprint() == before
    assert client.get(reverse("admin:trading_tradewindow_changelist")).status_code == 403
    assert client.post(reverse("admin:trading_tradewindow_run_now")).status_code == 403


def test_the_operations_page_serves_operations_staff(client, operations_user, failed_window):
    from trading.books import verify_books

    client.force_login(operations_user)
    assert client.get(reverse("ops:index")).status_code == 200
    for name, takes_id in OPS_POSTS:
        args = [failed_window.pk] if takes_id else []
        response = client.post(reverse(name, args=args), {"reason": "stale prices"})
        assert response.status_code == 302, name
        assert response["Location"] == reverse("ops:index")
    assert verify_books() == []


def test_the_operations_group_holds_every_permission_the_staff_tools_check():
    # The data migrations (0004, 0007) gave them to the group: existing Operations staff keep
    # their access on a database migrated from before the checks.
    from django.contrib.auth.models import Group

    from trading.views import ops as ops_views

    group = Group.objects.get(name="Operations")
    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    needed = {perm for perms in staff_tables() for perm in perms}
    needed |= {"trading.view_tradewindow", "trading.view_ledgerentry", "trading.run_window"}
    needed |= {"trading.abandon_window"}
    assert needed <= held, needed - held
    assert ops_views  # the /ops/ views check the permissions listed above


def staff_tables() -> list[tuple[str, ...]]:
    from pieproject import api_urls

    return [
        perms
        for pattern in api_urls.urlpatterns
        for perms in getattr(
            getattr(pattern.callback, "view_class", None), "staff_permissions", {}
        ).values()
    ]
