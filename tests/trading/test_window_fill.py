"""Windows against a broker that fills away from the window price (allocation.md, Execution;
issue 12, problem 3 and acceptance 2): net sells as limit orders first, net buys in dollars,
the exact formulas, the house taking only residues, withdrawals paid in full.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import F
from django.test import Client

from tests.trading.engine_helpers import LONG_AGO, add_cash, build_account, intent, security
from trading.books import verify_books
from trading.brokers import BrokerRefused, Execution, NetBuy, NetSell, SimulatedBroker
from trading.models import (
    Account,
    AccountKind,
    BlockOrder,
    Disposal,
    Fill,
    Intent,
    LedgerEntry,
    Lot,
    Order,
    Position,
    TradeWindow,
)
from trading.services import request_withdrawal
from trading.valuation import available_to_withdraw
from trading.window import WindowFault, open_adhoc_window, run_window
from trading.window.allocate import FundingError

D = Decimal
PRICES = {
    "AAA": "13.37",
    "BBB": "7.1234",
    "CCC": "101.0101",
    "DDD": "3.33",
    "EEE": "48.52",
    "FFF": "250.7777",
    "GGG": "0.9876",
    "HHH": "19.99",
}


class Spy(SimulatedBroker):
    """The simulator, recording what it was asked to do."""

    def __init__(self, slippage_bp: int) -> None:
        super().__init__(slippage_bp=slippage_bp)
        self.calls: list[tuple[str, list[str]]] = []

    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        self.calls.append(("sell", [order.symbol for order in orders]))
        return super().sell(orders)

    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        self.calls.append(("buy", [order.symbol for order in orders]))
        return super().buy(orders)


def give(slice_, quantity: Decimal, cost: Decimal, acquired_on: date = LONG_AGO) -> None:
    """``quantity`` more shares in the slice's position, in a lot of its own."""
    position = Position.objects.get(slice=slice_)
    Position.objects.filter(pk=position.pk).update(quantity=position.quantity + quantity)
    Lot.objects.create(
        position=position,
        acquired_on=acquired_on,
        quantity=quantity,
        remaining_quantity=quantity,
        cost_basis=cost,
        remaining_cost=cost,
    )


def pie_of(symbols: list[str], removing: str | None = None) -> dict:
    slices = [{"name": s, "target_percent": str(D(100) / len(symbols))} for s in symbols]
    if removing:
        slices.append({"name": removing, "target_percent": "0"})
    return {"slices": slices}


def random_holdings(rng: random.Random, leaves: dict) -> None:
    for slice_ in leaves.values():
        give(slice_, D(rng.randint(1_000_000, 400_000_000)) / 10**6, D(rng.randint(100, 5000)))


def paid(intent_: Intent) -> Decimal:
    return -sum(
        (e.amount for e in LedgerEntry.objects.filter(intent=intent_, account=intent_.account)),
        D(0),
    )


def keeps_shares(account: Account) -> bool:
    """Whether the account still holds shares worth a cent at the window prices."""
    return any(
        p.quantity * D(PRICES[p.security.symbol]) >= D("0.01")
        for p in Position.objects.filter(account=account).select_related("security")
    )


def trading_day(make_user, seed: int = 12) -> dict[str, Intent]:
    """Several accounts buying and selling the same securities at odd prices: deposits,
    withdrawals (one of exactly what the account can withdraw), a rebalance, a removal."""
    rng = random.Random(seed)
    intents: dict[str, Intent] = {}
    accounts = {
        name: build_account(make_user(name), pie_of(symbols))
        for name, symbols in [
            ("buyer", ["AAA", "BBB", "CCC", "DDD"]),
            ("seller", ["AAA", "BBB", "EEE", "FFF"]),
            ("exact", ["CCC", "DDD", "GGG", "HHH"]),
            ("mover", ["AAA", "EEE", "GGG", "HHH"]),
            ("both", ["DDD", "EEE", "HHH"]),
        ]
    }
    remover, leaves = build_account(make_user("remover"), pie_of(["BBB", "FFF"], removing="CCC"))
    for symbol, price in PRICES.items():  # after the builder's 10.00
        security(symbol, price)
    random_holdings(rng, leaves)
    intents["removal"] = intent(remover, "removal", slice=leaves["CCC"])
    buyer, _ = accounts["buyer"]
    intents["deposit"] = intent(buyer, "deposit", "5000.00")
    seller, leaves = accounts["seller"]
    random_holdings(rng, leaves)
    intents["withdrawal"] = intent(seller, "withdrawal", "1234.56")
    everything, leaves = accounts["exact"]
    random_holdings(rng, leaves)
    exact = available_to_withdraw(account=everything)
    intents["exact"] = request_withdrawal(account=everything, amount=str(exact)).intent
    mover, leaves = accounts["mover"]
    random_holdings(rng, leaves)
    intents["rebalance"] = intent(mover, "rebalance", pie=mover.pies.get(is_root=True))
    both, leaves = accounts["both"]
    random_holdings(rng, leaves)
    intents["deposit_both"] = intent(both, "deposit", "321.09")
    intents["withdrawal_both"] = intent(both, "withdrawal", "2000.00")
    return intents


