from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from trading.models import Dividend, LedgerEntry, Security

pytestmark = pytest.mark.django_db

STAFF_APPS = ("trading", "pies")


def staff_models():
    return [
        model
        for model in admin.site._registry
        if model._meta.app_label in STAFF_APPS or model._meta.model_name == "user"
    ]


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_every_trading_and_pies_model_has_an_admin():
    registered = {model._meta.model_name for model in staff_models()}
    assert {
        "security",
        "price",
        "dividend",
        "account",
        "intent",
        "tradewindow",
        "order",
        "blockorder",
        "fill",
        "lot",
        "disposal",
        "ledgerentry",
        "windowaccount",
        "windowchunk",
        "recurringdeposit",
        "confirmation",
        "pie",
        "slice",
        "user",
    } <= registered


def test_every_changelist_and_change_page_renders_for_an_operations_user(
    ops_client, one_of_everything
):
    for model in staff_models():
        response = ops_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {model.__name__} to show"
        response = ops_client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, model


def test_changelists_search_and_filter_without_errors(ops_client, one_of_everything):
    for model in staff_models():
        response = ops_client.get(admin_url(model, "changelist"), {"q": "VTI"})
        assert response.status_code == 200, model


def test_the_admin_is_closed_to_investors(client, alice, one_of_everything):
    client.force_login(alice)
    for model in staff_models():
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 302, model
        assert response["Location"].startswith(reverse("admin:login"))
        obj = model._default_manager.order_by("pk").first()
        response = client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 302, model


def test_the_admin_is_closed_to_staff_outside_the_operations_group(
    client, staff_user, one_of_everything
):
    client.force_login(staff_user)
    for model in staff_models():
        assert client.get(admin_url(model, "changelist")).status_code == 403, model


def test_the_ledger_admin_refuses_add_change_and_delete_even_to_a_superuser(
    client, superuser, one_of_everything
):
    client.force_login(superuser)
    entry = LedgerEntry.objects.order_by("pk").first()
    model_admin = admin.site._registry[LedgerEntry]
    request = client.get("/").wsgi_request
    request.user = superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)

    assert client.get(admin_url(LedgerEntry, "add")).status_code == 403
    page = client.get(admin_url(LedgerEntry, "change", entry.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = client.post(
        admin_url(LedgerEntry, "change", entry.pk),
        {
            "amount": "999.00",
            "kind": entry.kind,
            "reference": "edited",
            "account": entry.account_id,
        },
    )
    assert response.status_code == 403
    assert (
        client.post(admin_url(LedgerEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    )
    entry.refresh_from_db()
    assert entry.amount == Decimal("100.00")
    assert entry.reference == "t:1"


def test_history_admins_are_read_only_for_operations(ops_client, one_of_everything):
    from trading.models import BlockOrder, Disposal, Fill, Lot, Order

    for model in (Order, BlockOrder, Fill, Lot, Disposal, LedgerEntry):
        obj = model._default_manager.first()
        page = ops_client.get(admin_url(model, "change", obj.pk))
        assert b'name="_save"' not in page.content, model
        assert ops_client.get(admin_url(model, "add")).status_code == 403, model


def test_staff_cannot_edit_an_accounts_cash(ops_client, alice_account):
    url = admin_url(type(alice_account), "change", alice_account.pk)
    response = ops_client.post(
        url,
        {
            "name": "Renamed",
            "cash": "1000000.00",
            "auto_invest": "on",
            "min_cash": "0.00",
            "window_preference": "afternoon",
            "lot_method": "fifo",
        },
    )
    assert response.status_code == 302
    alice_account.refresh_from_db()
    assert alice_account.cash == Decimal("0")
    assert alice_account.window_preference == "afternoon"


def test_a_dividend_can_be_recorded_in_the_admin(ops_client, make_security):
    vti = make_security("VTI", "200.00")
    response = ops_client.post(
        admin_url(Dividend, "add"),
        {
            "security": vti.pk,
            "ex_date": "2026-03-02",
            "pay_date": "2026-03-06",
            "amount_per_share": "0.8123",
        },
    )
    assert response.status_code == 302
    dividend = Dividend.objects.get()
    assert dividend.amount_per_share == Decimal("0.8123")
    assert dividend.paid_at is None


def test_a_dividend_paid_before_its_ex_date_is_a_form_error_not_a_500(ops_client, make_security):
    vti = make_security("VTI", "200.00")
    response = ops_client.post(
        admin_url(Dividend, "add"),
        {
            "security": vti.pk,
            "ex_date": "2026-03-06",
            "pay_date": "2026-03-02",
            "amount_per_share": "0.8123",
        },
    )
    assert response.status_code == 200
    assert not Dividend.objects.exists()


def test_the_dividend_page_shows_who_was_paid(ops_client, one_of_everything, alice_account):
    dividend = one_of_everything["dividend"]
    page = ops_client.get(admin_url(Dividend, "change", dividend.pk)).content.decode()
    assert "Paid to" in page
    assert "alice" in page
    assert "0.25" in page


def test_securities_can_be_deactivated_in_bulk(ops_client, make_security):
    make_security("VTI")
    make_security("BND")
    response = ops_client.post(
        admin_url(Security, "changelist"),
        {
            "action": "deactivate",
            "_selected_action": list(Security.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 302
    assert not Security.objects.filter(active=True).exists()


def test_the_cancel_action_cancels_pending_intents_only(ops_client, alice_account):
    from trading.models import Intent

    pending = Intent.objects.create(account=alice_account, kind="deposit", amount=Decimal("50.00"))
    done = Intent.objects.create(
        account=alice_account, kind="deposit", amount=Decimal("60.00"), status="done"
    )
    response = ops_client.post(
        admin_url(Intent, "changelist"),
        {"action": "cancel_pending", "_selected_action": [pending.pk, done.pk]},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    done.refresh_from_db()
    assert pending.status == "cancelled"
    assert done.status == "done"
