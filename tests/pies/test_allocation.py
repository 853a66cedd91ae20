"""Edge cases of the money rules (allocation.md), one branch at a time."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pies.allocation import (
    Node,
    allocate_buy,
    allocate_sell,
    buy_rows,
    leaf,
    pie,
    pie_value,
    rebalance,
    rebalance_rows,
    sell_rows,
)

D = Decimal


def amounts(allocation: object) -> dict[str, str]:
    return {key: str(value) for key, value in allocation.amounts.items()}  # type: ignore[attr-defined]


def test_a_pie_is_worth_the_sum_of_its_leaves_whatever_value_it_is_given() -> None:
    bonds = Node("Bonds", 4000, D("999"), (leaf("Bonds/BND", 10_000, "12.345"),), True)
    root = pie("", 10_000, [leaf("VTI", 6000, "100.00"), bonds])
    assert pie_value(bonds) == D("12.345")
    assert pie_value(root) == D("112.345")


def test_drops_cascade_until_every_buy_reaches_the_minimum() -> None:
    # 2.40 split 50/30/20 into an empty pie: 1.20, 0.72, 0.48 -> drop C (0.48), then
    # 1.50/0.90 -> drop B, then A takes it all.
    root = pie("", 10_000, [leaf("A", 5000, "0"), leaf("B", 3000, "0"), leaf("C", 2000, "0")])
    allocation = allocate_buy(root, D("2.40"))
    assert amounts(allocation) == {"A": "2.40"}
    explanation = allocation.explanations["A"]
    assert explanation.dropped == ("B", "C")
    assert explanation.level == D("4.80")  # A's 50 % at 2.40: an implied pie value of 4.80


def test_equal_small_buys_drop_the_later_slice_first() -> None:
    root = pie("", 10_000, [leaf("A", 5000, "0"), leaf("B", 5000, "0")])
    allocation = allocate_buy(root, D("1.50"))
    assert amounts(allocation) == {"A": "1.50"}
    assert allocation.explanations["A"].dropped == ("B",)


def test_an_amount_below_the_minimum_buys_nothing_and_zero_buys_nothing() -> None:
    root = pie("", 10_000, [leaf("A", 10_000, "0")])
    assert allocate_buy(root, D("0.99")).amounts == {}
    assert allocate_buy(root, D("0")).amounts == {}
    assert allocate_buy(root, D("0.99"), minimum=D("0.50")).amounts == {"A": D("0.99")}


def test_a_pie_with_only_removing_slices_buys_nothing() -> None:
    root = pie("", 10_000, [leaf("OLD", 0, "10")])
    assert allocate_buy(root, D("100")).amounts == {}


def test_slices_with_target_zero_are_never_bought() -> None:
    root = pie("", 10_000, [leaf("A", 10_000, "500"), leaf("OLD", 0, "0")])
    assert amounts(allocate_buy(root, D("100.00"))) == {"A": "100.00"}


def test_a_sub_pie_that_would_receive_under_a_dollar_is_dropped_like_a_security() -> None:
    bonds = pie("Bonds", 1000, [leaf("Bonds/BND", 5000, "0"), leaf("Bonds/TIP", 5000, "0")])
    root = pie("", 10_000, [leaf("VTI", 9000, "0"), bonds])
    allocation = allocate_buy(root, D("5.00"))  # Bonds would get 0.50
    assert amounts(allocation) == {"VTI": "5.00"}
    assert allocation.explanations["VTI"].dropped == ("Bonds",)


def test_a_sub_pie_receiving_a_dollar_invests_it_in_one_child_when_a_split_is_too_small() -> None:
    bonds = pie("Bonds", 5000, [leaf("Bonds/BND", 5000, "0"), leaf("Bonds/TIP", 5000, "0")])
    root = pie("", 10_000, [leaf("VTI", 5000, "0"), bonds])
    allocation = allocate_buy(root, D("2.50"))  # Bonds gets 1.25: 0.63 / 0.62 inside
    assert amounts(allocation) == {"VTI": "1.25", "Bonds/BND": "1.25"}
    explanation = allocation.explanations["Bonds/BND"]
    assert explanation.dropped == ("Bonds/TIP",)
    assert [step["pie"] for step in explanation.steps] == ["", "Bonds"]
    assert explanation.steps[0]["amount"] == "1.25"


def test_leftover_cents_go_to_the_largest_remainders() -> None:
    root = pie("", 10_000, [leaf("A", 3000, "0"), leaf("B", 3000, "0"), leaf("C", 4000, "0")])
    # 10.01: 3.003, 3.003, 4.004 -> floors 3.00, 3.00, 4.00 and one leftover cent to C
    assert amounts(allocate_buy(root, D("10.01"))) == {"A": "3.00", "B": "3.00", "C": "4.01"}


def test_a_slice_exactly_at_the_level_gets_nothing_and_has_no_explanation() -> None:
    # A is already at the level the deposit reaches: rho 2000 == (100 + 1900) / 1.
    root = pie("", 10_000, [leaf("A", 5000, "1000"), leaf("B", 5000, "900")])
    allocation = allocate_buy(root, D("100.00"))
    assert amounts(allocation) == {"B": "100.00"}
    assert list(allocation.explanations) == ["B"]


def test_a_buy_uses_values_with_more_than_two_decimals_exactly() -> None:
    # Exactly: 5.00265 and 5.00745, so B has the larger remainder. With values floored to
    # cents both would be 5.005 and the tie would give the cent to A.
    root = pie("", 10_000, [leaf("A", 5000, "10.0049"), leaf("B", 5000, "10.0001")])
    assert amounts(allocate_buy(root, D("10.01"))) == {"A": "5.00", "B": "5.01"}


def test_a_sell_smaller_than_the_removing_slices_sells_them_in_proportion() -> None:
    root = pie(
        "",
        10_000,
        [leaf("A", 10_000, "1000"), leaf("OLD1", 0, "300"), leaf("OLD2", 0, "100")],
    )
    allocation = allocate_sell(root, D("100.00"))
    assert amounts(allocation) == {"OLD1": "75.00", "OLD2": "25.00"}
    assert allocation.explanations["OLD1"].rho_before is None
    assert allocation.explanations["OLD1"].level is None


def test_a_tiny_proportional_sell_of_removing_slices_skips_a_zero_cent_part() -> None:
    root = pie("", 10_000, [leaf("A", 10_000, "10"), leaf("OLD1", 0, "300"), leaf("OLD2", 0, "1")])
    assert amounts(allocate_sell(root, D("0.01"))) == {"OLD1": "0.01"}


def test_a_tiny_sell_skips_children_whose_share_rounds_to_zero() -> None:
    root = pie("", 10_000, [leaf("A", 9000, "900"), leaf("B", 1000, "100")])
    assert amounts(allocate_sell(root, D("0.01"))) == {"A": "0.01"}


def test_a_removing_sub_pie_is_sold_first_and_split_inside_by_its_own_targets() -> None:
    old = pie("Old", 0, [leaf("Old/X", 5000, "60"), leaf("Old/Y", 5000, "40")])
    root = pie("", 10_000, [leaf("A", 10_000, "1000"), old])
    allocation = allocate_sell(root, D("50.00"))
    assert amounts(allocation) == {"Old/X": "35.00", "Old/Y": "15.00"}  # water-fill inside
    allocation = allocate_sell(root, D("150.00"))
    assert amounts(allocation) == {"A": "50.00", "Old/X": "60.00", "Old/Y": "40.00"}
    assert allocation.explanations["Old/X"].steps[0]["rho_before"] is None


def test_a_removing_sub_pie_is_never_bought() -> None:
    old = pie("Old", 0, [leaf("Old/X", 10_000, "0")])
    root = pie("", 10_000, [leaf("A", 10_000, "0"), old])
    assert amounts(allocate_buy(root, D("10.00"))) == {"A": "10.00"}


def test_a_withdrawal_of_everything_sells_each_leaf_its_floored_value() -> None:
    root = pie("", 10_000, [leaf("A", 5000, "10.019"), leaf("B", 5000, "0"), leaf("C", 0, "5")])
    allocation = allocate_sell(root, D("1000.00"))
    assert amounts(allocation) == {"A": "10.01", "C": "5.00"}
    assert allocate_sell(root, D("0")).amounts == {}


def test_the_sell_level_is_recorded_as_an_implied_pie_value() -> None:
    root = pie("", 10_000, [leaf("A", 5000, "600"), leaf("B", 5000, "400")])
    explanation = allocate_sell(root, D("100.00")).explanations["A"]
    assert explanation.rho_before == D("1200.00")
    assert explanation.level == D("1000.00")


def test_rebalancing_a_sub_pie_keeps_full_leaf_paths() -> None:
    bonds = pie("Bonds", 4000, [leaf("Bonds/BND", 7000, "2000"), leaf("Bonds/TIP", 3000, "1000")])
    root = pie("", 10_000, [leaf("VTI", 6000, "7000"), bonds])
    result = rebalance(bonds)
    assert {k: str(v) for k, v in result.targets.items()} == {
        "Bonds/BND": "2100.00",
        "Bonds/TIP": "900.00",
    }
    assert {k: str(v) for k, v in result.orders.items()} == {
        "Bonds/BND": "100.00",
        "Bonds/TIP": "-100.00",
    }
    assert set(rebalance(root).orders) == {"VTI", "Bonds/BND", "Bonds/TIP"}


def test_rebalancing_with_extra_cash_raises_every_target() -> None:
    root = pie("", 10_000, [leaf("A", 5000, "500"), leaf("B", 5000, "500")])
    result = rebalance(root, extra_cash=D("100.00"))
    assert {k: str(v) for k, v in result.targets.items()} == {"A": "550.00", "B": "550.00"}
    assert {k: str(v) for k, v in result.orders.items()} == {"A": "50.00", "B": "50.00"}
    assert result.explanations["A"].rule == "rebalance"
    assert result.explanations["A"].level == D("1100.00")


def test_rebalancing_sells_a_removing_slice_down_to_its_sellable_value() -> None:
    root = pie(
        "", 10_000, [leaf("A", 10_000, "500"), leaf("OLD", 0, "100.456"), leaf("DUST", 0, "0.5")]
    )
    result = rebalance(root)
    assert {k: str(v) for k, v in result.orders.items()} == {"A": "100.95", "OLD": "-100.45"}
    assert result.targets["DUST"] == D("0.00")
    assert result.explanations["OLD"].rho_before is None


def test_an_explanation_is_json_serialisable() -> None:
    root = pie(
        "",
        10_000,
        [leaf("VTI", 6000, "7000"), pie("Bonds", 4000, [leaf("Bonds/BND", 10_000, "2000")])],
    )
    allocation = allocate_buy(root, D("1000.00"), rule="dividend")
    data = allocation.explanations["Bonds/BND"].as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["rule"] == "dividend"
    assert data["rho_before"] == "2000.00"
    assert data["steps"][0] == {
        "pie": "",
        "child": "Bonds",
        "amount": "1000.00",
        "rho_before": "5000.00",
        "level": "7500.00",
    }
    sold = allocate_sell(pie("", 10_000, [leaf("OLD", 0, "5")]), D("5"), rule="removal")
    data = sold.explanations["OLD"].as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["rho_before"] is None and data["level"] is None
    assert data["rule"] == "removal"


def deep_pie(depth: int, leaves: int, key: str = "") -> Node:
    """A chain of sub-pies ``depth`` levels deep, with leaves spread over every level."""
    prefix = f"{key}/" if key else ""
    here = leaves // depth if depth > 1 else leaves
    children = [leaf(f"{prefix}S{i}", 0, str(100 + i)) for i in range(here)]
    if depth > 1:
        children.append(deep_pie(depth - 1, leaves - here, f"{prefix}P"))
    count = len(children)
    weighted = [
        Node(
            c.key,
            10_000 // count + (10_000 % count if i == 0 else 0),
            c.value,
            c.children,
            c.is_pie,
        )
        for i, c in enumerate(children)
    ]
    return pie(key, 10_000, weighted)


def test_a_pie_five_levels_deep_with_a_hundred_leaves_is_split_exactly() -> None:
    root = deep_pie(5, 100)
    assert len(root.children) == 21
    assert allocate_buy(root, D("12345.67")).total == D("12345.67")
    assert allocate_sell(root, D("2345.67")).total == D("2345.67")
    everything = allocate_sell(root, D("1000000"))
    assert everything.total == pie_value(root)
    assert len(everything.amounts) == 100
    result = rebalance(root, extra_cash=D("1000"))
    assert len(result.targets) == 100
    assert len(result.explanations["P/P/P/P/S0"].steps) == 5


# --- The row entry (the window's way in): tuples of ints, cents out ------------------------


def test_a_flat_pie_from_rows_gives_cents_per_row_like_the_node_api() -> None:
    rows = [(1, 3000, 0, None), (1, 3000, 0, None), (1, 4000, 0, None)]
    split = buy_rows(rows, 1001, root=1)
    assert split.amounts == {0: 300, 1: 300, 2: 401}  # the leftover cent to the largest remainder
    assert split.explain(2, ["A", "B", "C"], "deposit") == {
        "rule": "deposit",
        "rho_before": "0.00",
        "level": "10.01",
        "dropped": [],
        "steps": [
            {"pie": "", "child": "C", "amount": "4.01", "rho_before": "0.00", "level": "10.01"}
        ],
    }


def test_rows_values_with_more_decimals_are_exact_at_their_scale() -> None:
    # The Node test above (10.0049 / 10.0001), at 4 decimals: B has the larger remainder.
    rows = [(0, 5000, 100_049, None), (0, 5000, 100_001, None)]
    assert buy_rows(rows, 1001, scale=4).amounts == {0: 500, 1: 501}
    # Sells work on each leaf's value floored to cents: 10.00 and 10.00, not 20.0050.
    assert sell_rows(rows, 10_000, scale=4).amounts == {0: 1000, 1: 1000}


def test_nested_rows_in_any_order_split_by_pie_and_explain_each_level() -> None:
    keys = ["Bonds/BND", "VTI", "Bonds", "Bonds/TIP"]
    rows = [(2, 5000, 0, None), (1, 5000, 0, None), (1, 5000, 0, 2), (2, 5000, 0, None)]
    split = buy_rows(rows, 250, root=1)
    assert split.amounts == {1: 125, 0: 125}  # tree order: VTI, then inside Bonds
    explanation = split.explain(0, keys, "deposit")
    assert explanation["dropped"] == ["Bonds/TIP"]
    assert [step["pie"] for step in explanation["steps"]] == ["", "Bonds"]
    assert explanation["steps"][0]["amount"] == "1.25"


def test_rows_split_a_sub_pie_alone_when_it_is_the_root() -> None:
    rows = [(1, 10_000, 5_000, None), (1, 0, 0, 2), (2, 6000, 0, None), (2, 4000, 0, None)]
    assert buy_rows(rows, 1000, root=2).amounts == {2: 600, 3: 400}
    assert sell_rows(rows, 100, root=1).amounts == {0: 100}  # the removing sub-pie holds nothing
    assert buy_rows([], 1000).amounts == {} and sell_rows([], 1000).amounts == {}


def test_rebalance_rows_gives_targets_orders_and_explanations() -> None:
    keys = ["VTI", "Bonds", "Bonds/BND", "Bonds/TIP"]
    rows = [(0, 6000, 700_000, None), (0, 4000, 0, 1), (1, 7000, 200_000, None)]
    rows.append((1, 3000, 100_000, None))
    result = rebalance_rows(rows)
    assert result.targets == {0: 600_000, 2: 280_000, 3: 120_000}
    assert result.orders == {0: -100_000, 2: 80_000, 3: 20_000}
    steps = result.explain(2, keys)["steps"]
    assert steps[0] == {
        "pie": "",
        "child": "Bonds",
        "amount": "1000.00",
        "rho_before": "7500.00",
        "level": "10000.00",
    }
    assert steps[1]["amount"] == "800.00"


def test_rows_values_are_at_least_cents() -> None:
    with pytest.raises(ValueError, match="at least 2 decimals"):
        buy_rows([(0, 10_000, 5, None)], 100, scale=1)


def test_a_funded_slice_whose_share_floors_to_zero_cents_gets_no_order() -> None:
    # B (9.999) is just under the level: its share is 0.0005 and the leftover cent goes to A.
    root = pie("", 10_000, [leaf("A", 5000, "0"), leaf("B", 5000, "9.999")])
    allocation = allocate_buy(root, D("10.00"))
    assert amounts(allocation) == {"A": "10.00"}
    assert list(allocation.explanations) == ["A"]
    rows = [(0, 5000, 0, None), (0, 5000, 9999, None)]
    assert buy_rows(rows, 1000, scale=3).amounts == {0: 1000}


def test_rows_with_nothing_to_split_give_nothing() -> None:
    rows = [(0, 5000, 0, None), (0, 5000, 0, None)]
    assert buy_rows(rows, 0).amounts == {}
    assert sell_rows(rows, 1000).amounts == {}  # nothing held
    near = rebalance_rows([(0, 5000, 10_050, None), (0, 5000, 9_950, None)])
    assert near.targets == {0: 10_000, 1: 10_000}
    assert near.orders == {}  # 0.50 off either way: left alone


def test_a_sell_skips_slices_that_hold_nothing() -> None:
    root = pie("", 10_000, [leaf("A", 5000, "100"), leaf("B", 5000, "0")])
    assert amounts(allocate_sell(root, D("10.00"))) == {"A": "10.00"}
    assert sell_rows([(0, 5000, 10_000, None), (0, 5000, 0, None)], 1000).amounts == {0: 1000}