def assert_books_exact(window: TradeWindow, intents: dict[str, Intent]) -> None:
    window.refresh_from_db()
    assert window.status == "done", window.error
    assert verify_books() == []
    assert not Account.objects.filter(cash__lt=0, kind__in=["individual", "house"]).exists()
    house = Account.system(AccountKind.HOUSE)
    assert house.cash >= 0
    assert not Position.objects.filter(account=house, quantity__lt=0).exists()
    for key, item in intents.items():
        item.refresh_from_db()
        assert item.status == "done", (key, item.failure_reason)
        if item.kind != "withdrawal":
            continue
        assert item.amount_paid == paid(item)
        if keeps_shares(item.account):
            assert item.amount_paid == item.amount, key  # need not sell every share: exact
        elif item.amount_paid < item.amount:
            assert "Every share was sold" in item.failure_reason


@pytest.mark.parametrize("slippage", [40, -40])
def test_windows_with_slippage_within_the_accepted_range_finish_with_exact_books(
    make_user, settings, slippage
):
    settings.PIES_MAX_SLIPPAGE_BP = 50
    settings.PIES_BROKER_SLIPPAGE_BP = slippage
    intents = trading_day(make_user)

    window = open_adhoc_window()
    run_window(window.pk)

    assert_books_exact(window, intents)
    blocks = BlockOrder.objects.filter(window=window)
    assert {b.net_side for b in blocks} == {"buy", "sell"}
    assert any(b.crossed_quantity > 0 for b in blocks)  # crossed and net orders
    assert all(b.house_quantity >= 0 and b.house_cash >= 0 for b in blocks)
    exact = intents["exact"]
    assert not keeps_shares(exact.account)  # exactly what it could withdraw: every share
    if slippage > 0:
        assert exact.amount_paid < exact.amount  # its shares raised less than at w
        assert f"paid {exact.amount_paid:,.2f} of {exact.amount:,.2f}" in exact.failure_reason
    else:
        assert exact.amount_paid == exact.amount


def test_beyond_the_accepted_slippage_net_sells_are_refused_and_nothing_fills(make_user, settings):
    settings.PIES_MAX_SLIPPAGE_BP = 50
    intents = trading_day(make_user)
    window = open_adhoc_window()
    broker = Spy(60)

    with pytest.raises(BrokerRefused, match="was not filled"):
        run_window(window.pk, broker=broker)

    window.refresh_from_db()
    assert window.status == "failed"
    assert [side for side, _ in broker.calls] == ["sell"]  # no buy was sent
    assert not BlockOrder.objects.filter(window=window).exists()
    assert not Fill.objects.filter(block__window=window).exists()
    assert Intent.objects.get(pk=intents["withdrawal"].pk).status == "pending"
    assert verify_books() == []

    settings.PIES_BROKER_SLIPPAGE_BP = 40  # the market came back within the limit: retry
    run_window(window.pk)

    assert_books_exact(window, intents)


def test_at_sixty_bp_a_window_with_net_sells_fails_unfilled_and_can_be_abandoned(
    make_user, settings
):
    # Issue 12, acceptance 2, with the setting itself (not a broker built for the test): at
    # +60 against an accepted 50 every net sell is refused below its limit, nothing fills,
    # and staff may abandon the window; its intents are pending again and a window at +40
    # takes them and finishes with exact books.
    from trading.window import abandon_window

    settings.PIES_MAX_SLIPPAGE_BP = 50
    settings.PIES_BROKER_SLIPPAGE_BP = 60
    intents = trading_day(make_user)
    window = open_adhoc_window()

    with pytest.raises(BrokerRefused, match="was not filled"):
        run_window(window.pk)

    window.refresh_from_db()
    assert window.status == "failed"
    assert not BlockOrder.objects.filter(window=window).exists()
    assert not Fill.objects.filter(block__window=window).exists()
    assert verify_books() == []

    abandon_window(window_id=window.pk, reason="the market moved past our limits")

    window.refresh_from_db()
    assert window.status == "abandoned"
    for key, item in intents.items():
        item.refresh_from_db()
        assert (item.status, item.window_id, item.amount_paid) == ("pending", None, None), key
    assert not LedgerEntry.objects.filter(kind__in=["sell", "buy", "withdrawal"]).exists()
    assert verify_books() == []

    settings.PIES_BROKER_SLIPPAGE_BP = 40
    later = open_adhoc_window()
    run_window(later.pk)

    assert_books_exact(later, intents)
    exact = Intent.objects.get(pk=intents["exact"].pk)
    assert exact.window_id == later.pk
    assert exact.amount_paid == paid(exact)


