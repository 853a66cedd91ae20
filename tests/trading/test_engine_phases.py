"""The pure phases of the window engine, directly: plain data in, rows out, no database.

Net (``trading/window/net.py``): a block per security, its buys and sells crossed internally,
only the difference going to the broker. Allocate (``trading/window/allocate.py``): one
account's fills, sells first, then withdrawals, then buys (product.md, Net and Allocate).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.lots import OpenLot
from trading.window.allocate import OrderRow, Settlement, Withdrawal
from trading.window.common import SystemAccounts
from trading.window.net import Block, blocks_from_rows

D = Decimal
ACCOUNT = 100
SYSTEM = SystemAccounts(house=1, external=2, clearing=3)
SOLD_ON = date(2026, 3, 2)
WINDOW = 9

# --- Net ------------------------------------------------------------------------------------


def block(buy: str, sell: str) -> Block:
    return Block(1, "VTI", D("10.00"), buy_quantity=D(buy), sell_quantity=D(sell))


@pytest.mark.parametrize(
    ("buy", "sell", "crossed", "side", "net"),
    [
        ("5.000000", "2.500000", "2.500000", "buy", "2.500000"),
        ("1.000000", "3.250000", "1.000000", "sell", "2.250000"),
        ("4.000001", "4.000001", "4.000001", "", "0.000000"),
        ("7.000000", "0", "0", "buy", "7.000000"),
        ("0", "0.000001", "0", "sell", "0.000001"),
        ("0", "0", "0", "", "0"),
    ],
)
def test_a_block_crosses_the_smaller_side_and_nets_the_rest(buy, sell, crossed, side, net):
    netted = block(buy, sell)
    assert netted.crossed == D(crossed)
    assert netted.net_side == side
    assert netted.net_quantity == D(net)


quantities = st.integers(0, 10**14).map(lambda n: D(n).scaleb(-6))


@given(quantities, quantities)
def test_crossed_plus_net_covers_the_larger_side_and_the_net_goes_its_way(buy, sell):
    netted = Block(1, "VTI", D("10.00"), buy_quantity=buy, sell_quantity=sell)
    assert netted.crossed + netted.net_quantity == max(buy, sell)
    assert netted.crossed <= min(buy, sell)
    # What the broker trades on one side plus what was crossed is exactly that side's total.
    bought = netted.crossed + (netted.net_quantity if netted.net_side == "buy" else 0)
    sold = netted.crossed + (netted.net_quantity if netted.net_side == "sell" else 0)
    assert (bought, sold) == (buy, sell)


def test_blocks_from_rows_sums_each_security_and_side_and_counts_the_orders():
    rows = [
        (7, "buy", D("3.000000"), 2),
        (7, "sell", D("1.250000"), 1),
        (4, "sell", D("0.500000"), 3),
        (7, "buy", D("0.000001"), 1),  # a side seen again adds up
    ]
    blocks = blocks_from_rows(
        rows, symbols={4: "BND", 7: "VTI"}, prices={4: D("72.1000"), 7: D("250.5000")}
    )
    assert [(b.security_id, b.symbol, b.window_price) for b in blocks] == [
        (7, "VTI", D("250.5000")),
        (4, "BND", D("72.1000")),
    ]
    vti, bnd = blocks
    assert (vti.buy_quantity, vti.sell_quantity, vti.orders) == (D("3.000001"), D("1.25"), 4)
    assert (vti.crossed, vti.net_side, vti.net_quantity) == (D("1.25"), "buy", D("1.750001"))
    assert (bnd.buy_quantity, bnd.sell_quantity, bnd.orders) == (D("0"), D("0.5"), 3)
    assert (bnd.net_side, bnd.net_quantity) == ("sell", D("0.5"))


def test_blocks_from_no_rows_is_no_blocks():
    assert blocks_from_rows([], symbols={}, prices={}) == []


# --- Allocate -------------------------------------------------------------------------------


def sell(order_id: int, quantity: str, *, security: int = 1, position: int = 11) -> OrderRow:
    return OrderRow(order_id, ACCOUNT, position, security, "sell", D("0"), D(quantity))


def buy(order_id: int, amount: str, *, security: int = 1, position: int = 11) -> OrderRow:
    return OrderRow(order_id, ACCOUNT, position, security, "buy", D(amount), D("0"))


def settle(
    *,
    cash: str = "0",
    orders: Sequence[OrderRow] = (),
    withdrawals: Sequence[Withdrawal] = (),
    lots: dict[int, list[OpenLot]] | None = None,
    prices: dict[int, tuple[str, str]] | None = None,
    lot_method: str = "fifo",
) -> Settlement:
    """One account settled; ``prices`` maps a security to (fill price, window price)."""
    book = Settlement(WINDOW, SOLD_ON, SYSTEM)
    book.settle_account(
        account_id=ACCOUNT,
        cash=D(cash),
        lot_method=lot_method,
        orders=list(orders),
        lots=lots or {},
        withdrawals=list(withdrawals),
        prices={
            security: (D(fill), D(window))
            for security, (fill, window) in (prices or {1: ("10.00", "10.00")}).items()
        },
    )
    return book


def one_lot(quantity: str = "100", cost: str = "1000.00") -> dict[int, list[OpenLot]]:
    return {11: [OpenLot(501, date(2024, 1, 2), D(quantity), D(cost))]}


def test_sells_come_before_withdrawals_and_withdrawals_before_buys_whatever_the_input_order():
    # Without cash, the withdrawal and the buy are paid only from the sell's proceeds.
    book = settle(
        cash="0",
        orders=[buy(1, "50.00"), sell(2, "6")],
        withdrawals=[Withdrawal(31, D("10.00"), False)],
        lots=one_lot(),
    )
    assert [(row[0], row[1], row[2]) for row in book.ledger] == [
        (ACCOUNT, D("60.00"), "sell"),
        (SYSTEM.clearing, D("-60.00"), "sell"),
        (ACCOUNT, D("-10.00"), "withdrawal"),
        (SYSTEM.external, D("10.00"), "withdrawal"),
        (ACCOUNT, D("-50.00"), "buy"),
        (SYSTEM.clearing, D("50.00"), "buy"),
    ]
    assert book.orders == [(2, D("6"), D("10.00"), D("60.00")), (1, D("5"), D("10.00"), D("50.00"))]
    assert book.short_withdrawals == [] and book.prorated == 0
    assert book.cash == {ACCOUNT: D("0.00"), SYSTEM.clearing: D("-10.00"), SYSTEM.external: D("10")}


def test_sell_proceeds_are_floored_to_cents_at_the_fill_price():
    book = settle(orders=[sell(2, "0.333333")], lots=one_lot(), prices={1: ("10.0099", "10.0000")})
    # 0.333333 x 10.0099 = 3.33662999..: floored to 3.33 (rounding would give 3.34).
    assert book.orders == [(2, D("0.333333"), D("10.0099"), D("3.33"))]
    assert book.ledger[0] == (ACCOUNT, D("3.33"), "sell", f"window:{WINDOW}:order:2", None)
    assert book.positions == {11: D("-0.333333")}


@pytest.mark.parametrize(
    ("method", "consumed"),
    [("fifo", 601), ("lifo", 603), ("hifo", 602)],
)
def test_a_sell_consumes_lots_by_the_accounts_lot_method(method, consumed):
    lots = {
        11: [
            OpenLot(601, date(2023, 1, 3), D("2"), D("10.00")),  # oldest, 5.00 a share
            OpenLot(602, date(2025, 6, 2), D("2"), D("30.00")),  # costliest, 15.00 a share
            OpenLot(603, date(2025, 9, 1), D("2"), D("20.00")),  # newest, 10.00 a share
        ]
    }
    book = settle(orders=[sell(2, "1")], lots=lots, lot_method=method)
    by_id = {lot.id: lot for lot in lots[11]}
    cost = by_id[consumed].remaining_cost / 2
    assert book.lot_updates == [(consumed, D("1"), cost)]
    [disposal] = book.disposals
    lot_id, order_id, account_id, security_id, acquired_on, quantity, proceeds, basis = disposal[:8]
    assert (lot_id, order_id, account_id, security_id) == (consumed, 2, ACCOUNT, 1)
    assert (acquired_on, quantity, proceeds, basis) == (
        by_id[consumed].acquired_on,
        D("1"),
        D("10.00"),
        cost,
    )
    assert disposal[8] == D("10.00") - cost  # the gain
    assert disposal[9] == ("long" if consumed == 601 else "short")  # sold on 2026-03-02


def test_a_sell_across_two_lots_splits_quantity_cost_and_proceeds():
    lots = {
        11: [
            OpenLot(601, date(2023, 1, 3), D("1.5"), D("15.00")),
            OpenLot(602, date(2024, 1, 3), D("4"), D("48.00")),
        ]
    }
    book = settle(orders=[sell(2, "2.5")], lots=lots, prices={1: ("12.00", "12.00")})
    assert book.lot_updates == [(601, D("0"), D("0")), (602, D("3"), D("36.00"))]
    assert [(d[0], d[5], d[6], d[7]) for d in book.disposals] == [
        (601, D("1.5"), D("18.00"), D("15.00")),
        (602, D("1"), D("12.00"), D("12.00")),
    ]
    assert sum(d[6] for d in book.disposals) == D("30.00")  # the order's proceeds exactly


def test_a_withdrawal_is_paid_from_the_cash_to_the_external_account():
    book = settle(cash="100.00", withdrawals=[Withdrawal(31, D("40.00"), False)])
    assert book.ledger == [
        (ACCOUNT, D("-40.00"), "withdrawal", "intent:31", 31),
        (SYSTEM.external, D("40.00"), "withdrawal", "intent:31", 31),
    ]
    assert book.cash == {ACCOUNT: D("-40.00"), SYSTEM.external: D("40.00")}
    assert book.short_withdrawals == []


def test_fixed_withdrawals_are_paid_before_a_withdrawal_of_everything():
    book = settle(
        cash="100.00",
        withdrawals=[Withdrawal(32, None, True), Withdrawal(31, D("20.00"), False)],
    )
    assert [(row[1], row[4]) for row in book.ledger if row[0] == ACCOUNT] == [
        (D("-20.00"), 31),
        (D("-80.00"), 32),
    ]
    assert book.short_withdrawals == []


def test_a_withdrawal_the_cash_cannot_cover_pays_what_there_is_and_is_recorded_short():
    book = settle(
        cash="30.00",
        withdrawals=[Withdrawal(31, D("50.00"), False), Withdrawal(33, D("5.00"), False)],
    )
    assert [(row[1], row[4]) for row in book.ledger if row[0] == ACCOUNT] == [(D("-30.00"), 31)]
    assert book.short_withdrawals == [
        {"intent": 31, "amount": "50.00", "paid": "30.00"},
        {"intent": 33, "amount": "5.00", "paid": "0.00"},  # nothing left: no ledger movement
    ]


def test_buys_are_prorated_down_in_proportion_when_the_cash_falls_short():
    book = settle(
        cash="10.00",
        orders=[buy(1, "10.00", security=1, position=11), buy(2, "5.00", security=2, position=12)],
        prices={1: ("1.00", "1.00"), 2: ("1.00", "1.00")},
    )
    # 10.00 x 10/15 = 6.666.. and 5.00 x 10/15 = 3.333..: each floored to cents.
    assert book.orders == [
        (1, D("6.66"), D("1.00"), D("6.66")),
        (2, D("3.33"), D("1.00"), D("3.33")),
    ]
    assert book.prorated == 1
    assert book.cash[ACCOUNT] == D("-9.99")  # never more than the cash there was
    assert book.new_lots == [(11, 1, D("6.66"), D("6.66")), (12, 2, D("3.33"), D("3.33"))]
    assert book.positions == {11: D("6.66"), 12: D("3.33")}


def test_buys_the_cash_covers_are_paid_in_full():
    book = settle(cash="15.00", orders=[buy(1, "10.00"), buy(2, "5.00")])
    assert [row[3] for row in book.orders] == [D("10.00"), D("5.00")]
    assert book.prorated == 0


def test_a_buy_without_any_cash_buys_nothing_and_pays_nothing():
    book = settle(cash="0", orders=[buy(1, "10.00")], withdrawals=[])
    assert book.orders == [(1, D("0"), D("10.00"), D("0"))]
    assert book.prorated == 1
    assert book.ledger == [] and book.new_lots == [] and book.positions == {}


def test_a_buy_whose_shares_round_to_zero_pays_nothing():
    book = settle(cash="1.00", orders=[buy(1, "0.01")], prices={1: ("100000.0000", "100000.0000")})
    # 0.01 / 100,000 = 0.0000001 shares: below the 6th decimal.
    assert book.orders == [(1, D("0"), D("100000.0000"), D("0"))]
    assert book.ledger == [] and book.new_lots == [] and book.positions == {}
    assert book.cash == {}


@pytest.mark.parametrize(
    ("fill", "window", "paid_at"),
    [("10.10", "10.00", "10.10"), ("9.90", "10.00", "10.00"), ("10.00", "10.00", "10.00")],
)
def test_buyers_get_shares_at_the_higher_of_the_fill_and_the_window_price(fill, window, paid_at):
    book = settle(cash="101.00", orders=[buy(1, "101.00")], prices={1: (fill, window)})
    [(order_id, quantity, price, amount)] = book.orders
    assert (order_id, price, amount) == (1, D(paid_at), D("101.00"))
    assert quantity == (D("101.00") / D(paid_at)).quantize(D("0.000001"), rounding=ROUND_FLOOR)
