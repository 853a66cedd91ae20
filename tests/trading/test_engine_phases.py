"""The pure phases of the window engine, directly: plain data in, rows out, no database.

Net (``trading/window/net.py``): a block per security, its side decided by shares, crossed at
the window price w, only the difference going to the broker. Allocate
(``trading/window/allocate.py``): one account's fills by the block's terms, sells first, then
withdrawals, then buys (allocation.md, Execution).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.lots import OpenLot
from trading.window.allocate import BlockTerms, FundingError, OrderRow, Settlement, Withdrawal
from trading.window.common import SystemAccounts
from trading.window.net import Block, blocks_from_rows

D = Decimal
ACCOUNT = 100
SYSTEM = SystemAccounts(house=1, external=2, clearing=3)
SOLD_ON = date(2026, 3, 2)
WINDOW = 9

# --- Net ------------------------------------------------------------------------------------


def block(buy: str, sell: str, *, amount: str = "0", proceeds: str = "0") -> Block:
    return Block(
        1,
        "VTI",
        D("10.00"),
        D("9.9500"),
        buy_quantity=D(buy),
        buy_amount=D(amount),
        sell_quantity=D(sell),
        sell_proceeds=D(proceeds),
    )


@pytest.mark.parametrize(
    ("buy", "sell", "crossed", "side", "to_broker"),
    [
        ("5.000000", "2.500000", "2.500000", "buy", "0"),
        ("1.000000", "3.250000", "1.000000", "sell", "2.250000"),
        # Equal shares: a net sell of nothing (the buyers take every share sold).
        ("4.000001", "4.000001", "4.000001", "sell", "0.000000"),
        ("7.000000", "0", "0", "buy", "0"),
        ("0", "0.000001", "0", "sell", "0.000001"),
        ("0", "0", "0", "sell", "0"),
    ],
)
def test_a_block_crosses_the_smaller_side_and_its_side_is_decided_by_shares(
    buy, sell, crossed, side, to_broker
):
    netted = block(buy, sell)
    assert netted.crossed == D(crossed)
    assert netted.net_side == side
    assert netted.sell_to_broker == D(to_broker)


def test_a_net_buy_sends_the_buy_amounts_less_the_sellers_proceeds_at_w_in_dollars():
    netted = block("5.000000", "2.500000", amount="50.00", proceeds="25.00")
    assert (netted.net_side, netted.buy_from_broker, netted.sell_to_broker) == (
        "buy",
        D("25.00"),
        D("0"),
    )


def test_a_net_sell_sends_no_dollars():
    netted = block("1.000000", "3.250000", amount="10.00", proceeds="32.50")
    assert netted.buy_from_broker == D("0")


quantities = st.integers(0, 10**14).map(lambda n: D(n).scaleb(-6))


@given(quantities, quantities)
def test_crossed_shares_are_the_smaller_side_and_a_net_sell_sends_the_rest(buy, sell):
    netted = Block(1, "VTI", D("10.00"), D("10.00"), buy_quantity=buy, sell_quantity=sell)
    assert netted.crossed == min(buy, sell)
    if netted.net_side == "sell":
        assert buy <= sell and netted.crossed + netted.sell_to_broker == sell
    else:
        assert buy > sell and netted.sell_to_broker == 0


def test_blocks_from_rows_sums_each_security_and_side_and_counts_the_orders():
    rows = [
        (7, "buy", D("3.000000"), D("751.50"), 2, D("0")),
        (7, "sell", D("1.250000"), D("300.00"), 1, D("313.12")),
        (4, "sell", D("0.500000"), D("36.00"), 3, D("36.05")),
        (7, "buy", D("0.000001"), D("1.00"), 1, D("0")),  # a side seen again adds up
    ]
    blocks = blocks_from_rows(
        rows,
        symbols={4: "BND", 7: "VTI"},
        prices={4: D("72.1000"), 7: D("250.5000")},
        limits={4: D("71.7395"), 7: D("249.2475")},
    )
    assert [(b.security_id, b.symbol, b.window_price, b.limit_price) for b in blocks] == [
        (7, "VTI", D("250.5000"), D("249.2475")),
        (4, "BND", D("72.1000"), D("71.7395")),
    ]
    vti, bnd = blocks
    assert (vti.buy_quantity, vti.buy_amount, vti.orders) == (D("3.000001"), D("752.50"), 4)
    assert (vti.sell_quantity, vti.sell_proceeds) == (D("1.25"), D("313.12"))
    assert (vti.crossed, vti.net_side, vti.buy_from_broker) == (D("1.25"), "buy", D("439.38"))
    assert (bnd.buy_quantity, bnd.sell_quantity, bnd.orders) == (D("0"), D("0.5"), 3)
    assert (bnd.net_side, bnd.sell_to_broker) == ("sell", D("0.5"))


def test_blocks_from_no_rows_is_no_blocks():
    assert blocks_from_rows([], symbols={}, prices={}, limits={}) == []


# --- Allocate -------------------------------------------------------------------------------


def sell(order_id: int, quantity: str, *, security: int = 1, position: int = 11) -> OrderRow:
    return OrderRow(order_id, ACCOUNT, position, security, "sell", D("0"), D(quantity))


def buy(order_id: int, amount: str, *, security: int = 1, position: int = 11) -> OrderRow:
    return OrderRow(order_id, ACCOUNT, position, security, "buy", D(amount), D("0"))


def net_sell(
    *,
    w: str = "10.00",
    limit: str | None = None,
    sold: str = "100",
    bought: str = "0",
    paid: str | None = None,
) -> BlockTerms:
    """A net-sell block: S = ``sold`` shares, the buyers paid ``bought``, the broker ``paid``
    for the rest (by default exactly at w)."""
    buyer_shares = D(bought) / D(w)
    broker_paid = D(paid) if paid is not None else (D(sold) - buyer_shares) * D(w)
    return BlockTerms(
        side="sell",
        window_price=D(w),
        limit_price=D(limit) if limit else None,
        sell_quantity=D(sold),
        buy_amount=D(bought),
        broker_quantity=D(sold) - buyer_shares,
        broker_cash=broker_paid,
    )


def net_buy(
    *, w: str = "10.00", sold: str = "0", bought: str, shares: str, cash: str
) -> BlockTerms:
    """A net-buy block: sellers sold ``sold`` shares, the buyers' amounts sum to ``bought``,
    the broker delivered ``shares`` for ``cash``."""
    return BlockTerms(
        side="buy",
        window_price=D(w),
        limit_price=None,
        sell_quantity=D(sold),
        buy_amount=D(bought),
        broker_quantity=D(shares),
        broker_cash=D(cash),
    )


def settle(
    *,
    cash: str = "0",
    orders: Sequence[OrderRow] = (),
    withdrawals: Sequence[Withdrawal] = (),
    lots: dict[int, list[OpenLot]] | None = None,
    blocks: dict[int, BlockTerms] | None = None,
    lot_method: str = "fifo",
) -> Settlement:
    book = Settlement(WINDOW, SOLD_ON, SYSTEM)
    book.settle_account(
        account_id=ACCOUNT,
        cash=D(cash),
        lot_method=lot_method,
        orders=list(orders),
        lots=lots or {},
        withdrawals=list(withdrawals),
        blocks=blocks or {1: net_sell()},
    )
    return book


def one_lot(quantity: str = "100", cost: str = "1000.00") -> dict[int, list[OpenLot]]:
    return {11: [OpenLot(501, date(2024, 1, 2), D(quantity), D(cost))]}


def test_sells_come_before_withdrawals_and_withdrawals_before_buys_whatever_the_input_order():
    # Without cash, the withdrawal and the buy are paid only from the sell's proceeds.
    book = settle(
        cash="0",
        orders=[buy(1, "50.00", security=2, position=12), sell(2, "6")],
        withdrawals=[Withdrawal(31, D("10.00"), False)],
        lots=one_lot(),
        blocks={1: net_sell(), 2: net_sell(sold="10", bought="50.00")},
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
    assert book.short_withdrawals == []
    assert book.cash == {ACCOUNT: D("0.00"), SYSTEM.clearing: D("-10.00"), SYSTEM.external: D("10")}


def test_in_a_net_buy_a_seller_gets_its_shares_at_w_floored_to_cents():
    terms = net_buy(w="10.0099", sold="1", bought="100.00", shares="9", cash="90.09")
    book = settle(orders=[sell(2, "0.333333")], lots=one_lot(), blocks={1: terms})
    # 0.333333 x 10.0099 = 3.33662999..: floored to 3.33 (rounding would give 3.34).
    assert book.orders[0][3] == D("3.33")
    assert book.ledger[0] == (ACCOUNT, D("3.33"), "sell", f"window:{WINDOW}:order:2", None)
    assert book.positions == {11: D("-0.333333")}


def test_in_a_net_buy_buyers_share_the_crossed_and_broker_shares_by_amount():
    # S = 2 crossed shares and q = 7.9 from the broker for 80.00 of buys: 9.9 shares in all.
    terms = net_buy(sold="2", bought="80.00", shares="7.9", cash="59.99")
    book = settle(
        cash="80.00",
        orders=[buy(1, "60.00"), buy(2, "20.00", security=1, position=12)],
        blocks={1: terms},
    )
    # 60 x 9.9 / 80 = 7.425 and 20 x 9.9 / 80 = 2.475 shares, each paying its amount.
    assert [(row[0], row[1], row[3]) for row in book.orders] == [
        (1, D("7.425000"), D("60.00")),
        (2, D("2.475000"), D("20.00")),
    ]
    assert book.new_lots == [(11, 1, D("7.425000"), D("60.00")), (12, 2, D("2.475000"), D("20.00"))]


def test_in_a_net_sell_sellers_share_the_pool_by_quantity_and_buyers_get_shares_at_w():
    # S = 10 shares sold; a buyer paid 30.00 for 3 shares at w; the broker paid 69.30 for 7,
    # at 9.90, its limit.
    terms = net_sell(sold="10", limit="9.90", bought="30.00", paid="69.30")
    book = settle(
        cash="30.00",
        orders=[sell(2, "4"), buy(1, "30.00", position=12)],
        lots=one_lot(),
        blocks={1: terms},
    )
    # The pool of 99.30 by quantity: 4 / 10 of it is 39.72.
    assert [(row[0], row[1], row[3]) for row in book.orders] == [
        (2, D("4"), D("39.72")),
        (1, D("3"), D("30.00")),
    ]


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
    book = settle(orders=[sell(2, "2.5")], lots=lots, blocks={1: net_sell(w="12.00", sold="2.5")})
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
    assert book.paid == {31: (D("40.00"), "")}
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


def test_a_withdrawal_the_cash_cannot_cover_pays_what_there_is_and_says_so():
    book = settle(
        cash="30.00",
        withdrawals=[Withdrawal(31, D("50.00"), False), Withdrawal(33, D("5.00"), False)],
    )
    assert [(row[1], row[4]) for row in book.ledger if row[0] == ACCOUNT] == [(D("-30.00"), 31)]
    assert book.short_withdrawals == [
        (ACCOUNT, 31, D("50.00"), D("30.00")),
        (ACCOUNT, 33, D("5.00"), D("0.00")),  # nothing left: no ledger movement
    ]
    assert book.paid[31][0] == D("30.00") and "paid 30.00 of 50.00" in book.paid[31][1]


def test_buys_the_cash_covers_are_paid_in_full():
    book = settle(
        cash="15.00",
        orders=[buy(1, "10.00"), buy(2, "5.00", position=12)],
        blocks={1: net_buy(bought="15.00", shares="1.5", cash="15.00")},
    )
    assert [row[3] for row in book.orders] == [D("10.00"), D("5.00")]


def test_buys_the_cash_cannot_cover_stop_the_window_rather_than_be_prorated():
    with pytest.raises(FundingError, match=r"less than its buys of 15\.00"):
        settle(
            cash="10.00",
            orders=[buy(1, "10.00"), buy(2, "5.00", position=12)],
            blocks={1: net_buy(bought="15.00", shares="1.5", cash="15.00")},
        )
