# ruff: noqa: RUF001  (the non-ASCII digits are the point of this table)
"""Bad input, across the API and the web forms, in one table (issue 13; product.md, "Bad input
and failure"): every row is refused with a 4xx or a form error, and the database is exactly
as it was (intents, ledger, accounts' settings, pies and slices, prices, securities,
dividends). Each row is one request; the examples of issue 13's "Why" are all here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from pies.models import Pie, Slice
from tests.api.conftest import client_for
from tests.web.builders import build_pie, hold
from trading.models import Account, Dividend, Intent, LedgerEntry, Price, Security

API = "/api/v1/"
BIG = "1" * 27  # 27 digits: a 500 before the strict parser (Decimal precision)


def nested_pie(depth: int) -> dict[str, Any]:
    """A pie ``depth`` levels deep (the portfolio is level 1), one security at the bottom."""
    node: dict[str, Any] = {
        "name": f"L{depth}",
        "slices": [{"target_percent": "100", "symbol": "VTI"}],
    }
    for level in range(depth - 1, 0, -1):
        node = {"name": f"L{level}", "slices": [{"target_percent": "100", "pie": node}]}
    return node


def open_pie(depth: int) -> dict[str, Any]:
    return {"format": "pies/1", **nested_pie(depth)}


@dataclass
class Case:
    id: str
    channel: str  # "api" (alice's token), "staff" (Operations staff's token), "web" (alice
    # signed in) or "admin" (Operations staff signed in)
    method: str
    path: str  # "{a}" is alice's account
    data: Any = None  # JSON for the API, form fields for the web
    raw: str | None = None  # a raw JSON body instead of ``data``
    status: tuple[int, ...] = (400,)
    says: str = ""  # a message the response must show
    query: dict[str, str] = field(default_factory=dict)


def deposit(amount: Any, id: str, says: str = "") -> Case:
    return Case(id, "api", "post", "accounts/{a}/deposits/", {"amount": amount}, says=says)


def raw_deposit(raw: str, id: str, says: str = "") -> Case:
    return Case(id, "api", "post", "accounts/{a}/deposits/", raw=raw, says=says)


def target(value: Any, id: str, says: str = "") -> Case:
    tree = {
        "version": "{v}",
        "name": "Core",
        "slices": [
            {"target_percent": value, "symbol": "VTI"},
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
    }
    return Case(id, "api", "put", "accounts/{a}/pie/", tree, says=says)


def price(value: Any, id: str, says: str = "") -> Case:
    return Case(id, "staff", "post", "prices/", [{"symbol": "VTI", "price": value}], says=says)


def min_cash(value: Any, id: str, says: str = "") -> Case:
    return Case(id, "api", "patch", "accounts/{a}/", {"min_cash": value}, says=says)


def web_deposit(amount: str, id: str, says: str = "") -> Case:
    return Case(id, "web", "post", "/account/{a}/deposit/", {"amount": amount}, says=says)


def web_withdraw(amount: str, id: str, says: str = "") -> Case:
    return Case(id, "web", "post", "/account/{a}/withdraw/", {"amount": amount}, says=says)


def web_min_cash(value: str, id: str, says: str = "") -> Case:
    data = {"name": "", "auto_invest": "on", "window_preference": "morning"}
    data |= {"lot_method": "tax_min", "min_cash": value}
    return Case(id, "web", "post", "/account/{a}/settings/", data, says=says)


def web_import(text: str, id: str, says: str = "") -> Case:
    return Case(id, "web", "post", "/account/{a}/pie/import/", {"data": text}, says=says)


DIGITS = "Use the digits 0 to 9 only."
NUL = "NUL"
CASES = [
    # --- API deposits: the numbers of issue 13 and product.md -------------------------------
    deposit(BIG, "deposit-27-digits", "at most 16 digits"),
    deposit("1_000", "deposit-underscore", "without underscores"),
    deposit("١٠٠", "deposit-arabic-indic", DIGITS),
    deposit("１００", "deposit-fullwidth", DIGITS),
    deposit("²", "deposit-superscript", DIGITS),
    deposit("+5", "deposit-plus", "'+' sign"),
    deposit("5.", "deposit-trailing-point", "both sides of the decimal point"),
    deposit(".5", "deposit-leading-point", "both sides of the decimal point"),
    deposit("5\t", "deposit-tab", "without spaces"),
    deposit("5\n", "deposit-newline", "without spaces"),
    deposit("5 0", "deposit-inner-space", "without spaces"),
    deposit("-5", "deposit-negative", "greater than zero"),
    deposit("-0", "deposit-minus-zero", "greater than zero"),
    deposit("0", "deposit-zero", "greater than zero"),
    deposit("NaN", "deposit-nan-text", "finite"),
    deposit("-Infinity", "deposit-infinity-text", "finite"),
    deposit("1e3", "deposit-exponent", "exponent"),
    deposit("0.001", "deposit-three-decimals", "two decimals"),
    deposit("1000000.01", "deposit-over-the-maximum", "1,000,000.00"),
    deposit("1,000", "deposit-thousands-separator", "thousands separators"),
    deposit("$5", "deposit-currency-sign", "currency sign"),
    deposit("abc", "deposit-letters", "like 100.00"),
    deposit("", "deposit-empty", "Enter an amount."),
    deposit(None, "deposit-null"),
    deposit(True, "deposit-boolean"),
    deposit([5], "deposit-list"),
    deposit({"value": 5}, "deposit-object"),
    raw_deposit('{"amount": 1e3}', "deposit-json-exponent", "exponent"),
    raw_deposit('{"amount": -5}', "deposit-json-negative", "greater than zero"),
    raw_deposit('{"amount": 5.001}', "deposit-json-three-decimals", "two decimals"),
    raw_deposit('{"amount": NaN}', "deposit-json-nan", "JSON parse error"),
    raw_deposit('{"amount": "5", "amount": "6"}', "deposit-duplicate-key", "appears twice"),
    raw_deposit('{"amount": "5\\u0000"}', "deposit-json-nul", NUL),
    raw_deposit("[" * 100_000, "deposit-deep-json", "nested"),
    # --- API withdrawals and their preview ---------------------------------------------------
    Case("withdraw-27-digits", "api", "post", "accounts/{a}/withdrawals/", {"amount": BIG}),
    Case("withdraw-arabic-indic", "api", "post", "accounts/{a}/withdrawals/", {"amount": "١٠"}),
    Case("withdraw-minus-zero", "api", "post", "accounts/{a}/withdrawals/", {"amount": "-0"}),
    Case(
        "withdraw-duplicate-key",
        "api",
        "post",
        "accounts/{a}/withdrawals/",
        raw='{"amount": "5", "withdraw_all": false, "withdraw_all": true}',
    ),
    Case(
        "preview-27-digits",
        "api",
        "get",
        "accounts/{a}/withdrawals/preview/",
        query={"amount": BIG},
    ),
    Case("preview-plus", "api", "get", "accounts/{a}/withdrawals/preview/", query={"amount": "+5"}),
    Case(
        "preview-superscript",
        "api",
        "get",
        "accounts/{a}/withdrawals/preview/",
        query={"amount": "²"},
    ),
    Case(
        "preview-nul", "api", "get", "accounts/{a}/withdrawals/preview/", query={"amount": "5\x00"}
    ),
    # --- API targets, pie trees and imports --------------------------------------------------
    target("٤٠", "target-arabic-indic", DIGITS),
    target("4_0", "target-underscore", "without underscores"),
    target("60.001", "target-three-decimals", "two decimals for a target"),
    target("-0", "target-minus-zero", "between 0 and 100"),
    target("6e1", "target-exponent", "exponent"),
    Case(
        "pie-with-no-slices",
        "api",
        "put",
        "accounts/{a}/pie/",
        {"version": "{v}", "slices": []},
        says="at least one slice",
    ),
    Case(
        "pie-7-deep",
        "api",
        "put",
        "accounts/{a}/pie/",
        {"version": "{v}", **nested_pie(7)},
        says="at most 5 levels",
    ),
    Case(
        "import-200-deep",
        "api",
        "post",
        "accounts/{a}/pie/import/",
        raw=json.dumps({"version": 1, **open_pie(200)}),
        says="nested",
    ),
    Case(
        "import-7-deep",
        "api",
        "post",
        "accounts/{a}/pie/import/",
        {"version": "{v}", **open_pie(7)},
        says="at most 5 levels",
    ),
    Case(
        "import-no-slices",
        "api",
        "post",
        "accounts/{a}/pie/import/",
        {"version": "{v}", "format": "pies/1", "name": "x", "slices": []},
        says="at least one",
    ),
    Case(
        "import-brackets",
        "api",
        "post",
        "accounts/{a}/pie/import/",
        raw="[" * 100_000,
        says="nested",
    ),
    # --- API staff prices and dividends, account settings ------------------------------------
    price("١٠", "price-arabic-indic", DIGITS),
    price("1_0", "price-underscore", "without underscores"),
    price("-0", "price-minus-zero", "greater than zero"),
    price("0", "price-zero", "greater than zero"),
    price(BIG, "price-27-digits", "at most 14 digits"),
    price("0.00001", "price-five-decimals", "four decimals"),
    price("1e2", "price-exponent", "exponent"),
    Case(
        "dividend-arabic-indic",
        "staff",
        "post",
        "dividends/",
        {
            "symbol": "VTI",
            "ex_date": "2026-03-20",
            "pay_date": "2026-03-25",
            "amount_per_share": "١",
        },
        says=DIGITS,
    ),
    min_cash("-0", "min-cash-minus-zero", "zero or more"),
    min_cash("-5", "min-cash-negative", "zero or more"),
    min_cash(BIG, "min-cash-27-digits", "1,000,000,000.00"),
    min_cash("١٠", "min-cash-arabic-indic", DIGITS),
    # --- API query parameters and ids --------------------------------------------------------
    Case(
        "gains-year-superscript", "api", "get", "accounts/{a}/realized-gains/", query={"year": "²"}
    ),
    Case(
        "gains-csv-year-superscript",
        "api",
        "get",
        "accounts/{a}/realized-gains/",
        query={"year": "²", "format": "csv"},
    ),
    Case(
        "gains-year-arabic-indic",
        "api",
        "get",
        "accounts/{a}/realized-gains/",
        query={"year": "٢٠٢٦"},
    ),
    Case(
        "gains-year-underscore",
        "api",
        "get",
        "accounts/{a}/realized-gains/",
        query={"year": "2_026"},
    ),
    Case(
        "rebalance-preview-pie-arabic",
        "api",
        "get",
        "accounts/{a}/rebalance/preview/",
        query={"pie": "١"},
    ),
    Case(
        "rebalance-pie-arabic", "api", "post", "accounts/{a}/rebalance/", {"pie": "{root-arabic}"}
    ),
    Case("search-nul", "api", "get", "securities/", query={"search": "\x00"}),
    # --- web: deposit, withdraw and its preview, settings ------------------------------------
    web_deposit(BIG, "web-deposit-27-digits", "1,000,000.00"),
    web_deposit("١٠٠", "web-deposit-arabic-indic", DIGITS),
    web_deposit("1,00", "web-deposit-misplaced-separator", "every three digits"),
    web_deposit("1_000", "web-deposit-underscore", "without underscores"),
    web_deposit("5.", "web-deposit-trailing-point", "both sides"),
    web_deposit("-5", "web-deposit-negative", "greater than zero"),
    web_deposit("5\x00", "web-deposit-nul", NUL),
    web_withdraw(BIG, "web-withdraw-27-digits", "at most 16 digits"),
    web_withdraw("１００", "web-withdraw-fullwidth", DIGITS),
    Case(
        "web-withdraw-preview-27-digits",
        "web",
        "get",
        "/account/{a}/withdraw/",
        query={"amount": BIG},
        status=(200,),
        says="at most 16 digits",
    ),
    web_min_cash("-5", "web-min-cash-negative", "must be zero or more"),
    web_min_cash("-0", "web-min-cash-minus-zero", "must be zero or more"),
    web_min_cash("٥", "web-min-cash-arabic-indic", DIGITS),
    web_min_cash(BIG, "web-min-cash-27-digits", "1,000,000,000.00"),
    Case(
        "web-rebalance-pie-arabic",
        "web",
        "post",
        "/account/{a}/rebalance/",
        {"pie": "{root-arabic}"},
        status=(404,),
    ),
    Case(
        "web-rebalance-preview-pie-superscript",
        "web",
        "get",
        "/account/{a}/rebalance/",
        query={"pie": "²"},
        status=(404,),
    ),
    # --- web: the pie editor and import ------------------------------------------------------
    Case(
        "web-editor-id-superscript",
        "web",
        "post",
        "/account/{a}/pie/edit/",
        "editor:r0-id=²",
        says="could not be read",
    ),
    Case(
        "web-editor-version-arabic",
        "web",
        "post",
        "/account/{a}/pie/edit/",
        "editor:version=١",
        says="could not be read",
    ),
    Case(
        "web-editor-target-arabic",
        "web",
        "post",
        "/account/{a}/pie/edit/",
        "editor:r0-target=٦٠",
        says=DIGITS,
    ),
    Case(
        "web-editor-name-nul",
        "web",
        "post",
        "/account/{a}/pie/edit/",
        "editor:name=Core\x00",
        says=NUL,
    ),
    Case(
        "web-validate-nul",
        "web",
        "post",
        "/account/{a}/pie/validate/",
        "editor:r0-target=6\x000",
        says=NUL,
    ),
    web_import("[" * 100_000, "web-import-brackets", "nested"),
    web_import(json.dumps(open_pie(200)), "web-import-200-deep", "nested"),
    web_import(json.dumps(open_pie(7)), "web-import-7-deep", "at most 5 levels"),
    web_import(
        '{"format": "pies/1", "name": "x", "slices": []}', "web-import-no-slices", "at least one"
    ),
    web_import(
        '{"format": "pies/1", "format": "pies/1", "slices": []}',
        "web-import-duplicate-key",
        "appears twice",
    ),
    web_import('{"format": "pies/1", "name": "a\\u0000"}', "web-import-escaped-nul", NUL),
    web_import('{"format": "pies/1", "name": "a\x00"}', "web-import-raw-nul", NUL),
    # --- admin: staff prices and dividends by hand (the admin answers 200 with form errors) ----
    Case(
        "admin-price-arabic-indic",
        "admin",
        "post",
        "/admin/trading/price/add/",
        {"security": "{vti}", "at_0": "2026-03-02", "at_1": "16:00:00", "price": "١٠"},
        status=(200,),
        says=DIGITS,
    ),
    Case(
        "admin-price-underscore",
        "admin",
        "post",
        "/admin/trading/price/add/",
        {"security": "{vti}", "at_0": "2026-03-02", "at_1": "16:00:00", "price": "1_0"},
        status=(200,),
        says="without underscores",
    ),
    Case(
        "admin-dividend-superscript",
        "admin",
        "post",
        "/admin/trading/dividend/add/",
        {
            "security": "{vti}",
            "ex_date": "2026-03-20",
            "pay_date": "2026-03-25",
            "amount_per_share": "²",
        },
        status=(200,),
        says=DIGITS,
    ),
    # --- web: query parameters ---------------------------------------------------------------
    Case("web-search-nul", "web", "get", "/securities/search/", query={"q": "\x00"}, says=NUL),
    Case(
        "web-lots-year-superscript",
        "web",
        "get",
        "/account/{a}/lots/",
        query={"year": "²"},
        status=(404,),
    ),
    Case(
        "web-gains-csv-year-superscript",
        "web",
        "get",
        "/account/{a}/realized-gains.csv",
        query={"year": "²"},
        status=(404,),
    ),
    Case(
        "web-gains-csv-year-arabic",
        "web",
        "get",
        "/account/{a}/realized-gains.csv",
        query={"year": "٢٠٢٦"},
        status=(404,),
    ),
]


def snapshot() -> tuple:
    return (
        list(Intent.objects.order_by("id").values_list("id", "kind", "status", "amount")),
        list(LedgerEntry.objects.order_by("id").values_list("id", "amount")),
        list(
            Account.objects.order_by("id").values_list(
                "id", "name", "cash", "min_cash", "auto_invest", "window_preference", "lot_method"
            )
        ),
        list(Pie.objects.order_by("id").values_list("id", "name", "version")),
        list(Slice.objects.order_by("id").values_list("id", "pie_id", "target_bp", "status")),
        list(Price.objects.order_by("id").values_list("id", "security_id", "price", "at")),
        list(Security.objects.order_by("id").values_list("id", "symbol", "active")),
        list(Dividend.objects.order_by("id").values_list("id", "amount_per_share")),
    )


@pytest.fixture
def world(alice, alice_account, make_security, make_user):
    from trading.ops import ensure_operations_group

    for symbol, amount in (("VTI", "250.00"), ("BND", "72.50"), ("TIP", "108.00")):
        make_security(symbol, amount)
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
        name="Core",
    )
    hold(alice_account, "VTI", "28", "6000.00")
    operations = make_user("opal", is_staff=True)
    operations.groups.add(ensure_operations_group())
    web = Client()
    web.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    staff_web = Client()
    staff_web.force_login(operations, backend="django.contrib.auth.backends.ModelBackend")
    return {
        "admin": staff_web,
        "account": alice_account,
        "api": client_for(alice),
        "staff": client_for(operations),
        "web": web,
    }


def _fill(value: Any, account: Account) -> Any:
    """The placeholders of a body's top level: "{v}" the pie's current version, and
    "{root-arabic}" the portfolio pie's id in Arabic-Indic digits (which ``int()`` reads)."""
    if not isinstance(value, dict):
        return value
    root = Pie.objects.get(account=account, is_root=True)
    arabic = str(root.pk).translate({ord("0") + d: 0x0660 + d for d in range(10)})
    vti = Security.objects.get(symbol="VTI").pk
    fills = {"{v}": root.version, "{root-arabic}": arabic, "{vti}": str(vti)}
    return {
        key: fills.get(item, item) if isinstance(item, str) else item for key, item in value.items()
    }


