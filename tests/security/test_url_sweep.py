"""Every URL pattern (web pages, htmx partials, the API, the admin, /ops/), requested with GET
and POST by four people: anonymous, another investor, staff without permissions and
Operations staff. Nobody gets a 500; anonymous visitors are sent to log in or refused;
another investor's objects are a 404; staff without permissions are refused the staff tools."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Open to anyone: the sign-in and sign-up pages, password reset, health, the API's schema,
# docs and token exchange, and the API's catch-all 404.
PUBLIC = {
    "login",
    "logout",
    "signup",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "api-schema",
    "api-docs",
    "api-token",
    "api-not-found",
    "admin:login",
    "admin:logout",
}
# The admin's pages every staff user sees (they list only what the user may use).
ADMIN_OPEN = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:app_list",
    "admin:None",
}


@dataclass(frozen=True)
class Url:
    name: str
    path: str
    owned: bool  # names one of the owner's objects (an account, its intent or pie)
    staff: bool  # a staff tool: /ops/, the admin, a staff API endpoint
    staff_methods: frozenset[str]  # the methods that are staff-only (all, or the API's list)


def fill(route: str, values: dict[str, str]) -> str:
    route = route.lstrip("^").rstrip("$")
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)


def admin_object(prefix: str) -> str:
    """The pk of a row of the admin model under ``prefix`` ("admin/trading/security/")."""
    parts = prefix.strip("/").split("/")
    if len(parts) >= 3:
        model = apps.get_model(parts[1], parts[2])
        pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            return str(pk)
    return "999999"


def every_url(values: dict[str, str]) -> list[Url]:
    from pieproject import api_urls

    staff_api = {
        str(p.name): frozenset(p.callback.view_class.staff_permissions)
        for p in api_urls.urlpatterns
        if getattr(getattr(p.callback, "view_class", None), "staff_permissions", None)
    }
    found: list[Url] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = fill(str(pattern.pattern), values)
                ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + inner, ns)
                continue
            assert isinstance(pattern, URLPattern)
            name = f"{namespace}{pattern.name}"
            local = dict(values)
            if prefix.startswith("admin/"):
                local["object_id"] = local["id"] = admin_object(prefix)
            path = "/" + prefix + fill(str(pattern.pattern), local)
            route = str(pattern.pattern)
            owned = any(
                key in route
                for key in ("pk>", "account_id>", "intent_id>", "pie_id>", "schedule_id>")
            )
            staff = name.startswith(("admin:", "ops:")) or str(pattern.name) in staff_api
            methods = staff_api.get(str(pattern.name), frozenset({"GET", "POST"}))
            found.append(Url(name, path, owned, staff, methods))

    walk(get_resolver().url_patterns, "", "")
    return found


@pytest.fixture
def world(alice_account, make_user, make_security):
    """Alice's account with a pie, an intent and a window; the four visitors."""
    from pies.models import Pie
    from pies.services import save_pie_tree
    from trading.models import Intent, TradeWindow
    from trading.ops import ensure_operations_group
    from trading.services import create_schedule, request_deposit

    make_security("VTI", "200.00")
    save_pie_tree(
        account=alice_account,
        tree={"name": "Core", "slices": [{"target_percent": "100", "symbol": "VTI"}]},
        version=1,
    )
    request_deposit(account=alice_account, amount=Decimal("100.00"))
    intent = Intent.objects.get(account=alice_account)
    from django.utils import timezone

    window = TradeWindow.objects.create(
        trade_date=timezone.now().date(), session="adhoc", scheduled_at=timezone.now()
    )
    schedule = create_schedule(
        account=alice_account,
        amount="50.00",
        frequency="monthly",
        day=15,
        start_date=timezone.now().date(),
    )
    ops = make_user("opal", is_staff=True)
    ops.groups.add(ensure_operations_group())
    values = {
        "pk": str(alice_account.pk),
        "account_id": str(alice_account.pk),
        "intent_id": str(intent.pk),
        "pie_id": str(Pie.objects.get(account=alice_account, is_root=True).pk),
        "window_id": str(window.pk),
        "schedule_id": str(schedule.pk),
        "uidb64": "MQ",
        "token": "set-password",
        "app_label": "trading",
        "url": "nope/",
        "rest": "nope/",
        "content_type_id": "1",
        "object_id": "1",
        "id": "1",
    }
    return {
        "urls": every_url(values),
        "bob": make_user("bob"),
        "staff": make_user("sid", is_staff=True),
        "ops": ops,
    }


class Visitor:
    """One person's browser for a sweep: signed in once, and again only after a response set a
    cookie (a logout, a new session, a message), so that every visit starts as a fresh signed-in
    client would. A sign-in costs about 15 ms; a sweep visits about 240 URLs per person."""

    def __init__(self, user) -> None:
        self.user = user
        self.client: Client | None = None

    def visit(self, url: Url, method: str) -> int:
        if self.client is None:
            self.client = Client(raise_request_exception=False)
            if self.user is not None:
                self.client.force_login(self.user)
        response = getattr(self.client, method)(url.path)
        if response.cookies:
            self.client = None
        return response.status_code


def test_there_is_something_to_sweep(world):
    names = {url.name for url in world["urls"]}
    assert len(world["urls"]) > 100
    assert {"account_detail", "pie_validate", "api-deposits", "ops:index", "admin:index"} <= names


@pytest.mark.parametrize("method", ["get", "post"])
def test_nobody_gets_a_500_anywhere(world, method):
    failures = []
    for who in (None, world["bob"], world["staff"], world["ops"]):
        visitor = Visitor(who)
        for url in world["urls"]:
            status = visitor.visit(url, method)
            if status >= 500:
                failures.append((getattr(who, "username", "anonymous"), method, url.path, status))
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_log_in_or_refused(world, method):
    failures = []
    anonymous = Visitor(None)
    for url in world["urls"]:
        if url.name in PUBLIC:
            continue
        status = anonymous.visit(url, method)
        if status not in (301, 302, 401, 403, 404, 405):
            failures.append((method, url.name, url.path, status))
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_investor_gets_404_on_someone_elses_objects(world, method):
    failures = []
    bob = Visitor(world["bob"])
    for url in world["urls"]:
        if not url.owned or url.staff:
            continue
        status = bob.visit(url, method)
        if status not in (404, 405):  # 405: a method the endpoint never takes, for anyone
            failures.append((method, url.name, url.path, status))
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("method", ["get", "post"])
def test_investors_and_staff_without_permissions_are_refused_the_staff_tools(world, method):
    failures = []
    staff_visitor, investor_visitor = Visitor(world["staff"]), Visitor(world["bob"])
    for url in world["urls"]:
        if not url.staff or url.name in ADMIN_OPEN or method.upper() not in url.staff_methods:
            continue
        staff = staff_visitor.visit(url, method)
        investor = investor_visitor.visit(url, method)
        # The admin sends investors to its login page; /ops/ and the API answer 403. The
        # admin sends everyone away from a row that does not exist (999999) before asking.
        refused = (403, 404, 405, 302) if "999999" in url.path else (403, 404, 405)
        if staff not in refused or investor not in (302, 403, 404, 405):
            failures.append((method, url.name, url.path, staff, investor))
    assert failures == [], "\n".join(map(str, failures))
