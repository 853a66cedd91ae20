"""The fill model's pure parts (allocation.md, Execution): the limit price, the simulated broker,
the block formulas, the one valuation, and a plan's sells sized at the limit price. No database.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.brokers import BrokerRefused, NetBuy, NetSell, SimulatedBroker
from trading.money import (
    ceil_shares,
    floor_cents,
    floor_shares,
    limit_price,
    sellable_value,
    withdrawable,
)
from trading.window.account_plan import AccountPlan
from trading.window.allocate import BlockTerms

D = Decimal


def sell(quantity: str, limit: str, price: str = "13.37", security: int = 1) -> NetSell:
    return NetSell(security, f"S{security}", D(quantity), D(limit), D(price), f"ref{security}")


# --- the limit price and the simulator ------------------------------------------------------


def test_the_limit_price_is_the_window_price_less_b_rounded_down_to_the_tick():
    assert limit_price(D("13.37"), 0) == D("13.37")
    assert limit_price(D("13.37"), 50) == D("13.3031")  # 13.30315
    assert limit_price(D("10.00"), 1000) == D("9.0000")
    assert limit_price(D("0.0001"), 50) == D("0.0001")  # never below a tick


def test_the_simulator_rounds_against_the_trader_and_fills_in_full():
    broker = SimulatedBroker(slippage_bp=40)
    [sold] = broker.sell([sell("10", "13.3031")])
    assert (sold.quantity, sold.price, sold.cash) == (D("10"), D("13.3165"), D("133.16"))
    [bought] = broker.buy([NetBuy(2, "B", D("100.00"), D("3.33"), "b")])
    # 3.33 x 1.004 = 3.34332, rounded up to 3.3434; 100.00 buys 29.909673 shares for 100.00.
    assert (bought.price, bought.quantity, bought.cash) == (
        D("3.3434"),
        D("29.909672"),
        D("100.00"),
    )
    assert bought.cash <= D("100.00")


def test_negative_slippage_is_in_the_traders_favour():
    broker = SimulatedBroker(slippage_bp=-40)
    assert broker.sell_price(D("10.00")) == D("10.0400")
    assert broker.buy_price(D("10.00")) == D("9.9600")


def test_the_simulator_refuses_a_net_sell_below_its_limit_saying_what_it_filled():
    broker = SimulatedBroker(slippage_bp=60)
    with pytest.raises(BrokerRefused, match=r"at 13\.3031 or better was not filled") as refused:
        broker.sell([sell("1", "13.2000", security=1), sell("2", "13.3031", security=2)])
    assert [(e.security_id, e.quantity) for e in refused.value.filled] == [(1, D("1"))]


@pytest.mark.parametrize("slippage", [-5001, 5001])
def test_the_simulator_refuses_slippage_beyond_fifty_percent(slippage):
    with pytest.raises(ValueError, match="-5000 to 5000"):
        SimulatedBroker(slippage_bp=slippage)


# --- the block formulas ---------------------------------------------------------------------


def net_sell(S: str, buy_amount: str, P: str, w: str = "3.33", limit: str = "3.33") -> BlockTerms:
    return BlockTerms("sell", D(w), D(limit), D(S), D(buy_amount), ZERO_SHARES, D(P))


ZERO_SHARES = D("0")


def test_a_net_buy_pays_sellers_at_w_and_shares_the_shares_among_the_buyers():
    # Sellers of 2 shares at 10.00; buyers of 150.00 and 50.00; the broker bought 9.95 more.
    terms = BlockTerms("buy", D("10.00"), None, D("2"), D("200.00"), D("9.950248"), D("99.99"))
    assert terms.seller_proceeds(D("1.5")) == D("15.00")
    assert terms.buyer_shares(D("150.00")) == D("8.962686")  # 150 x 11.950248 / 200, floored
    assert terms.buyer_shares(D("50.00")) == D("2.987562")


def test_a_net_sell_shares_the_pool_by_quantity():
    # One buyer of 10.00 crossed at w; the broker paid 20.10 for the rest, above the limit.
    terms = net_sell("9.009011", "10.00", "20.10")
    assert terms.buyer_shares(D("10.00")) == D("3.003003")
    assert terms.seller_proceeds(D("3.003004")) == D("10.03")  # 30.10 x 3.003004 / S
    assert terms.seller_proceeds(D("6.006007")) == D("20.06")


def test_a_seller_never_gets_less_than_its_shares_at_the_limit():
    # Two withdrawals of 10.00 and 20.00 at 3.33: 3.003004 and 6.006007 shares, sized at the
    # limit (b = 0: w). The broker pays floor_cents(9.009011 x 3.33) = 30.00. The pool's share
    # of the second, 30.00 x 6.006007 / 9.009011 = 19.9999..., would pay it 19.99: a cent short
    # at zero slippage.
    terms = net_sell("9.009011", "0", "30.00")
    assert floor_cents(D("30.00") * D("6.006007") / D("9.009011")) == D("19.99")
    assert terms.seller_proceeds(D("3.003004")) == D("10.00")
    assert terms.seller_proceeds(D("6.006007")) == D("20.00")  # the pool is used exactly


prices = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=4)
quantities = st.decimals(min_value=D("0.000001"), max_value=D("1000"), places=6)
amounts = st.decimals(min_value=D("1.00"), max_value=D("100000"), places=2)


@given(
    w=prices,
    b=st.integers(0, 500),
    slip=st.integers(-500, 500),
    sellers=st.lists(quantities, min_size=1, max_size=6),
    buyers=st.lists(amounts, max_size=6),
)
def test_a_net_sell_never_asks_the_house_for_money_and_pays_every_seller_its_limit_value(
    w, b, slip, sellers, buyers
):
    L = limit_price(w, b)
    S = sum(sellers, D(0))
    bought = sum((floor_shares(a / w) for a in buyers), D(0))
    if bought > S:
        return  # a net buy: the next test
    broker = SimulatedBroker(slippage_bp=min(slip, b))  # a fill the window accepts
    P = broker.sell([NetSell(1, "S", S - bought, L, w, "r")])[0].cash if bought < S else D(0)
    terms = BlockTerms("sell", w, L, S, sum(buyers, D(0)), S - bought, P)
    proceeds = [terms.seller_proceeds(q) for q in sellers]
    pool = sum(buyers, D(0)) + P
    assert sum(proceeds, D(0)) <= pool  # the house's cash residue is never negative
    assert all(p >= floor_cents(q * L) for p, q in zip(proceeds, sellers, strict=True))
    assert sum((terms.buyer_shares(a) for a in buyers), D(0)) == bought


@given(
    w=prices,
    slip=st.integers(-5000, 5000),
    sellers=st.lists(quantities, max_size=6),
    buyers=st.lists(amounts, min_size=1, max_size=6),
)
def test_a_net_buy_never_asks_the_house_for_shares_or_money(w, slip, sellers, buyers):
    S = sum(sellers, D(0))
    if sum((floor_shares(a / w) for a in buyers), D(0)) <= S:
        return  # a net sell: the previous test
    paid_to_sellers = sum((floor_cents(q * w) for q in sellers), D(0))
    N = sum(buyers, D(0)) - paid_to_sellers
    assert N > 0
    [fill] = SimulatedBroker(slippage_bp=slip).buy([NetBuy(1, "B", N, w, "r")])
    assert 0 <= fill.cash <= N  # the house keeps N - c >= 0
    terms = BlockTerms("buy", w, None, S, sum(buyers, D(0)), fill.quantity, fill.cash)
    assert sum((terms.buyer_shares(a) for a in buyers), D(0)) <= S + fill.quantity


# --- one valuation --------------------------------------------------------------------------


def test_what_can_be_withdrawn_is_cash_plus_each_holding_rounded_down_less_pending():
    values = [D("10.006"), D("20.009"), D("0.004")]  # half-up of the sum would be 30.02
    assert [sellable_value(v) for v in values] == [D("10.00"), D("20.00"), D("0.00")]
    assert withdrawable(cash=D("1.00"), values=values) == D("31.00")
    assert withdrawable(cash=D("1.00"), values=values, pending_withdrawals=D("5.00")) == D("26.00")
    assert withdrawable(cash=D("0"), values=values, pending_withdrawals=D("99")) == D("0")


# --- a plan's sells at the limit price ------------------------------------------------------


def plan(leaves: list[tuple[int, int, str]], *, cash: str = "0", b: int = 50) -> AccountPlan:
    """One account, leaves (slice id = security id, target bp, quantity) at 10.00 a share."""
    rows = [
        (sid, 1, sid, None, target, "active" if target else "removing", sid, D(quantity))
        for sid, target, quantity in leaves
    ]
    prices = {sid: D("10.00") for sid, _, _ in leaves}
    return AccountPlan(
        account_id=1,
        cash=D(cash),
        min_cash=D(0),
        auto_invest=False,
        root_id=1,
        pies={1: ""},
        rows=rows,
        prices=prices,
        symbols={sid: f"S{sid}" for sid in prices},
        limits={sid: limit_price(price, b) for sid, price in prices.items()},
    )


def test_a_sell_keeps_its_amount_and_is_sized_at_the_limit_price():
    account = plan([(1, 10_000, "100")])
    account.withdraw(7, D("500.00"), False)
    [order] = account.orders()
    assert (order.side, order.amount) == ("sell", D("500.00"))
    assert order.quantity == ceil_shares(D("500.00") / D("9.95")) == D("50.251257")


def test_a_withdrawal_tops_up_what_a_whole_position_falls_short_at_the_limit():
    # OLD (removing) is sold first and in full: 10 shares raise only 99.50 at 9.95, so the
    # 0.50 it falls short of its 100.00 comes out of AAA too.
    account = plan([(1, 10_000, "100"), (2, 0, "10")])
    account.withdraw(7, D("300.00"), False)
    orders = {order.leaf.security_id: order for order in account.orders()}
    assert (orders[2].amount, orders[2].quantity) == (D("100.00"), D("10"))
    assert (orders[1].amount, orders[1].quantity) == (D("200.50"), D("20.150754"))
    assert orders[1].explanation["rule"] == "withdrawal"  # one flow, not "netted"


def test_a_removal_reinvests_its_proceeds_at_the_limit_price():
    account = plan([(1, 5_000, "0"), (2, 5_000, "0"), (3, 0, "10")])
    account.remove(8, 3)
    buys = {o.leaf.security_id: o.amount for o in account.orders() if o.side == "buy"}
    assert sum(buys.values()) == D("99.50")  # 10 shares at 9.95, not their 100.00 at w
    assert account.free == 0


def test_with_b_zero_sells_are_sized_at_the_window_price():
    account = plan([(1, 10_000, "100"), (2, 0, "10")], b=0)
    account.withdraw(7, D("300.00"), False)
    orders = {order.leaf.security_id: order for order in account.orders()}
    assert (orders[1].amount, orders[1].quantity) == (D("200.00"), D("20"))
