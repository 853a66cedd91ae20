"""Every investor view: login required, ownership (404 for others), methods, htmx vs page
(issue 6, acceptance 4)."""

from __future__ import annotations

import pytest
from django.test import Client

from trading.models import Intent, IntentKind

# (name, url template, methods it answers). {pk} is the account, {intent} a pending intent.
ACCOUNT_PAGES = [
    "/account/{pk}/",
    "/account/{pk}/pie/{pie}/",
    "/account/{pk}/deposit/",
    "/account/{pk}/withdraw/",
    "/account/{pk}/rebalance/",
    "/account/{pk}/activity/",
    "/account/{pk}/lots/",
    "/account/{pk}/realized-gains.csv",
    "/account/{pk}/settings/",
    "/account/{pk}/pie/edit/",
    "/account/{pk}/pie/export/",
    "/account/{pk}/pie/import/",
]
ACCOUNT_POSTS = [
    "/account/{pk}/intents/{intent}/cancel/",
    "/account/{pk}/pie/validate/",
]
USER_PAGES = ["/", "/settings/", "/securities/search/?q=V"]
USER_POSTS = ["/settings/token/", "/settings/token/revoke/", "/account/open/"]
# Pages whose htmx answer is an inline partial rather than the whole page.
PARTIAL_PAGES = [
    ("/account/{pk}/", "account-body"),
    ("/account/{pk}/pie/{pie}/", "account-body"),
    ("/account/{pk}/deposit/", "deposit-preview"),
    ("/account/{pk}/withdraw/", "withdraw-preview"),
    ("/account/{pk}/rebalance/", "rebalance-body"),
    ("/account/{pk}/activity/", "activity-body"),
    ("/account/{pk}/lots/", "lots-body"),
    ("/account/{pk}/settings/", "settings-form"),
    ("/account/{pk}/pie/edit/", "pie-editor"),
    ("/account/{pk}/pie/import/", "import-form"),
    ("/securities/search/?q=V", "search-results"),
]


@pytest.fixture
def urls(core_pie):
    from pies.models import Pie

    intent = Intent.objects.create(account=core_pie, kind=IntentKind.DEPOSIT, amount="10.00")
    bonds = Pie.objects.get(account=core_pie, name="Bonds")
    return {"pk": core_pie.pk, "pie": bonds.pk, "intent": intent.pk}


def fill(template: str, values: dict) -> str:
    return template.format(**values)


