"""The engine's shared SQL pieces and its statements, each on its own (docs/architecture.md,
"Engine SQL a reader can follow"): the one "latest price at or before t" fragment, read by the
pages, the snapshots and the window alike; the freeze's both-windows rule, the same as the
calendar's; execute's record of a step's blocks; close's residues to the house."""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from tests.trading.engine_helpers import add_cash, build_account, intent, security
from trading.brokers import Execution
from trading.calendar import MORNING, is_early_close, trades_in
from trading.models import (
    Account,
    AccountKind,
    BlockOrder,
    Fill,
    LedgerEntry,
    Lot,
    Order,
    Position,
    TradeWindow,
    WindowAccount,
)
from trading.valuation import account_value, latest_prices
from trading.window.common import Run, SystemAccounts, window_prices
from trading.window.execute import CROSS_REFERENCE, _record
from trading.window.freeze import freeze
from trading.window.net import Block
from trading.window.post import close

D = Decimal


def test_the_latest_price_is_the_last_one_at_or_before_t_and_a_later_one_is_not_seen(
    make_security,
):
    t = timezone.now() - timedelta(days=1)
    vti = make_security("VTI", "90.00", at=t - timedelta(days=2))
    make_security("VTI", "95.00", at=t)  # exactly at t: taken
    make_security("VTI", "99.00", at=t + timedelta(hours=1))  # after t: not yet
    bnd = make_security("BND", "70.00", at=t + timedelta(seconds=1))  # only after t
    new = make_security("NEW", None)  # never priced

    assert latest_prices([vti.pk, bnd.pk, new.pk], t) == {vti.pk: (D("95.00"), t)}
    assert latest_prices([vti.pk, bnd.pk, new.pk]) == {
        vti.pk: (D("99.00"), t + timedelta(hours=1)),
        bnd.pk: (D("70.00"), t + timedelta(seconds=1)),
    }
    prices, symbols = window_prices(t)
    assert prices == {vti.pk: D("95.00")}  # no price yet: no window price, still a symbol
    assert symbols == {vti.pk: "VTI", bnd.pk: "BND", new.pk: "NEW"}


def held(a: str, b: str) -> dict:
    return {
        "slices": [
            {"name": "AAA", "target_percent": "50", "value": a},
            {"name": "BBB", "target_percent": "50", "value": b},
        ]
    }


@pytest.fixture
def accounts_around_the_threshold(make_user) -> dict[str, int]:
    """Accounts with a deposit pending, by name: small ones of each preference, and afternoon
    accounts worth 25,000.00 (in shares, or in cash) or a cent less (also when only the holdings'
    fractions of a cent would make up that cent)."""
    found = {}
    for name, holdings, cash, preference in [
        ("morning", ("60", "40"), "0", "morning"),
        ("afternoon", ("60", "40"), "0", "afternoon"),
        ("exactly", ("20000", "5000"), "0", "afternoon"),
        ("a cent short", ("19999.99", "5000"), "0", "afternoon"),
        # 25,000.000 exactly, but 24,999.99 as the pages show it (each holding to the cent)
        ("fractions of a cent", ("12499.995", "12500.005"), "0", "afternoon"),
        ("in cash", ("0", "0"), "25000.00", "afternoon"),
        ("cash and shares", ("10000", "0"), "14999.99", "afternoon"),
    ]:
        account, _ = build_account(make_user(name), held(*holdings), window_preference=preference)
        if cash != "0":
            add_cash(account, cash)
        intent(account, "deposit", "10.00")
        found[name] = account.pk
    return found


def running(session: str = "adhoc", day: date = date(2025, 3, 11)) -> Run:
    """A running window's run, before any phase."""
    window = TradeWindow.objects.create(
        trade_date=day, session=session, scheduled_at=timezone.now(), status="running"
    )
    return Run(
        window_id=window.pk,
        trade_date=day,
        session=session,
        scheduled_at=window.scheduled_at,
        chunk_size=100,
        system=SystemAccounts.load(),
        progress={},
    )


def frozen(session: str, day: date) -> set[int]:
    run = running(session, day)
    freeze(run)
    return set(
        WindowAccount.objects.filter(window=run.window_id).values_list("account_id", flat=True)
    )


def test_a_morning_window_freezes_morning_accounts_and_those_worth_25000_in_cash_and_shares(
    accounts_around_the_threshold,
):
    ids = accounts_around_the_threshold
    tuesday = date(2025, 3, 11)
    assert not is_early_close(tuesday)

    taken = frozen(MORNING, tuesday)

    assert {name for name, pk in ids.items() if pk in taken} == {"morning", "exactly", "in cash"}
    # The freeze's SQL and the calendar's rule (what the pages show) agree, account by account.
    for account in Account.objects.filter(pk__in=ids.values()):
        rule = trades_in(
            session=MORNING,
            early_close=False,
            preference=account.window_preference,
            value=account_value(account=account),
        )
        assert rule == (account.pk in taken), account.owner.username


@pytest.mark.parametrize(
    ("session", "day"),
    [("adhoc", date(2025, 3, 11)), ("morning", date(2025, 11, 28))],  # the day after Thanksgiving
)
def test_an_adhoc_window_and_an_early_close_morning_freeze_every_account(
    accounts_around_the_threshold, session, day
):
    assert frozen(session, day) == set(accounts_around_the_threshold.values())


