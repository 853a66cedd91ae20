"""The pie editor's "Move to", buy-back warning, remainders, even splits and unsaved changes
(issue 14): a move is saved by slice id, so it keeps the shares and trades nothing."""

from __future__ import annotations

import re
from decimal import Decimal

from django.test import Client

from pies.models import Slice
from tests.web.builders import build_pie
from tests.web.test_access import editor_post
from trading.models import Account, Intent, Position


def html(response) -> str:
    return response.content.decode()


def editor_of(client: Client, account: Account):
    return client.get(f"/account/{account.pk}/pie/edit/").context["editor"]


def row_of(editor, label: str):
    editor.ordered()
    return next(row for row in editor.rows if row.label == label)


def op(client: Client, account: Account, editor, operation: str, **changes: str):
    response = client.post(
        f"/account/{account.pk}/pie/edit/", {**editor_post(editor, **changes), "op": operation}
    )
    assert response.status_code == 200, html(response)
    return response


def labels(choices) -> list[str]:
    return [label for _, label in choices]


def test_every_row_can_move_to_any_pie_but_itself_and_its_own_sub_pies(alice_client, core_pie):
    editor = alice_client.get(f"/account/{core_pie.pk}/pie/edit/").context["editor"]
    assert labels(row_of(editor, "VTI").move_choices) == ["Portfolio (top level)", "Bonds"]
    assert labels(row_of(editor, "Bonds/BND").move_choices) == ["Portfolio (top level)", "Bonds"]
    assert labels(row_of(editor, "Bonds").move_choices) == ["Portfolio (top level)"]
    page = html(alice_client.get(f"/account/{core_pie.pk}/pie/edit/"))
    vti = row_of(editor, "VTI")
    assert f'<label for="{vti.key}-parent" class="sr-only">Move VTI to</label>' in page


def test_a_move_that_would_nest_pies_too_deep_is_not_offered(
    alice_client, alice_account, make_security
):
    for symbol in ("A", "B", "C", "D", "X", "Y"):
        make_security(symbol, "10.00")

    def sub(name: str, slices: list) -> dict:
        return {"target_percent": "50", "pie": {"name": name, "slices": slices}}

    leaf = {"target_percent": "50", "symbol": "D"}
    chain = sub("L2", [{"target_percent": "50", "symbol": "A"}, sub("L3", [leaf, sub("L4", [
        {"target_percent": "50", "symbol": "B"}, {"target_percent": "50", "symbol": "C"}
    ])])])  # fmt: skip
    nested = sub("Outer", [{"target_percent": "50", "symbol": "X"}, sub("Inner", [
        {"target_percent": "100", "symbol": "Y"}
    ])])  # fmt: skip
    build_pie(alice_account, [chain, nested])
    editor = editor_of(alice_client, alice_account)
    # Outer (2 levels of pies) fits under L3 (level 3: Outer 4, Inner 5), not under L4.
    assert labels(row_of(editor, "Outer").move_choices) == [
        "Portfolio (top level)",
        "L2",
        "L2/L3",
    ]
    assert "L2/L3/L4" in labels(row_of(editor, "Outer/X").move_choices)


def test_moving_a_held_slice_into_a_sub_pie_saves_it_by_id_and_trades_nothing(
    alice_client, core_pie
):
    editor = editor_of(alice_client, core_pie)
    vti, bonds = row_of(editor, "VTI"), row_of(editor, "Bonds")
    vti_slice = Slice.objects.get(pie__account=core_pie, security__symbol="VTI")
    response = op(
        alice_client, core_pie, editor, f"move:{vti.key}", **{f"{vti.key}-parent": bonds.key}
    )
    editor = response.context["editor"]
    moved = row_of(editor, "Bonds/VTI")
    assert (moved.slice_id, moved.parent) == (vti_slice.pk, bonds.key)
    assert [row.label for row in editor.ordered()][-1] == "Bonds/VTI"  # last in its new pie
    assert "Will be sold" not in html(response) and "buys them back" not in html(response)

    data = editor_post(
        editor,
        **{
            f"{bonds.key}-target": "100",
            f"{row_of(editor, 'Bonds/BND').key}-target": "40",
            f"{row_of(editor, 'Bonds/TIP').key}-target": "20",
            f"{moved.key}-target": "40",
        },
    )
    response = alice_client.post(f"/account/{core_pie.pk}/pie/edit/", {**data, "op": "save"})

    assert response.status_code == 302, html(response)
    vti_slice.refresh_from_db()
    assert (vti_slice.pie.name, vti_slice.status, vti_slice.target_bp) == ("Bonds", "active", 4000)
    assert Position.objects.get(slice=vti_slice).quantity == Decimal("28")
    assert not Intent.objects.filter(account=core_pie).exists()  # no removal, nothing to trade