def test_a_rerun_never_sends_again_a_block_recorded_as_filled(make_user, settings):
    settings.PIES_MAX_SLIPPAGE_BP = 50
    intents = trading_day(make_user)
    window = open_adhoc_window()

    class FillsOneThenRefuses(SimulatedBroker):
        def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
            filled = super().sell(orders[:1])
            raise BrokerRefused("the exchange halted", filled)

    with pytest.raises(BrokerRefused):
        run_window(window.pk, broker=FillsOneThenRefuses(slippage_bp=0))
    [recorded] = BlockOrder.objects.filter(window=window).select_related("security")
    assert (recorded.net_side, Fill.objects.filter(block=recorded).exists()) == ("sell", True)

    broker = Spy(0)
    run_window(window.pk, broker=broker)

    sent = [symbol for _, symbols in broker.calls for symbol in symbols]
    assert recorded.security.symbol not in sent
    assert broker.calls[0][0] == "sell" and broker.calls[-1][0] == "buy"
    assert_books_exact(window, intents)


# --- problem 3: a broker filling away from the window price --------------------------------


def test_a_net_buy_with_broker_slippage_finishes_and_the_house_needs_no_capital(
    make_user, settings
):
    # Issue 12, problem 3: at +10 bp the house was asked for cash and the window failed at
    # close (cash_never_negative), on every retry.
    settings.PIES_BROKER_SLIPPAGE_BP = 10
    for n in range(3):
        account, _ = build_account(make_user(f"saver{n}"), pie_of(["AAA", "DDD", "GGG"]))
        intent(account, "deposit", f"{1000 + 137 * n}.11")
    for symbol in ("AAA", "DDD", "GGG"):
        security(symbol, PRICES[symbol])

    window = open_adhoc_window()
    report = run_window(window.pk)

    assert report["status"] == "done"
    assert {b.net_side for b in BlockOrder.objects.filter(window=window)} == {"buy"}
    house = Account.system(AccountKind.HOUSE)
    assert house.cash >= 0
    assert not LedgerEntry.objects.filter(account=house, amount__lt=0).exists()
    assert verify_books() == []


def test_a_net_sell_withdrawal_with_broker_slippage_is_paid_in_full(alice, settings):
    # Issue 12, problem 3: at +10 bp a withdrawal of 5,000.00 paid 4,995.00 and was marked
    # done without saying so. With the window accepting 10 bp, its sells are sized to raise it.
    settings.PIES_BROKER_SLIPPAGE_BP = 10
    settings.PIES_MAX_SLIPPAGE_BP = 10
    account, _ = build_account(
        alice, {"slices": [{"name": "VTI", "target_percent": "100", "value": "10000"}]}
    )
    withdrawal = intent(account, "withdrawal", "5000.00")

    window = open_adhoc_window()
    run_window(window.pk)

    withdrawal.refresh_from_db()
    assert withdrawal.status == "done"
    assert paid(withdrawal) == D("5000.00")
    assert withdrawal.amount_paid == D("5000.00")
    sell = Order.objects.get(window=window, side="sell")
    assert sell.quantity == D("500.500501")  # 5,000.00 at the limit 9.99, rounded up
    assert sell.filled_amount == D("5000.00")  # 500.500501 x 9.99 = 5,000.0000...
    assert verify_books() == []


def test_a_withdrawal_that_sells_every_share_pays_what_they_raise_and_says_so(alice, settings):
    settings.PIES_BROKER_SLIPPAGE_BP = 40
    settings.PIES_MAX_SLIPPAGE_BP = 50
    account, _ = build_account(
        alice, {"slices": [{"name": "VTI", "target_percent": "100", "value": "1000"}]}
    )
    withdrawal = intent(account, "withdrawal", "1000.00")

    run_window(open_adhoc_window().pk)

    withdrawal.refresh_from_db()
    assert withdrawal.status == "done"
    assert withdrawal.amount_paid == paid(withdrawal) == D("996.00")  # 100 shares at 9.96
    assert "Every share was sold" in withdrawal.failure_reason
    assert Position.objects.get(account=account).quantity == 0
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(f"/account/{account.pk}/activity/").content.decode()
    assert "paid $996.00" in page and "paid 996.00 of 1,000.00" in page
    assert verify_books() == []