def test_the_freeze_statement_is_not_compiled_and_leaves_the_session_as_it_was(
    transactional_db, accounts_around_the_threshold, monkeypatch
):
    """The freeze's row guesses make it look costly enough to compile (JIT: a second of its
    6.5 s at 100,000 accounts, measured); it runs with jit off, for its transaction only."""
    # the module, not the function of the same name that the package exports
    freeze_module = importlib.import_module("trading.window.freeze")

    seen: list[str] = []
    real_fetch = freeze_module.fetch

    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit')")
            return cursor.fetchone()[0]

    def fetch_seeing_jit(sql, params):
        seen.append(jit())
        return real_fetch(sql, params)

    monkeypatch.setattr(freeze_module, "fetch", fetch_seeing_jit)
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")  # the session's own setting, whatever the server's
    assert frozen("adhoc", date(2025, 3, 11)) == set(accounts_around_the_threshold.values())

    assert seen == ["off"]
    assert jit() == "on"


def test_execute_records_a_net_sell_block_with_its_cross_and_broker_fills_and_settlement(db):
    vti = security("VTI")
    run = running()
    # 3 shares sold, 1 bought: 1 crosses at w, the broker sells 2 at 9.97 and pays 19.94.
    block = Block(
        vti.pk,
        "VTI",
        D("10.00"),
        D("9.9500"),
        buy_quantity=D("1"),
        buy_amount=D("10.00"),
        sell_quantity=D("3"),
    )
    sold = Execution(vti.pk, D("2"), D("19.94"), D("9.97"), "broker-1")

    _record(run, [(block, sold)], finished=False)

    recorded = BlockOrder.objects.get(window=run.window_id)
    assert (recorded.net_side, recorded.buy_quantity, recorded.sell_quantity) == (
        "sell",
        D("1"),
        D("3"),
    )
    assert (recorded.crossed_quantity, recorded.net_quantity) == (D("1"), D("2"))
    assert (recorded.window_price, recorded.limit_price, recorded.fill_price) == (
        D("10.00"),
        D("9.95"),
        D("9.97"),
    )
    assert (recorded.settlement_amount, recorded.house_quantity, recorded.house_cash) == (
        D("-19.94"),
        D("0"),
        D("0"),
    )
    assert list(
        Fill.objects.filter(block=recorded).values_list(
            "side", "quantity", "price", "broker_reference"
        )
    ) == [
        ("buy", D("1"), D("10.00"), CROSS_REFERENCE),
        ("sell", D("2"), D("9.97"), "broker-1"),
    ]
    # The broker's cash settles through CLEARING: the outside world pays it in.
    entries = LedgerEntry.objects.filter(window_id=run.window_id)
    assert sorted(entries.values_list("account__kind", "amount", "kind")) == [
        (AccountKind.CLEARING, D("19.94"), "settlement"),
        (AccountKind.EXTERNAL, D("-19.94"), "settlement"),
    ]
    assert Account.system(AccountKind.CLEARING).cash == D("19.94")
    saved = TradeWindow.objects.get(pk=run.window_id)
    assert (saved.phase, saved.progress["blocks"], saved.progress["fills"]) == ("execute", 1, 2)
    assert "execute" not in saved.progress  # the buys are still to send


def test_close_gives_the_house_what_the_accounts_did_not_get_and_marks_the_window_done(alice):
    account, leaves = build_account(alice, held("0", "0"))
    position = Position.objects.get(slice=leaves["AAA"])
    run = running()
    # The broker delivered 10 shares for 99.98; the account's buy got 9.999999 for 99.99.
    BlockOrder.objects.create(
        window_id=run.window_id,
        security=position.security,
        buy_quantity=D("9.999999"),
        buy_amount=D("99.99"),
        net_side="buy",
        net_quantity=D("10"),
        window_price=D("10.00"),
        fill_price=D("10.00"),
        settlement_amount=D("99.98"),
    )
    Order.objects.create(
        window_id=run.window_id,
        account=account,
        position=position,
        security=position.security,
        side="buy",
        status="filled",
        amount=D("99.99"),
        quantity=D("9.999999"),
        price=D("10.00"),
        filled_amount=D("99.99"),
        reason="deposit",
    )
    Account.objects.filter(kind=AccountKind.CLEARING).update(cash=D("0.01"))  # what post left

    report = close(run, late_seconds=None)

    block = BlockOrder.objects.get(window=run.window_id)
    assert (block.house_quantity, block.house_cash) == (D("0.000001"), D("0.01"))
    house = Account.system(AccountKind.HOUSE)
    shares = Position.objects.get(account=house, security=position.security, slice=None)
    assert shares.quantity == D("0.000001")
    assert list(Lot.objects.filter(position=shares).values_list("quantity", "cost_basis")) == [
        (D("0.000001"), D("0"))
    ]
    entries = LedgerEntry.objects.filter(window_id=run.window_id, kind="residue")
    assert sorted(entries.values_list("account__kind", "amount")) == [
        (AccountKind.CLEARING, D("-0.01")),
        (AccountKind.HOUSE, D("0.01")),
    ]
    assert (house.cash, Account.system(AccountKind.CLEARING).cash) == (D("0.01"), D("0"))
    assert report["house"] == {"shares": "0.000001", "cash": "0.01"}
    assert (report["status"], report["orders"], report["blocks"]) == ("done", 1, 1)
    assert report["counts"]["orders"] == {"filled": 1}
    window = TradeWindow.objects.get(pk=run.window_id)
    assert (window.status, window.phase, window.report) == ("done", "done", report)
    assert window.progress["close"] is True