def test_a_sub_pie_posted_inside_itself_goes_back_to_the_top_level_and_says_so(
    alice_client, core_pie
):
    editor = editor_of(alice_client, core_pie)
    bonds = row_of(editor, "Bonds")
    response = op(
        alice_client, core_pie, editor, f"move:{bonds.key}", **{f"{bonds.key}-parent": bonds.key}
    )
    assert "Bonds cannot go inside itself or its own sub-pies" in html(response)
    assert row_of(response.context["editor"], "Bonds").parent == ""


def test_removing_a_held_security_and_adding_it_elsewhere_warns_and_offers_a_move(
    alice_client, core_pie
):
    editor = editor_of(alice_client, core_pie)
    vti, bonds = row_of(editor, "VTI"), row_of(editor, "Bonds")
    editor = op(alice_client, core_pie, editor, f"remove:{vti.key}").context["editor"]
    response = op(alice_client, core_pie, editor, "add-security:VTI", add_to=bonds.key)
    # 28 VTI bought for 6,000.00 and worth 7,000.00 at 250.00: a gain of 1,000.00.
    assert "This sells 28.000000 shares (est. gain +$1,000.00) and buys them back." in re.sub(
        r"</?strong>", "", html(response)
    )
    assert "And bought back in Bonds/VTI." in html(response)
    editor = response.context["editor"]
    new = row_of(editor, "Bonds/VTI")
    assert new.is_new

    editor = op(alice_client, core_pie, editor, f"move-instead:{new.key}").context["editor"]
    moved = row_of(editor, "Bonds/VTI")
    assert (moved.slice_id, moved.removed) == (vti.slice_id, False)
    assert [row.symbol for row in editor.rows].count("VTI") == 1
    assert editor.focus == moved.key


def test_a_new_slice_gets_what_its_pie_lacks_the_focus_and_an_empty_search(
    alice_client, alice_account, make_security
):
    for symbol in ("VTI", "BND", "TIP"):
        make_security(symbol, "100.00")
    editor = editor_of(alice_client, alice_account)
    response = op(alice_client, alice_account, editor, "add-security:VTI", q="vt")
    editor = response.context["editor"]
    vti = row_of(editor, "VTI")
    assert vti.target == "100.00" and editor.query == ""
    assert re.search(rf'id="{vti.key}-target"[^>]*autofocus', html(response))
    assert 'id="security-search" type="search" name="q" value=""' in html(response)

    editor = op(
        alice_client, alice_account, editor, "add-security:BND", **{f"{vti.key}-target": "70"}
    ).context["editor"]
    assert row_of(editor, "BND").target == "30.00"
    editor = op(alice_client, alice_account, editor, "add-security:TIP").context["editor"]
    assert row_of(editor, "TIP").target == ""  # nothing left to give

    editor = op(alice_client, alice_account, editor, "split:").context["editor"]
    assert [row.target for row in editor.rows] == ["33.34", "33.33", "33.33"]


def test_a_new_sub_pie_gets_the_focus_on_its_name_and_a_sensible_label(alice_client, alice_account):
    response = op(alice_client, alice_account, editor_of(alice_client, alice_account), "add-pie")
    new = response.context["editor"].rows[0]
    page = html(response)
    assert re.search(rf'id="{new.key}-name"[^>]*autofocus', page)
    assert 'Sub-pie name<span class="sr-only">: new sub-pie 1</span>' in page


def test_the_editor_says_whether_it_holds_unsaved_changes(alice_client, core_pie):
    assert 'data-unsaved="false"' in html(alice_client.get(f"/account/{core_pie.pk}/pie/edit/"))
    editor = editor_of(alice_client, core_pie)
    vti = row_of(editor, "VTI")
    same = op(alice_client, core_pie, editor, "noop", **{f"{vti.key}-target": "60"})
    assert 'data-unsaved="false"' in html(same)  # 60 is what is stored (60.00)
    changed = op(alice_client, core_pie, editor, "noop", **{f"{vti.key}-target": "61"})
    assert 'data-unsaved="true"' in html(changed)
    assert 'data-confirm-unsaved="Discard your unsaved changes to this pie?"' in html(changed)


def test_the_sub_pie_row_offers_an_even_split_of_its_slices(alice_client, core_pie):
    editor = editor_of(alice_client, core_pie)
    bonds = row_of(editor, "Bonds")
    editor = op(alice_client, core_pie, editor, f"split:{bonds.key}").context["editor"]
    assert [row_of(editor, f"Bonds/{s}").target for s in ("BND", "TIP")] == ["50.00", "50.00"]
    assert row_of(editor, "VTI").target == "60.00"  # other pies are left alone