def _editor_form(spec: str, web: Client, account: Account) -> dict[str, Any]:
    """The editor's form as rendered, with one field changed ("editor:r0-target=٦٠")."""
    from tests.web.test_access import editor_post

    name, _, value = spec.removeprefix("editor:").partition("=")
    editor = web.get(f"/account/{account.pk}/pie/edit/").context["editor"]
    return {**editor_post(editor, **{name: value}), "op": "save"}


def send(case: Case, world: dict[str, Any]) -> Any:
    account = world["account"]
    path = case.path.replace("{a}", str(account.pk))
    if case.channel == "admin":
        return world["admin"].post(path, _fill(case.data, account))
    if case.channel == "web":
        web: Client = world["web"]
        if case.method == "get":
            return web.get(path, case.query)
        data = case.data
        if isinstance(data, str) and data.startswith("editor:"):
            data = _editor_form(data, web, account)
        elif "/pie/import/" in path:
            data = {**data, "version": str(_fill({"version": "{v}"}, account)["version"])}
        elif path.endswith(("/deposit/", "/withdraw/", "/rebalance/")):
            data = {**_fill(data, account), "idempotency_key": "k" * 32}
        return web.post(path, data)
    client: APIClient = world[case.channel]
    url = API + path
    if case.method == "get":
        return client.get(url, case.query)
    if case.raw is not None:
        return getattr(client, case.method)(url, case.raw, content_type="application/json")
    return getattr(client, case.method)(url, _fill(case.data, account), format="json")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(world, case):
    before = snapshot()
    response = send(case, world)
    assert response.status_code in case.status, response.content[:500]
    text = response.content.decode()
    if case.channel in ("api", "staff"):
        assert response["Content-Type"].startswith("application/json"), text[:200]
    if case.says:
        assert case.says in text, text[-3000:]
    assert snapshot() == before


def test_the_table_holds_at_least_sixty_inputs_across_the_api_and_the_web():
    channels = {case.channel for case in CASES}
    assert len(CASES) >= 60 and channels == {"api", "staff", "web", "admin"}
    assert len({case.id for case in CASES}) == len(CASES)