def test_a_withdrawal_of_what_is_left_after_one_selling_a_whole_position_is_not_refused(
    alice, settings
):
    # Found writing the state machine's check of it: the first withdrawal sells XXX whole,
    # which the plan counts at the limit price (497.50 for 500.00 at b = 50 bp); the second,
    # of exactly what the API then offered (1,000.00), was refused by the window ("worth
    # 997.50") at the very prices it was accepted at. It is taken, and paid from what the
    # shares raise: in full here, the broker filling at w.
    settings.PIES_MAX_SLIPPAGE_BP = 50
    account, _ = build_account(
        alice,
        {
            "slices": [
                {"name": "AAA", "target_percent": "100", "value": "1000"},
                {"name": "XXX", "target_percent": "0", "value": "500"},
            ]
        },
    )
    first = request_withdrawal(account=account, amount="500.00").intent
    rest = available_to_withdraw(account=account)
    assert rest == D("1000.00")
    second = request_withdrawal(account=account, amount=str(rest)).intent

    run_window(open_adhoc_window().pk)

    for item, amount in ((first, "500.00"), (second, "1000.00")):
        item.refresh_from_db()
        assert (item.status, item.failure_reason) == ("done", "")
        assert item.amount_paid == paid(item) == D(amount)
    assert sum(p.quantity for p in Position.objects.filter(account=account)) == 0
    assert verify_books() == []


# --- lot ranking at the window price --------------------------------------------------------


def test_tax_min_ranks_a_lot_bought_at_exactly_the_window_price_as_zero_gain(alice):
    # Withdrawing 10.00 at 3.33 sells 3.003004 shares for 10.00: 3.3299... a share. Ranked at
    # that, the short-term lot bought at 3.33 looked like a tiny loss and went first; at the
    # window price it is a zero gain, after the long-term loss.
    account, leaves = build_account(
        alice, {"slices": [{"name": "DDD", "target_percent": "100"}]}, price="3.33"
    )
    give(leaves["DDD"], D("3"), D("9.99"), acquired_on=date(2026, 1, 5))  # at 3.33: zero gain
    give(leaves["DDD"], D("3"), D("12.00"))  # long-term, 4.00 a share: a loss
    intent(account, "withdrawal", "10.00")

    run_window(open_adhoc_window().pk)

    disposals = list(Disposal.objects.filter(account=account).order_by("id"))
    assert [(d.acquired_on, d.quantity) for d in disposals] == [
        (LONG_AGO, D("3")),
        (date(2026, 1, 5), D("0.003004")),
    ]
    assert sum(d.proceeds for d in disposals) == D("10.00")  # realized at the actual proceeds
    assert verify_books() == []


# --- the guarantees post checks rather than prorate ----------------------------------------


def take_cash(account: Account, amount: str) -> None:
    """Cash leaving the account outside the window (a correction), with its counter-entry."""
    external = Account.system(AccountKind.EXTERNAL)
    for owner, signed in ((account, -D(amount)), (external, D(amount))):
        LedgerEntry.objects.create(account=owner, amount=signed, kind="correction", reference="t")
        Account.objects.filter(pk=owner.pk).update(cash=F("cash") + signed)


def test_post_refuses_to_prorate_buys_the_plan_funded(alice, settings):
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    account, _ = build_account(alice, pie_of(["AAA", "BBB"]))
    intent(account, "deposit", "100.00")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, fail_after_chunk=1)  # planned: 100.00 of buys, credited
    take_cash(account, "0.01")  # the plan's funding no longer holds

    with pytest.raises(FundingError, match=r"less than its buys of 100\.00"):
        run_window(window.pk)

    assert TradeWindow.objects.get(pk=window.pk).status == "failed"
    assert not Order.objects.filter(window=window, status="filled").exists()


def test_post_refuses_to_pay_short_a_withdrawal_that_keeps_shares(alice):
    account, leaves = build_account(alice, pie_of(["AAA", "BBB"]))
    for slice_ in leaves.values():
        give(slice_, D("10"), D("100.00"))
    add_cash(account, "50.00")
    intent(account, "withdrawal", "50.00")  # from cash: nothing is sold
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, fail_after_chunk=1)
    take_cash(account, "0.01")

    with pytest.raises(FundingError, match=r"would be paid 49\.99 of 50\.00 while the account"):
        run_window(window.pk)
    assert not LedgerEntry.objects.filter(account=account, kind="withdrawal").exists()


def test_verify_books_reports_a_negative_house_residue(alice):
    seller, leaves = build_account(alice, pie_of(["AAA"]))
    give(leaves["AAA"], D("10"), D("100.00"))
    intent(seller, "withdrawal", "33.33")
    window = open_adhoc_window()
    run_window(window.pk)
    assert verify_books() == []
    # Move a cent from the broker's side to the house's: the cash identity still holds.
    BlockOrder.objects.filter(window=window).update(
        house_cash=F("house_cash") - D("0.01"), settlement_amount=F("settlement_amount") + D("0.01")
    )

    [problem] = verify_books()
    assert "never negative" in problem and "-0.01 cash" in problem