@pytest.mark.parametrize("template", ACCOUNT_PAGES + ACCOUNT_POSTS + USER_PAGES + USER_POSTS)
def test_every_view_sends_anonymous_visitors_to_the_login_page(client: Client, urls, template):
    url = fill(template, urls)
    method = client.post if template in ACCOUNT_POSTS + USER_POSTS else client.get
    response = method(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("template", ACCOUNT_PAGES)
def test_another_users_account_pages_are_not_found(urls, bob, bob_account, template):
    client = Client()
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(fill(template, urls)).status_code == 404


@pytest.mark.parametrize("template", ACCOUNT_POSTS)
def test_another_users_account_changes_are_not_found_and_change_nothing(
    urls, bob, bob_account, template
):
    client = Client()
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(fill(template, urls), {"version": "1"}).status_code == 404
    assert Intent.objects.get(pk=urls["intent"]).status == "pending"


@pytest.mark.parametrize(
    "template",
    ["/account/{pk}/deposit/", "/account/{pk}/withdraw/", "/account/{pk}/rebalance/"],
)
def test_posting_a_cash_flow_to_another_users_account_creates_nothing(
    urls, bob, bob_account, template
):
    client = Client()
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    before = Intent.objects.count()
    response = client.post(fill(template, urls), {"amount": "10", "idempotency_key": "k1"})
    assert response.status_code == 404
    assert Intent.objects.count() == before


def test_a_pie_of_another_account_is_not_found_under_ones_own_account(
    alice_client, urls, bob_account
):
    from pies.models import Pie

    bobs_pie = Pie.objects.get(account=bob_account, is_root=True)
    response = alice_client.get(f"/account/{urls['pk']}/pie/{bobs_pie.pk}/")
    assert response.status_code == 404
    response = alice_client.get(f"/account/{urls['pk']}/rebalance/?pie={bobs_pie.pk}")
    assert response.status_code == 404


def test_an_intent_of_another_account_cannot_be_cancelled_through_ones_own(
    alice_client, urls, bob_account
):
    theirs = Intent.objects.create(account=bob_account, kind=IntentKind.DEPOSIT, amount="5.00")
    response = alice_client.post(f"/account/{urls['pk']}/intents/{theirs.pk}/cancel/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "pending"


@pytest.mark.parametrize("template", ACCOUNT_POSTS + USER_POSTS)
def test_changes_answer_get_with_405(alice_client, urls, template):
    assert alice_client.get(fill(template, urls)).status_code == 405


@pytest.mark.parametrize(
    "template",
    [
        "/",
        "/settings/",
        "/account/{pk}/",
        "/account/{pk}/activity/",
        "/account/{pk}/lots/",
        "/account/{pk}/realized-gains.csv",
        "/account/{pk}/pie/export/",
        "/securities/search/?q=V",
    ],
)
def test_read_only_pages_refuse_post_with_405(alice_client, urls, template):
    assert alice_client.post(fill(template, urls)).status_code == 405


@pytest.mark.parametrize("template", ACCOUNT_PAGES + USER_PAGES)
def test_no_page_accepts_delete(alice_client, urls, template):
    assert alice_client.delete(fill(template, urls)).status_code == 405


@pytest.mark.parametrize("template,partial", PARTIAL_PAGES)
def test_htmx_requests_get_the_inline_partial_and_others_the_whole_page(
    alice_client, urls, htmx_headers, template, partial
):
    url = fill(template, urls)
    page = alice_client.get(url).content.decode()
    fragment = alice_client.get(url, **htmx_headers).content.decode()
    assert "<html" in page and "<html" not in fragment
    assert f'id="{partial}"' in fragment
    assert f'id="{partial}"' in page


def test_cancel_over_htmx_answers_with_a_client_redirect(alice_client, urls, htmx_headers):
    response = alice_client.post(
        fill("/account/{pk}/intents/{intent}/cancel/", urls), **htmx_headers
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/account/{urls['pk']}/"
    assert Intent.objects.get(pk=urls["intent"]).status == "cancelled"


def test_cancel_without_htmx_redirects_to_the_account_page(alice_client, urls):
    response = alice_client.post(fill("/account/{pk}/intents/{intent}/cancel/", urls))
    assert response.status_code == 302
    assert response["Location"] == f"/account/{urls['pk']}/"
    assert Intent.objects.get(pk=urls["intent"]).status == "cancelled"


def test_the_validate_endpoint_answers_htmx_with_out_of_band_messages_only(
    alice_client, urls, htmx_headers
):
    editor = alice_client.get(fill("/account/{pk}/pie/edit/", urls)).context["editor"]
    data = editor_post(editor)
    fragment = alice_client.post(
        fill("/account/{pk}/pie/validate/", urls), data, **htmx_headers
    ).content.decode()
    assert 'hx-swap-oob="true"' in fragment
    assert "<input" not in fragment  # what the user is typing is never replaced
    page = alice_client.post(fill("/account/{pk}/pie/validate/", urls), data).content.decode()
    assert "<html" in page


def editor_post(editor, **changes: str) -> dict[str, object]:
    """The editor form as the browser posts it, with some fields changed."""
    data: dict[str, object] = {"version": str(editor.version), "name": editor.name}
    data["row"] = [row.key for row in editor.rows]
    for row in editor.rows:
        data[f"{row.key}-parent"] = row.parent
        data[f"{row.key}-kind"] = row.kind
        data[f"{row.key}-id"] = row.slice_id or ""
        data[f"{row.key}-pie_id"] = row.pie_id or ""
        data[f"{row.key}-symbol"] = row.symbol
        data[f"{row.key}-name"] = row.name
        data[f"{row.key}-target"] = row.target
        data[f"{row.key}-removed"] = "1" if row.removed else ""
    data.update(changes)
    return data
