"""Saving, matching, removing, exporting and valuing pie trees (pies/services.py, pies/tree.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pies.models import Pie, Slice
from pies.services import (
    PieValidationError,
    StalePieVersion,
    export_pie,
    import_pie,
    save_pie_tree,
    validate_pie_tree,
)
from pies.tree import load_portfolio
from trading.models import Intent, Lot, Position

NESTED = {
    "name": "Core",
    "slices": [
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
}


@pytest.fixture
def universe(make_security):
    return {s: make_security(s, "10.00") for s in ["VTI", "BND", "TIP", "VXUS", "AAA"]}


def give_shares(slice_: Slice, quantity: str, cost: str = "100.00") -> None:
    position = slice_.position
    position.quantity = Decimal(quantity)
    position.save()
    Lot.objects.create(
        position=position,
        acquired_on=date(2026, 1, 5),
        quantity=Decimal(quantity),
        remaining_quantity=Decimal(quantity),
        cost_basis=Decimal(cost),
        remaining_cost=Decimal(cost),
    )


def leaf_slice(account, symbol: str) -> Slice:
    return Slice.objects.get(
        pie__account=account, security__symbol=symbol, status__in=["active", "removing"]
    )


def test_a_nested_tree_is_saved_and_bumps_the_version(alice_account, universe):
    root = save_pie_tree(account=alice_account, tree=NESTED, version=1)
    assert root.version == 2
    assert root.name == "Core"
    portfolio = load_portfolio(alice_account)
    assert [s.path for s in portfolio.leaves] == ["VTI", "Bonds/BND", "Bonds/TIP"]
    assert [s.portfolio_target_percent for s in portfolio.leaves] == [
        Decimal("60.00"),
        Decimal("28.00"),
        Decimal("12.00"),
    ]
    # every leaf slice has its position from the start
    assert Position.objects.filter(account=alice_account).count() == 3


def test_a_stale_version_is_refused_and_changes_nothing(alice_account, universe):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    with pytest.raises(StalePieVersion) as caught:
        save_pie_tree(
            account=alice_account,
            tree={"slices": [{"target_percent": "100", "symbol": "AAA"}]},
            version=1,
        )
    assert caught.value.current_version == 2
    assert [s.path for s in load_portfolio(alice_account).leaves] == [
        "VTI",
        "Bonds/BND",
        "Bonds/TIP",
    ]


@pytest.mark.parametrize(
    ("tree", "key", "fragment"),
    [
        (
            {
                "slices": [
                    {"target_percent": "50", "symbol": "VTI"},
                    {"target_percent": "49", "symbol": "BND"},
                ]
            },
            "slices",
            "99.00%",
        ),
        (
            {"slices": [{"target_percent": "33.333", "symbol": "VTI"}]},
            "slices.0.target_percent",
            "two decimals",
        ),
        (
            {"slices": [{"target_percent": "NaN", "symbol": "VTI"}]},
            "slices.0.target_percent",
            "finite",
        ),
        (
            {"slices": [{"target_percent": "100", "symbol": "NOPE"}]},
            "slices.0.symbol",
            "Unknown symbol",
        ),
        (
            {
                "slices": [
                    {"target_percent": "50", "symbol": "VTI"},
                    {"target_percent": "50", "symbol": "vti"},
                ]
            },
            "slices.1.symbol",
            "already in this pie",
        ),
        (
            {
                "slices": [
                    {
                        "target_percent": "100",
                        "pie": {
                            "name": "a/b",
                            "slices": [{"target_percent": "100", "symbol": "VTI"}],
                        },
                    }
                ]
            },
            "slices.0.pie.name",
            "'/'",
        ),
        (
            {
                "slices": [
                    {
                        "target_percent": "100",
                        "pie": {"name": "", "slices": [{"target_percent": "100", "symbol": "VTI"}]},
                    }
                ]
            },
            "slices.0.pie.name",
            "Enter a name",
        ),
        (
            {
                "slices": [
                    {"target_percent": "100", "symbol": "VTI", "pie": {"name": "x", "slices": []}}
                ]
            },
            "slices.0",
            "either a symbol or a sub-pie",
        ),
        (
            {"slices": [{"target_percent": "100", "symbol": "VTI", "id": 999999}]},
            "slices.0.id",
            "No slice",
        ),
        ({"slices": "nope"}, "slices", "list"),
    ],
)
def test_bad_trees_get_field_errors_and_change_nothing(
    alice_account, universe, tree, key, fragment
):
    with pytest.raises(PieValidationError) as caught:
        save_pie_tree(account=alice_account, tree=tree, version=1)
    assert any(fragment in message for message in caught.value.errors[key]), caught.value.errors
    assert Slice.objects.filter(pie__account=alice_account).count() == 0
    assert Pie.objects.get(account=alice_account, is_root=True).version == 1


def test_an_inactive_security_cannot_be_added(alice_account, universe):
    universe["AAA"].active = False
    universe["AAA"].save()
    errors = validate_pie_tree(
        account=alice_account, tree={"slices": [{"target_percent": "100", "symbol": "AAA"}]}
    )
    assert "not available" in errors["slices.0.symbol"][0]


def test_nesting_deeper_than_five_levels_is_refused(alice_account, universe):
    node: dict = {"target_percent": "100", "symbol": "VTI"}
    for level in range(5):
        node = {"target_percent": "100", "pie": {"name": f"L{level}", "slices": [node]}}
    errors = validate_pie_tree(account=alice_account, tree={"slices": [node]})
    assert any("5 levels" in m for messages in errors.values() for m in messages)


def test_more_than_100_securities_per_account_are_refused(alice_account, make_security):
    symbols = [f"S{i:03d}" for i in range(101)]
    for symbol in symbols:
        make_security(symbol, None)
    slices = [{"target_percent": "1", "symbol": s} for s in symbols[:100]]
    extra = {
        "target_percent": "1",
        "pie": {"name": "More", "slices": [{"target_percent": "100", "symbol": symbols[100]}]},
    }
    errors = validate_pie_tree(account=alice_account, tree={"slices": [*slices[:99], extra]})
    assert not errors
    errors = validate_pie_tree(
        account=alice_account,
        tree={
            "slices": [
                *[dict(s, target_percent="0.99") for s in slices],
                {**extra, "target_percent": "1"},
            ]
        },
    )
    assert any("at most 100" in m for messages in errors.values() for m in messages)


def test_moving_a_slice_by_id_and_renaming_a_sub_pie_keeps_its_position(alice_account, universe):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    bnd = leaf_slice(alice_account, "BND")
    give_shares(bnd, "5")
    bonds_slice = Slice.objects.get(pie__account=alice_account, child_pie__name="Bonds")
    moved = {
        "slices": [
            {"target_percent": "50", "symbol": "VTI"},
            {"target_percent": "25", "id": bnd.pk, "symbol": "BND"},
            {
                "target_percent": "25",
                "id": bonds_slice.pk,
                "pie": {
                    "name": "Inflation",
                    "slices": [{"target_percent": "100", "symbol": "TIP"}],
                },
            },
        ]
    }
    save_pie_tree(account=alice_account, tree=moved, version=2)
    bnd.refresh_from_db()
    assert bnd.pie.is_root and bnd.status == "active"
    assert bnd.position.quantity == Decimal("5")
    assert [s.path for s in load_portfolio(alice_account).leaves] == ["VTI", "BND", "Inflation/TIP"]
    assert not Intent.objects.filter(account=alice_account).exists()  # nothing trades


def two_vtis(account) -> tuple[Slice, Slice]:
    """VTI in the portfolio (held, then removed: removing) and VTI in Bonds (held)."""
    tree = {
        "slices": [
            {"target_percent": "60", "symbol": "VTI"},
            {
                "target_percent": "40",
                "pie": {
                    "name": "Bonds",
                    "slices": [
                        {"target_percent": "50", "symbol": "VTI"},
                        {"target_percent": "50", "symbol": "BND"},
                    ],
                },
            },
        ]
    }
    save_pie_tree(account=account, tree=tree, version=1)
    top, inner = Slice.objects.filter(pie__account=account, security__symbol="VTI").order_by(
        "pie__is_root"
    )[::-1]
    give_shares(top, "3")
    give_shares(inner, "2")
    tree["slices"] = [
        {"target_percent": "0", "symbol": "VTI"},
        {**tree["slices"][1], "target_percent": "100"},
    ]
    save_pie_tree(account=account, tree=tree, version=2)
    top.refresh_from_db()
    assert top.status == "removing"
    return top, inner


def moving_in(inner: Slice, bonds: Slice) -> dict:
    return {
        "slices": [
            {"target_percent": "50", "id": inner.pk, "symbol": "VTI"},
            {
                "target_percent": "50",
                "id": bonds.pk,
                "pie": {"name": "Bonds", "slices": [{"target_percent": "100", "symbol": "BND"}]},
            },
        ]
    }


MOVE_REFUSED = (
    "VTI is still being sold from this pie (it is removing until the next window). Add it "
    "back here instead, or move this slice after the window."
)


def test_moving_a_slice_onto_a_pie_where_its_security_is_removing_is_refused(
    alice_account, universe
):
    top, inner = two_vtis(alice_account)
    bonds = Slice.objects.get(pie__account=alice_account, child_pie__name="Bonds")
    before = list(Slice.objects.order_by("id").values_list("id", "pie_id", "status", "target_bp"))

    with pytest.raises(PieValidationError) as refused:
        save_pie_tree(account=alice_account, tree=moving_in(inner, bonds), version=3)

    assert refused.value.errors == {"slices.0.symbol": [MOVE_REFUSED]}
    assert list(
        Slice.objects.order_by("id").values_list("id", "pie_id", "status", "target_bp")
    ) == (before)
    # Adding it back where it is removing is the way (it cancels the removal).
    back = moving_in(inner, bonds)
    back["slices"][0] = {"target_percent": "50", "symbol": "VTI"}
    back["slices"][1]["pie"]["slices"] = [
        {"target_percent": "50", "id": inner.pk, "symbol": "VTI"},
        {"target_percent": "50", "symbol": "BND"},
    ]
    save_pie_tree(account=alice_account, tree=back, version=3)
    top.refresh_from_db()
    assert top.status == "active"


def test_the_api_refuses_that_move_with_a_field_error_not_a_500(alice_account, universe, alice):
    from tests.api.conftest import client_for

    _, inner = two_vtis(alice_account)
    bonds = Slice.objects.get(pie__account=alice_account, child_pie__name="Bonds")
    answer = client_for(alice).put(
        f"/api/v1/accounts/{alice_account.pk}/pie/",
        {**moving_in(inner, bonds), "name": "Portfolio", "version": 3},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json() == {"slices.0.symbol": [MOVE_REFUSED]}


def test_a_move_onto_an_unheld_slice_of_the_same_security_left_out_replaces_it(
    alice_account, universe
):
    save_pie_tree(
        account=alice_account,
        tree={
            "slices": [
                {"target_percent": "50", "symbol": "VTI"},
                {
                    "target_percent": "50",
                    "pie": {
                        "name": "Bonds",
                        "slices": [{"target_percent": "100", "symbol": "VTI"}],
                    },
                },
            ]
        },
        version=1,
    )
    top, inner = Slice.objects.filter(pie__account=alice_account, security__symbol="VTI").order_by(
        "pie__is_root"
    )[::-1]
    give_shares(inner, "2")
    bonds = Slice.objects.get(pie__account=alice_account, child_pie__name="Bonds")
    save_pie_tree(account=alice_account, tree=moving_in(inner, bonds), version=2)
    top.refresh_from_db()
    inner.refresh_from_db()
    assert top.status == "removed"
    assert (inner.pie.is_root, inner.status, inner.position.quantity) == (True, "active", 2)


def test_removing_a_slice_with_shares_marks_it_removing_and_queues_a_removal(
    alice_account, universe
):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    vti = leaf_slice(alice_account, "VTI")
    give_shares(vti, "3")
    without_vti = {"slices": [{"target_percent": "100", "pie": NESTED["slices"][1]["pie"]}]}
    save_pie_tree(account=alice_account, tree=without_vti, version=2)
    vti.refresh_from_db()
    assert (vti.status, vti.target_bp) == ("removing", 0)
    removal = Intent.objects.get(account=alice_account, kind="removal")
    assert removal.slice_id == vti.pk and removal.status == "pending"
    tree = load_portfolio(alice_account)
    assert [(s.path, s.status) for s in tree.root.slices] == [
        ("VTI", "removing"),
        ("Bonds", "active"),
    ]

    # Adding it back before the window cancels the removal.
    save_pie_tree(account=alice_account, tree=NESTED, version=3)
    vti.refresh_from_db()
    removal.refresh_from_db()
    assert vti.status == "active" and vti.target_bp == 6000
    assert removal.status == "cancelled"


def test_removing_a_slice_without_shares_drops_it_but_keeps_the_row(alice_account, universe):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    vti = leaf_slice(alice_account, "VTI")
    save_pie_tree(
        account=alice_account,
        tree={"slices": [{"target_percent": "100", "symbol": "BND"}]},
        version=2,
    )
    vti.refresh_from_db()
    assert vti.status == "removed"
    assert not Intent.objects.filter(account=alice_account).exists()
    assert [s.path for s in load_portfolio(alice_account).leaves] == ["BND"]
    # the security can be added again, as a new slice
    save_pie_tree(account=alice_account, tree=NESTED, version=3)
    assert leaf_slice(alice_account, "VTI").pk != vti.pk


def test_a_vanished_sub_pie_with_shares_is_removed_whole(alice_account, universe):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    give_shares(leaf_slice(alice_account, "TIP"), "2")
    save_pie_tree(
        account=alice_account,
        tree={"slices": [{"target_percent": "100", "symbol": "VTI"}]},
        version=2,
    )
    bonds = Slice.objects.get(pie__account=alice_account, child_pie__name="Bonds")
    assert bonds.status == "removing"
    assert Intent.objects.get(kind="removal").slice_id == bonds.pk
    # BND held nothing, but it stays under the removing sub-pie until the window sells it.
    assert [s.path for s in load_portfolio(alice_account).leaves] == [
        "VTI",
        "Bonds/BND",
        "Bonds/TIP",
    ]


def test_export_then_import_round_trips(alice_account, bob_account, universe):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    exported = export_pie(account=alice_account)
    assert exported == {
        "format": "pies/1",
        "name": "Core",
        "slices": [
            {"target_percent": "60.00", "symbol": "VTI"},
            {
                "target_percent": "40.00",
                "pie": {
                    "name": "Bonds",
                    "slices": [
                        {"target_percent": "70.00", "symbol": "BND"},
                        {"target_percent": "30.00", "symbol": "TIP"},
                    ],
                },
            },
        ],
    }
    import_pie(account=bob_account, data=exported, version=1)
    assert export_pie(account=bob_account) == exported
    with pytest.raises(PieValidationError):
        import_pie(account=bob_account, data={"name": "x"}, version=2)


def test_values_come_from_the_latest_prices(alice_account, universe, make_security):
    save_pie_tree(account=alice_account, tree=NESTED, version=1)
    give_shares(leaf_slice(alice_account, "VTI"), "7", cost="60.00")
    give_shares(leaf_slice(alice_account, "BND"), "3", cost="30.00")
    make_security("VTI", "12.50")  # a newer price
    portfolio = load_portfolio(alice_account)
    vti, bnd, tip = portfolio.leaves
    assert vti.value == Decimal("87.50") and vti.unrealized_gain == Decimal("27.50")
    assert bnd.value == Decimal("30.00") and tip.value == Decimal("0")
    assert portfolio.invested_value == Decimal("117.50")
    bonds = portfolio.root.slices[1]
    assert bonds.actual_percent == Decimal("25.53") and bonds.drift_percent == Decimal("-14.47")


def test_loading_a_portfolio_takes_the_same_queries_whatever_its_size(alice_account, make_security):
    def tree_of(n: int, levels: int) -> dict:
        symbols = [f"Q{i:02d}" for i in range(n)]
        for s in symbols:
            make_security(s, "10.00")
        slices = [{"target_percent": str(Decimal(100) / n), "symbol": s} for s in symbols]
        for level in range(levels - 1):
            slices = [{"target_percent": "100", "pie": {"name": f"L{level}", "slices": slices}}]
        return {"slices": slices}

    counts = []
    for version, (n, levels) in enumerate([(5, 1), (50, 3)], start=1):
        save_pie_tree(account=alice_account, tree=tree_of(n, levels), version=version)
        with CaptureQueriesContext(connection) as queries:
            portfolio = load_portfolio(alice_account)
        assert len(portfolio.leaves) == n
        counts.append(len(queries))
    # The tree with its latest prices, positions and open cost: one statement.
    assert counts == [1, 1]
