"""Every form rejects the bad inputs of product.md with a message next to the field or at the
top, and changes nothing (issue 6, acceptance 5); good inputs do what they say."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client

from pies.models import Pie, Slice
from tests.web.test_access import editor_post
from trading.models import Account, Intent, IntentKind, IntentStatus

BAD_AMOUNTS = {
    "abc": "Enter the amount as a number, like 100.00.",
    "NaN": "Enter a finite amount.",
    "Infinity": "Enter a finite amount.",
    "-5": "Enter an amount greater than zero.",
    "0": "Enter an amount greater than zero.",
    "1e5": "without an exponent",
    "0.001": "Use at most two decimals.",
    "1000000.01": "Enter at most 1,000,000.00.",
    "": "This field is required.",
}


def key() -> str:
    return uuid.uuid4().hex


def html(response) -> str:
    return response.content.decode()


# --- deposits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount,message", BAD_AMOUNTS.items())
def test_a_bad_deposit_amount_is_refused_next_to_the_field_and_creates_nothing(
    alice_client, alice_account, amount, message
):
    response = alice_client.post(
        f"/account/{alice_account.pk}/deposit/", {"amount": amount, "idempotency_key": key()}
    )
    assert response.status_code == 400
    assert message in html(response)
    assert 'id="id_amount_error"' in html(response)
    assert not Intent.objects.exists()


def test_a_deposit_queues_one_intent_and_says_which_window_takes_it(alice_client, alice_account):
    response = alice_client.post(
        f"/account/{alice_account.pk}/deposit/",
        {"amount": "1,000.00".replace(",", ""), "idempotency_key": key()},
        follow=True,
    )
    intent = Intent.objects.get(account=alice_account)
    assert (intent.kind, intent.amount) == (IntentKind.DEPOSIT, Decimal("1000.00"))
    assert "Deposit queued for the" in html(response)
    assert " ET trade window" in html(response)


def test_a_resubmitted_deposit_form_creates_one_intent(alice_client, alice_account):
    form = {"amount": "250.00", "idempotency_key": key()}
    url = f"/account/{alice_account.pk}/deposit/"
    first = alice_client.post(url, form)
    second = alice_client.post(url, form, follow=True)
    assert first.status_code == 302
    assert Intent.objects.filter(account=alice_account).count() == 1
    assert "already queued" in html(second)


def test_each_rendered_deposit_form_carries_its_own_idempotency_key(alice_client, alice_account):
    url = f"/account/{alice_account.pk}/deposit/"
    first = alice_client.get(url).context["form"]["idempotency_key"].value()
    second = alice_client.get(url).context["form"]["idempotency_key"].value()
    assert first and second and first != second


def test_a_key_reused_with_another_amount_is_a_conflict_at_the_top_with_a_fresh_key(
    alice_client, alice_account
):
    url = f"/account/{alice_account.pk}/deposit/"
    alice_client.post(url, {"amount": "10.00", "idempotency_key": "same"})
    response = alice_client.post(url, {"amount": "20.00", "idempotency_key": "same"})
    assert response.status_code == 400
    assert "already used with a different request" in html(response)
    assert response.context["form"]["idempotency_key"].value() != "same"
    assert Intent.objects.filter(account=alice_account).count() == 1


def test_the_deposit_preview_splits_the_amount_by_the_money_rules(
    alice_client, core_pie, htmx_headers
):
    plan = dict(alice_client.get(f"/account/{core_pie.pk}/deposit/?amount=100").context["plan"])
    assert sum(plan.values()) == Decimal("100.00")
    # VTI is overweight (73% against 60%): the money goes to the bonds first.
    assert "VTI" not in plan
    fragment = html(alice_client.get(f"/account/{core_pie.pk}/deposit/?amount=100", **htmx_headers))
    assert '<th scope="row">Bonds/BND</th>' in fragment
    assert '<th scope="row">VTI</th>' not in fragment


# --- withdrawals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount,message",
    [(a, m) for a, m in BAD_AMOUNTS.items() if a not in ("", "1000000.01")],
)
def test_a_bad_withdrawal_amount_is_refused_and_creates_nothing(
    alice_client, core_pie, amount, message
):
    response = alice_client.post(
        f"/account/{core_pie.pk}/withdraw/", {"amount": amount, "idempotency_key": key()}
    )
    assert response.status_code == 400
    assert message in html(response)
    assert not Intent.objects.exists()


def test_a_withdrawal_above_the_account_value_is_refused_next_to_the_amount(alice_client, core_pie):
    # 28 x 250 + 20 x 72.50 + 10 x 108 = 9,530.00
    response = alice_client.post(
        f"/account/{core_pie.pk}/withdraw/", {"amount": "9530.01", "idempotency_key": key()}
    )
    assert response.status_code == 400
    assert "You can withdraw at most 9,530.00." in html(response)
    assert 'id="id_amount_error"' in html(response)
    assert not Intent.objects.exists()


def test_a_withdrawal_needs_an_amount_or_everything_but_not_both(alice_client, core_pie):
    url = f"/account/{core_pie.pk}/withdraw/"
    empty = alice_client.post(url, {"amount": "", "idempotency_key": key()})
    both = alice_client.post(url, {"amount": "5", "withdraw_all": "on", "idempotency_key": key()})
    assert "Enter an amount, or choose to withdraw everything." in html(empty)
    assert "Leave the amount empty to withdraw everything." in html(both)
    assert not Intent.objects.exists()


def test_a_withdrawal_preview_shows_the_sells_and_the_tax(alice_client, core_pie, htmx_headers):
    preview = alice_client.get(f"/account/{core_pie.pk}/withdraw/?amount=1000").context["preview"]
    assert preview is not None and preview.orders
    assert all(order.side == "sell" for order in preview.orders)
    fragment = html(
        alice_client.get(f"/account/{core_pie.pk}/withdraw/?amount=1000", **htmx_headers)
    )
    assert "Long-term gain" in fragment and "Planned orders at current prices" in fragment


def test_a_withdrawal_preview_of_too_much_says_so(alice_client, core_pie, htmx_headers):
    response = alice_client.get(f"/account/{core_pie.pk}/withdraw/?amount=99999", **htmx_headers)
    assert "You can withdraw at most 9,530.00." in html(response)


def test_withdraw_everything_asks_to_confirm_with_the_tax_then_queues_one_withdrawal_of_all(
    alice_client, core_pie
):
    data = {"withdraw_all": "on", "idempotency_key": key()}
    asked = alice_client.post(f"/account/{core_pie.pk}/withdraw/", data)
    assert asked.status_code == 200
    assert "Confirm: withdraw everything" in html(asked) and "Long-term gain" in html(asked)
    assert not Intent.objects.filter(account=core_pie).exists()
    alice_client.post(f"/account/{core_pie.pk}/withdraw/", {**data, "confirmed": "1"})
    intent = Intent.objects.get(account=core_pie)
    assert intent.withdraw_all and intent.amount is None


# --- rebalance --------------------------------------------------------------------------------


def test_confirming_a_rebalance_queues_it_and_a_second_one_is_refused_at_the_top(
    alice_client, core_pie
):
    url = f"/account/{core_pie.pk}/rebalance/"
    first = alice_client.post(url, {"idempotency_key": key(), "pie": ""})
    assert first.status_code == 302
    second = alice_client.post(url, {"idempotency_key": key(), "pie": ""})
    assert second.status_code == 400
    assert "A rebalance of this pie is already pending." in html(second)
    assert Intent.objects.filter(kind=IntentKind.REBALANCE).count() == 1


def test_a_sub_pie_can_be_rebalanced_on_its_own(alice_client, core_pie):
    bonds = Pie.objects.get(account=core_pie, name="Bonds")
    page = alice_client.get(f"/account/{core_pie.pk}/rebalance/?pie={bonds.pk}")
    assert {o.path for o in page.context["preview"].orders} <= {"Bonds/BND", "Bonds/TIP"}
    alice_client.post(
        f"/account/{core_pie.pk}/rebalance/", {"idempotency_key": key(), "pie": bonds.pk}
    )
    assert Intent.objects.get(kind=IntentKind.REBALANCE).pie == bonds


def test_a_rebalance_of_an_empty_pie_is_refused(alice_client, alice_account):
    response = alice_client.post(
        f"/account/{alice_account.pk}/rebalance/", {"idempotency_key": key(), "pie": ""}
    )
    assert response.status_code == 400
    assert "no slices to rebalance" in html(response)
    assert not Intent.objects.exists()


@pytest.mark.parametrize("pie", ["abc", "999999999"])
def test_a_rebalance_of_a_pie_that_is_not_there_is_refused(alice_client, core_pie, pie):
    response = alice_client.post(
        f"/account/{core_pie.pk}/rebalance/", {"idempotency_key": key(), "pie": pie}
    )
    assert response.status_code in (400, 404)
    assert not Intent.objects.exists()


def test_a_started_intent_cannot_be_cancelled_and_says_why(alice_client, core_pie):
    from django.utils import timezone

    from trading.models import TradeWindow

    window = TradeWindow.objects.create(
        trade_date=timezone.now().date(), session="adhoc", scheduled_at=timezone.now()
    )
    intent = Intent.objects.create(
        account=core_pie, kind=IntentKind.DEPOSIT, amount="5.00", window=window
    )
    response = alice_client.post(f"/account/{core_pie.pk}/intents/{intent.pk}/cancel/", follow=True)
    assert "It cannot be cancelled" in html(response)
    intent.refresh_from_db()
    assert intent.status == IntentStatus.PENDING


# --- account settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("min_cash", "abc", "Enter the amount as a number, like 100.00."),
        ("min_cash", "NaN", "Enter a finite amount."),
        ("min_cash", "-5", "The amount must be zero or more."),
        ("min_cash", "1e5", "without an exponent"),
        ("min_cash", "0.001", "Use at most two decimals."),
        ("window_preference", "evening", "Select a valid choice."),
        ("lot_method", "random", "Select a valid choice."),
    ],
)
def test_bad_settings_are_refused_next_to_the_field_and_change_nothing(
    alice_client, alice_account, field, value, message
):
    data = {"name": "", "auto_invest": "on", "min_cash": "0", "window_preference": "morning"}
    data["lot_method"] = "tax_min"
    data[field] = value
    response = alice_client.post(f"/account/{alice_account.pk}/settings/", data)
    assert response.status_code == 400
    assert message in html(response)
    assert f'id="id_{field}_error"' in html(response)
    fresh = Account.objects.get(pk=alice_account.pk)
    assert (fresh.min_cash, fresh.window_preference, fresh.lot_method) == (
        Decimal("0.00"),
        "morning",
        "tax_min",
    )


def test_good_settings_are_saved(alice_client, alice_account):
    alice_client.post(
        f"/account/{alice_account.pk}/settings/",
        {
            "name": "Long run",
            "min_cash": "125.50",
            "window_preference": "afternoon",
            "lot_method": "hifo",
        },
    )
    fresh = Account.objects.get(pk=alice_account.pk)
    assert (fresh.name, fresh.auto_invest, fresh.min_cash) == ("Long run", False, Decimal("125.50"))
    assert (fresh.window_preference, fresh.lot_method) == ("afternoon", "hifo")


# --- the pie editor ---------------------------------------------------------------------------


def editor_of(client: Client, account: Account):
    return client.get(f"/account/{account.pk}/pie/edit/").context["editor"]


def row_of(editor, label: str):
    editor.ordered()
    return next(row for row in editor.rows if row.label == label)


def snapshot(account: Account) -> list[tuple]:
    return list(
        Slice.objects.filter(pie__account=account)
        .order_by("id")
        .values_list("id", "pie_id", "security_id", "child_pie_id", "target_bp", "status")
    )


def save(client: Client, account: Account, data: dict):
    return client.post(f"/account/{account.pk}/pie/edit/", {**data, "op": "save"})


@pytest.mark.parametrize(
    "target,message",
    [
        ("59", "Targets add up to 99.00%; they must add up to exactly 100%."),
        ("60.001", "Use at most two decimals for a target."),
        ("abc", "Enter the target as a number"),
        ("NaN", "Enter a finite target."),
        ("1e1", "Enter the target as a plain number"),
        ("-60", "A target is between 0 and 100."),
        ("160", "A target is between 0 and 100."),
        ("", "Enter a target."),
    ],
)
def test_bad_targets_are_refused_next_to_the_field_and_save_nothing(
    alice_client, core_pie, target, message
):
    editor = editor_of(alice_client, core_pie)
    before, version = snapshot(core_pie), editor.version
    vti = row_of(editor, "VTI")
    response = save(alice_client, core_pie, editor_post(editor, **{f"{vti.key}-target": target}))
    assert response.status_code == 400
    assert message in html(response)
    assert snapshot(core_pie) == before
    assert Pie.objects.get(account=core_pie, is_root=True).version == version


def test_a_target_error_is_shown_under_its_own_input(alice_client, core_pie):
    editor = editor_of(alice_client, core_pie)
    bnd = row_of(editor, "Bonds/BND")
    response = save(alice_client, core_pie, editor_post(editor, **{f"{bnd.key}-target": "70.123"}))
    fragment = html(response).split(f'id="{bnd.key}-target-fb"')[1].split("</div>")[0]
    assert "Use at most two decimals for a target." in fragment


def test_the_running_total_of_a_sub_pie_shows_next_to_it(alice_client, core_pie):
    editor = editor_of(alice_client, core_pie)
    bnd = row_of(editor, "Bonds/BND")
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/validate/",
        editor_post(editor, **{f"{bnd.key}-target": "65.5"}),
        HTTP_HX_REQUEST="true",
    )
    bonds = row_of(editor, "Bonds")
    fragment = html(response).split(f'id="{bonds.key}-notes"')[1].split("</div>")[0]
    assert "Total 95.50%" in fragment
    assert "Targets add up to 95.50%" in fragment


def add(client: Client, account: Account, editor, symbol: str, *, to: str = "") -> object:
    response = client.post(
        f"/account/{account.pk}/pie/edit/",
        {**editor_post(editor), "op": f"add-security:{symbol}", "add_to": to},
    )
    return response.context["editor"]


def test_an_unknown_symbol_is_refused_next_to_it(alice_client, core_pie):
    editor = add(alice_client, core_pie, editor_of(alice_client, core_pie), "NOPE")
    before = snapshot(core_pie)
    new = editor.rows[-1]
    response = save(alice_client, core_pie, editor_post(editor, **{f"{new.key}-target": "1"}))
    assert "Unknown symbol &#x27;NOPE&#x27;." in html(response)
    assert snapshot(core_pie) == before


def test_an_inactive_symbol_is_refused(alice_client, core_pie, make_security):
    make_security("OLD", "10.00").__class__.objects.filter(symbol="OLD").update(active=False)
    editor = add(alice_client, core_pie, editor_of(alice_client, core_pie), "OLD")
    before = snapshot(core_pie)
    response = save(alice_client, core_pie, editor_post(editor))
    assert "OLD is not available for new slices." in html(response)
    assert snapshot(core_pie) == before


def test_a_duplicate_symbol_in_one_pie_is_refused(alice_client, core_pie):
    editor = add(alice_client, core_pie, editor_of(alice_client, core_pie), "VTI")
    before = snapshot(core_pie)
    response = save(alice_client, core_pie, editor_post(editor))
    assert "VTI is already in this pie." in html(response)
    assert snapshot(core_pie) == before


@pytest.mark.parametrize(
    "name,message", [("", "Enter a name."), ("Safe/Bonds", "A name cannot contain &#x27;/&#x27;.")]
)
def test_a_bad_sub_pie_name_is_refused_next_to_it(alice_client, core_pie, name, message):
    editor = editor_of(alice_client, core_pie)
    bonds = row_of(editor, "Bonds")
    before = snapshot(core_pie)
    response = save(alice_client, core_pie, editor_post(editor, **{f"{bonds.key}-name": name}))
    fragment = html(response).split(f'id="{bonds.key}-name-fb"')[1].split("</div>")[0]
    assert message in fragment
    assert snapshot(core_pie) == before


def test_a_stale_version_keeps_the_users_input_and_explains_the_conflict(alice_client, core_pie):
    from tests.web.builders import build_pie

    editor = editor_of(alice_client, core_pie)
    # Someone else saves meanwhile (same targets, but the version moves on).
    build_pie(
        core_pie,
        [
            {"target_percent": "50", "symbol": "VTI"},
            {
                "target_percent": "50",
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
    before = snapshot(core_pie)
    vti, bonds = row_of(editor, "VTI"), row_of(editor, "Bonds")
    data = editor_post(editor, **{f"{vti.key}-target": "70", f"{bonds.key}-target": "30"})
    response = save(alice_client, core_pie, data)
    assert response.status_code == 409
    assert "Someone else saved this pie while you were editing it" in html(response)
    assert 'value="70"' in html(response) and 'value="30"' in html(response)
    assert snapshot(core_pie) == before
    # Saving again from the conflict page applies the user's version.
    again = response.context["editor"]
    assert save(alice_client, core_pie, editor_post(again)).status_code == 302
    assert Slice.objects.get(pie__account=core_pie, security__symbol="VTI").target_bp == 7000


def test_a_garbled_editor_form_is_refused_and_saves_nothing(alice_client, core_pie):
    before = snapshot(core_pie)
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/edit/",
        {"op": "save", "version": "x", "row": ["r0", "r0"], "r0-kind": "bogus"},
    )
    assert response.status_code == 400
    assert "The form could not be read" in html(response)
    assert snapshot(core_pie) == before


def test_a_nested_pie_is_built_and_saved_from_the_editor(
    alice_client, alice_account, make_security
):
    for symbol in ("VTI", "BND", "TIP"):
        make_security(symbol, "100.00")
    editor = editor_of(alice_client, alice_account)
    editor = add(alice_client, alice_account, editor, "VTI")
    response = alice_client.post(
        f"/account/{alice_account.pk}/pie/edit/", {**editor_post(editor), "op": "add-pie"}
    )
    editor = response.context["editor"]
    pie_row = editor.rows[-1]
    editor.rows[-1].name = "Bonds"
    editor = add(alice_client, alice_account, editor, "BND", to=pie_row.key)
    editor = add(alice_client, alice_account, editor, "TIP", to=pie_row.key)
    targets = dict(zip((r.key for r in editor.rows), ("60", "40", "70", "30"), strict=True))
    data = editor_post(editor, **{f"{k}-target": v for k, v in targets.items()})
    response = save(alice_client, alice_account, data)
    assert response.status_code == 302, html(response)
    saved = {
        (s.pie.name, s.security.symbol if s.security else s.child_pie.name): s.target_bp
        for s in Slice.objects.filter(pie__account=alice_account).select_related(
            "pie", "security", "child_pie"
        )
    }
    assert saved == {
        ("Portfolio", "VTI"): 6000,
        ("Portfolio", "Bonds"): 4000,
        ("Bonds", "BND"): 7000,
        ("Bonds", "TIP"): 3000,
    }


def test_removing_a_slice_with_shares_says_it_will_be_sold_and_saving_marks_it_removing(
    alice_client, core_pie
):
    editor = editor_of(alice_client, core_pie)
    tip = row_of(editor, "Bonds/TIP")
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/edit/", {**editor_post(editor), "op": f"remove:{tip.key}"}
    )
    assert "Will be sold at the next window" in html(response)
    editor = response.context["editor"]
    bnd = row_of(editor, "Bonds/BND")
    response = save(alice_client, core_pie, editor_post(editor, **{f"{bnd.key}-target": "100"}))
    assert response.status_code == 302
    tip_slice = Slice.objects.get(pie__account=core_pie, security__symbol="TIP")
    assert (tip_slice.status, tip_slice.target_bp) == ("removing", 0)
    assert Intent.objects.filter(kind=IntentKind.REMOVAL, slice=tip_slice).exists()


def test_removing_a_new_row_drops_it_and_undo_restores_a_removed_one(alice_client, core_pie):
    editor = add(alice_client, core_pie, editor_of(alice_client, core_pie), "VTI", to="")
    new = editor.rows[-1]
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/edit/", {**editor_post(editor), "op": f"remove:{new.key}"}
    )
    editor = response.context["editor"]
    assert new.key not in {row.key for row in editor.rows}
    vti = row_of(editor, "VTI")
    removed = alice_client.post(
        f"/account/{core_pie.pk}/pie/edit/", {**editor_post(editor), "op": f"remove:{vti.key}"}
    ).context["editor"]
    assert row_of(removed, "VTI").removed
    restored = alice_client.post(
        f"/account/{core_pie.pk}/pie/edit/", {**editor_post(removed), "op": f"restore:{vti.key}"}
    ).context["editor"]
    assert not row_of(restored, "VTI").removed


def test_security_search_matches_symbol_prefix_or_name_and_only_active_ones(
    alice_client, make_security
):
    make_security("VTI", name="Vanguard Total Stock Market")
    make_security("BND", name="Vanguard Total Bond Market")
    make_security("VOO", name="S&P 500").__class__.objects.filter(symbol="VOO").update(active=False)
    found = alice_client.get("/securities/search/?q=v")
    assert [s.symbol for s in found.context["results"]] == ["BND", "VTI"]
    fragment = html(alice_client.get("/securities/search/?q=v", HTTP_HX_REQUEST="true"))
    assert "Add BND" in fragment and "Add VTI" in fragment and "VOO" not in fragment
    assert [
        s.symbol for s in alice_client.get("/securities/search/?q=bond").context["results"]
    ] == ["BND"]
    assert alice_client.get("/securities/search/?q=").context["results"] == []


# --- import and export ------------------------------------------------------------------------


def test_export_then_import_round_trips_the_pie(alice_client, core_pie):
    exported = alice_client.get(f"/account/{core_pie.pk}/pie/export/")
    assert exported["Content-Disposition"].startswith("attachment;")
    data = exported.content.decode()
    assert '"format": "pies/1"' in data
    version = Pie.objects.get(account=core_pie, is_root=True).version
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/import/", {"data": data, "version": version}
    )
    assert response.status_code == 302
    assert Pie.objects.get(account=core_pie, is_root=True).version == version + 1


@pytest.mark.parametrize(
    "data,message",
    [
        ("{not json", "This is not valid JSON"),
        ('{"format": "other"}', "Expected &quot;format&quot;: &quot;pies/1&quot;."),
        (
            '{"format": "pies/1", "name": "X", "slices": [{"target_percent": "99", "symbol": "VTI"}]}',
            "Targets add up to 99.00%",
        ),
        ("", "Paste the pie JSON or choose a file."),
    ],
)
def test_a_bad_import_is_refused_at_the_top_and_changes_nothing(
    alice_client, core_pie, data, message
):
    before = snapshot(core_pie)
    version = Pie.objects.get(account=core_pie, is_root=True).version
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/import/", {"data": data, "version": version}
    )
    assert response.status_code == 400
    assert message in html(response)
    assert snapshot(core_pie) == before


def test_an_import_against_a_stale_version_is_a_conflict(alice_client, core_pie):
    before = snapshot(core_pie)
    data = alice_client.get(f"/account/{core_pie.pk}/pie/export/").content.decode()
    response = alice_client.post(
        f"/account/{core_pie.pk}/pie/import/", {"data": data, "version": "1"}
    )
    assert response.status_code == 409
    assert "Someone else saved this pie" in html(response)
    assert snapshot(core_pie) == before


def test_the_editor_refuses_a_move_onto_a_pie_where_the_security_is_still_removing(
    alice_client, core_pie
):
    from tests.web.builders import build_pie, hold

    bonds = [{"target_percent": "50", "symbol": "BND"}, {"target_percent": "50", "symbol": "VTI"}]
    build_pie(
        core_pie,
        [
            {"target_percent": "60", "symbol": "VTI"},
            {"target_percent": "40", "pie": {"name": "Bonds", "slices": bonds}},
        ],
    )
    hold(core_pie, "Bonds/VTI", "1", "250.00")
    build_pie(core_pie, [{"target_percent": "100", "pie": {"name": "Bonds", "slices": bonds}}])
    assert (
        Slice.objects.get(pie__is_root=True, pie__account=core_pie, security__symbol="VTI").status
        == "removing"
    )
    editor = editor_of(alice_client, core_pie)
    inner = next(row for row in editor.rows if row.label == "Bonds/VTI")
    bonds_row = row_of(editor, "Bonds")
    before = snapshot(core_pie)
    data = editor_post(
        editor,
        **{
            f"{inner.key}-parent": "",
            f"{inner.key}-target": "50",
            f"{bonds_row.key}-target": "50",
            f"{row_of(editor, 'Bonds/BND').key}-target": "100",
        },
    )

    response = save(alice_client, core_pie, data)

    assert response.status_code == 400
    assert "VTI is still being sold from this pie" in html(response)
    assert snapshot(core_pie) == before
