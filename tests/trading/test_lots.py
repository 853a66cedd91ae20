"""Lot methods and realized gains (product.md, "Lots, gains and taxes")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from trading.lots import METHODS, OpenLot, consume_lots, order_lots, term_of

D = Decimal
SOLD_ON = date(2025, 6, 1)
PRICE = D("110")  # the window price the sells below are ranked at

# Sold at 110.00 on 2025-06-01:
#   id  acquired    per share  gain  term
#   1   2024-01-10  100        +10   long
#   2   2025-05-01  120        -10   short
#   3   2024-03-01  130        -20   long
#   4   2025-04-01   90        +20   short
#   5   2025-04-01  110          0   short  (same day as 4)
#   6   2024-02-01  110          0   long
LOTS = [
    OpenLot(1, date(2024, 1, 10), D("10"), D("1000.00")),
    OpenLot(2, date(2025, 5, 1), D("10"), D("1200.00")),
    OpenLot(3, date(2024, 3, 1), D("10"), D("1300.00")),
    OpenLot(4, date(2025, 4, 1), D("10"), D("900.00")),
    OpenLot(5, date(2025, 4, 1), D("5"), D("550.00")),
    OpenLot(6, date(2024, 2, 1), D("5"), D("550.00")),
    OpenLot(7, date(2020, 1, 1), D("0"), D("0.00")),  # closed: never consumed
]


def ids(lots: list[OpenLot]) -> list[int]:
    return [lot.id for lot in lots]


def test_a_lot_becomes_long_term_the_day_after_its_first_anniversary() -> None:
    assert term_of(date(2025, 3, 10), date(2026, 3, 10)) == "short"
    assert term_of(date(2025, 3, 10), date(2026, 3, 11)) == "long"


def test_the_anniversary_of_february_29_is_february_28() -> None:
    assert term_of(date(2024, 2, 29), date(2025, 2, 28)) == "short"
    assert term_of(date(2024, 2, 29), date(2025, 3, 1)) == "long"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("tax_min", [2, 3, 5, 6, 1, 4]),
        ("fifo", [1, 6, 3, 4, 5, 2]),
        ("lifo", [2, 4, 5, 3, 6, 1]),
        ("hifo", [3, 2, 6, 5, 1, 4]),
    ],
)
def test_each_method_orders_the_open_lots(method: str, expected: list[int]) -> None:
    assert method in METHODS
    assert ids(order_lots(LOTS, method=method, price=D("110"), sold_on=SOLD_ON)) == expected


def test_tax_min_takes_the_largest_loss_and_the_smallest_gain_first() -> None:
    lots = [
        OpenLot(1, date(2025, 1, 1), D("1"), D("120")),  # short loss 10
        OpenLot(2, date(2025, 1, 2), D("1"), D("140")),  # short loss 30
        OpenLot(3, date(2023, 1, 1), D("1"), D("50")),  # long gain 50
        OpenLot(4, date(2023, 1, 2), D("1"), D("90")),  # long gain 10
        OpenLot(5, date(2025, 1, 3), D("1"), D("99")),  # short gain 1
        OpenLot(6, date(2025, 1, 4), D("1"), D("60")),  # short gain 40
    ]
    ordered = order_lots(lots, method="tax_min", price=D("100"), sold_on=SOLD_ON)
    assert ids(ordered) == [2, 1, 4, 3, 5, 6]


def test_equal_ranks_go_to_the_earlier_acquisition_then_the_lower_id() -> None:
    lots = [
        OpenLot(9, date(2025, 1, 1), D("2"), D("240.00")),
        OpenLot(8, date(2025, 1, 1), D("10"), D("1200.00")),
        OpenLot(7, date(2024, 12, 1), D("1"), D("120.00")),
    ]
    for method in METHODS:
        ordered = order_lots(lots, method=method, price=D("100"), sold_on=SOLD_ON)
        assert ids(ordered) == ([8, 9, 7] if method == "lifo" else [7, 8, 9])


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown lot method 'random'"):
        order_lots(LOTS, method="random", price=D("1"), sold_on=SOLD_ON)


def test_a_sell_consumes_lots_in_order_and_splits_cost_and_proceeds() -> None:
    consumptions = consume_lots(
        LOTS, quantity=D("12"), proceeds=D("1320.00"), price=PRICE, method="fifo", sold_on=SOLD_ON
    )
    assert [(c.lot_id, c.quantity, c.proceeds, c.cost, c.gain, c.term) for c in consumptions] == [
        (1, D("10"), D("1100.00"), D("1000.00"), D("100.00"), "long"),
        (6, D("2"), D("220.00"), D("220.00"), D("0.00"), "long"),
    ]
    assert consumptions[1].acquired_on == date(2024, 2, 1)


def test_a_sell_ranks_lots_at_the_window_price() -> None:
    # At 110.00 lot 2 is the largest short-term loss.
    consumptions = consume_lots(
        LOTS, quantity=D("1"), proceeds=D("110.00"), price=PRICE, method="tax_min", sold_on=SOLD_ON
    )
    assert [(c.lot_id, c.cost, c.gain, c.term) for c in consumptions] == [
        (2, D("120.00"), D("-10.00"), "short")
    ]


def test_a_lot_bought_at_the_window_price_ranks_as_zero_gain_whatever_the_proceeds() -> None:
    # The sell raised a cent less than 110.00 a share (rounding, or a fill below w). Ranked at
    # the proceeds, lot 5 (bought at 110.00) would be a short-term loss of 0.002 a share and go
    # first; at the window price it is a zero gain, after lot 3's long-term loss.
    lots = [LOTS[2], LOTS[4]]
    consumptions = consume_lots(
        lots, quantity=D("5"), proceeds=D("549.99"), price=PRICE, method="tax_min", sold_on=SOLD_ON
    )
    assert [(c.lot_id, c.quantity, c.proceeds) for c in consumptions] == [(3, D("5"), D("549.99"))]
    assert consumptions[0].gain == D("549.99") - D("650.00")  # realized at the actual proceeds


def test_a_partly_consumed_lot_costs_its_share_rounded_half_up_and_the_last_portion_the_rest() -> (
    None
):
    lot = OpenLot(1, date(2025, 1, 1), D("3"), D("100.00"))
    first = consume_lots(
        [lot], quantity=D("2"), proceeds=D("50.00"), price=PRICE, method="fifo", sold_on=SOLD_ON
    )
    assert first[0].cost == D("66.67")  # 66.666... half-up
    rest = OpenLot(1, date(2025, 1, 1), D("1"), lot.remaining_cost - first[0].cost)
    last = consume_lots(
        [rest], quantity=D("1"), proceeds=D("25.00"), price=PRICE, method="fifo", sold_on=SOLD_ON
    )
    assert last[0].cost == D("33.33")
    assert first[0].cost + last[0].cost == lot.remaining_cost
    half = OpenLot(2, date(2025, 1, 1), D("2"), D("0.01"))
    assert consume_lots(
        [half], quantity=D("1"), proceeds=D("1.00"), price=PRICE, method="fifo", sold_on=SOLD_ON
    )[0].cost == D("0.01")  # 0.005 rounds half-up


def test_the_proceeds_split_over_lots_sums_exactly_to_the_sell() -> None:
    lots = [
        OpenLot(1, date(2025, 1, 1), D("1"), D("10.00")),
        OpenLot(2, date(2025, 1, 2), D("1"), D("10.00")),
        OpenLot(3, date(2025, 1, 3), D("1"), D("10.00")),
    ]
    consumptions = consume_lots(
        lots, quantity=D("3"), proceeds=D("100.00"), price=PRICE, method="fifo", sold_on=SOLD_ON
    )
    # 100.00 / 3 = 33.33; then 66.67 / 2 = 33.335 -> 33.34; the last takes 33.33
    assert [c.proceeds for c in consumptions] == [D("33.33"), D("33.34"), D("33.33")]
    assert sum(c.proceeds for c in consumptions) == D("100.00")
    assert [c.cost for c in consumptions] == [D("10.00")] * 3


def test_no_proceeds_portion_goes_negative_when_several_round_up() -> None:
    # Splitting on the original total would give 0.01, 0.01, 0.01 and then -0.01.
    lots = [OpenLot(i, date(2025, 1, i), D("1"), D("1.00")) for i in range(1, 5)]
    consumptions = consume_lots(
        lots, quantity=D("4"), proceeds=D("0.02"), price=PRICE, method="fifo", sold_on=SOLD_ON
    )
    assert [c.proceeds for c in consumptions] == [D("0.01"), D("0.00"), D("0.01"), D("0.00")]
    assert all(c.proceeds >= 0 for c in consumptions)


def test_fractional_quantities_split_the_proceeds_half_up() -> None:
    lots = [
        OpenLot(1, date(2025, 1, 1), D("0.333333"), D("3.33")),
        OpenLot(2, date(2025, 1, 2), D("1.5"), D("15.00")),
    ]
    consumptions = consume_lots(
        lots,
        quantity=D("1.000001"),
        proceeds=D("10.01"),
        price=PRICE,
        method="fifo",
        sold_on=SOLD_ON,
    )
    assert [c.quantity for c in consumptions] == [D("0.333333"), D("0.666668")]
    # 10.01 * 0.333333 / 1.000001 = 3.33666..., half-up 3.34; the last takes 6.67
    assert [c.proceeds for c in consumptions] == [D("3.34"), D("6.67")]
    assert consumptions[1].cost == D("6.67")  # 15.00 * 0.666668 / 1.5 = 6.66668


def test_selling_more_than_the_lots_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="the lots hold 50"):
        consume_lots(
            LOTS, quantity=D("51"), proceeds=D("1"), price=PRICE, method="fifo", sold_on=SOLD_ON
        )
    with pytest.raises(ValueError, match="positive quantity"):
        consume_lots(
            LOTS, quantity=D("0"), proceeds=D("0"), price=PRICE, method="fifo", sold_on=SOLD_ON
        )
