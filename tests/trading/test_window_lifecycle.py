"""A failed window is finished, never bypassed (product.md, Trade windows): it owns its
accounts until it is retried to done or abandoned; abandoning reverses it as if it had never
run; settings are the ones frozen at its start; verify_books checks every window state."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.trading.engine_helpers import build_account, intent, plain_user
from trading.books import verify_books
from trading.brokers import Broker, Execution, NetBuy, NetSell
from trading.models import (
    Account,
    Intent,
    LedgerEntry,
    Order,
    Position,
    TradeWindow,
    WindowAccount,
)
from trading.services import IntentNotCancellable, cancel_intent, request_deposit
from trading.window import CannotAbandon, WindowFault, abandon_window, open_adhoc_window, run_window

ONE_FUND = {"slices": [{"name": "AAA", "target_percent": "100"}]}


class BrokerDown(Exception):
    pass


class Refuses(Broker):
    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        raise BrokerDown("the broker is down")

    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        raise BrokerDown("the broker is down")


def failed_window() -> TradeWindow:
    """A window that froze and planned its accounts, then failed at the broker (no fill)."""
    window = open_adhoc_window()
    with pytest.raises(BrokerDown):
        run_window(window.pk, broker=Refuses())
    window.refresh_from_db()
    assert window.status == "failed"
    return window


def a_and_b(prefix: str = "") -> tuple[Account, Account, Intent, Intent]:
    """Problem 1's accounts: a deposits 800.00 into an empty pie, b withdraws 100.00 from
    1,000.00 of AAA (so the window sells)."""
    a, _ = build_account(plain_user(f"{prefix}a"), ONE_FUND)
    b, _ = build_account(
        plain_user(f"{prefix}b"),
        {"slices": [{"name": "AAA", "target_percent": "100", "value": "1000"}]},
    )
    return a, b, intent(a, "deposit", "800.00"), intent(b, "withdrawal", "100.00")


def shares(account: Account) -> Decimal:
    return sum((p.quantity for p in Position.objects.filter(account=account)), Decimal(0))


# --- problem 1: a failed window is never bypassed --------------------------------------------


def test_a_later_window_leaves_a_failed_windows_accounts_alone_and_the_retry_finishes_it(db):
    a, _b, _deposit, withdrawal = a_and_b()
    first = failed_window()
    a.refresh_from_db()
    assert a.cash == Decimal("800.00")  # credited by the plan, committed with its chunk
    with pytest.raises(IntentNotCancellable, match="failed and is being retried"):
        cancel_intent(intent=withdrawal)
    later_deposit = request_deposit(account=a, amount="50.00").intent

    second = open_adhoc_window()
    report = run_window(second.pk)

    # The ad-hoc window froze neither account: a's credited cash is not invested twice, and
    # a's new deposit waits for a window after the failed one.
    assert not WindowAccount.objects.filter(window=second).exists()
    assert report["skipped"]["accounts_held_by_unfinished_windows"] == 2
    assert not Order.objects.filter(window=second).exists()
    later_deposit.refresh_from_db()
    assert (later_deposit.status, later_deposit.window_id) == ("pending", None)
    assert verify_books() == []

    run_window(first.pk)  # the retry (the tick's or staff's) finishes it

    first.refresh_from_db()
    a.refresh_from_db()
    assert first.status == "done"
    assert shares(a) == Decimal("80")  # 800.00 at 10.00, on a's books
    assert a.cash == Decimal("0.00")
    withdrawal.refresh_from_db()
    assert withdrawal.status == "done"
    third = open_adhoc_window()
    run_window(third.pk)
    later_deposit.refresh_from_db()
    assert (later_deposit.status, later_deposit.window_id) == ("done", third.pk)
    assert verify_books() == []


def test_a_window_frozen_while_another_fails_takes_the_failed_windows_accounts_afterwards(db):
    a, _, _, _ = a_and_b()
    first = failed_window()
    request_deposit(account=a, amount="30.00")
    run_window(first.pk)
    assert TradeWindow.objects.get(pk=first.pk).status == "done"

    after = open_adhoc_window()
    run_window(after.pk)

    assert WindowAccount.objects.filter(window=after, account=a).exists()
    assert shares(a) == Decimal("83")
    assert verify_books() == []


# --- abandon ---------------------------------------------------------------------------------


def books_of(account: Account) -> dict[str, Any]:
    account.refresh_from_db()
    return {
        "cash": account.cash,
        "positions": sorted(
            (p.security.symbol, p.quantity)
            for p in Position.objects.filter(account=account).select_related("security")
        ),
        "intents": sorted(
            (i.kind, i.amount, i.status, i.failure_reason)
            for i in Intent.objects.filter(account=account)
        ),
        "ledger_total": sum(
            (e.amount for e in LedgerEntry.objects.filter(account=account)), Decimal(0)
        ),
    }


def test_an_abandoned_window_is_reversed_and_the_next_window_runs_as_if_it_never_had(
    make_user,
):
    a, b, deposit, withdrawal = a_and_b("x")
    window = failed_window()
    sam = make_user("sam", is_staff=True)

    outcome = abandon_window(
        window_id=window.pk, reason="broker outage, orders never sent", user=sam
    )

    window.refresh_from_db()
    assert (window.status, window.abandon_reason, window.abandoned_by) == (
        "abandoned",
        "broker outage, orders never sent",
        sam,
    )
    assert window.report["abandoned"]["entries_reversed"] == 2  # a's credit and its counter
    assert outcome.intents_released == 2
    a.refresh_from_db()
    assert a.cash == Decimal("0.00")
    for item in (deposit, withdrawal):
        item.refresh_from_db()
        assert (item.status, item.window_id, item.finished_at) == ("pending", None, None)
    assert set(Order.objects.filter(window=window).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert Order.objects.filter(window=window).count() == 2  # nothing deleted
    assert LedgerEntry.objects.filter(window=window).count() == 4
    assert verify_books() == []
    # Cancelling is possible again: the abandoned window released the account.
    spare = request_deposit(account=b, amount="5.00").intent
    cancel_intent(intent=spare)

    run_window(open_adhoc_window().pk)
    abandoned_then_run = [books_of(a), books_of(b)]
    assert verify_books() == []

    # The same accounts and intents through one clean window end on the same books.
    ca, cb, _, _ = a_and_b("clean")
    Intent.objects.create(account=cb, kind="deposit", amount=Decimal("5.00"), status="cancelled")
    run_window(open_adhoc_window().pk)
    assert [books_of(ca), books_of(cb)] == abandoned_then_run
    assert verify_books() == []


def test_a_window_with_a_recorded_fill_cannot_be_abandoned_only_retried(make_user):
    for n in range(2):
        build_account(plain_user(f"u{n}"), ONE_FUND)
        intent(Account.objects.get(owner__username=f"u{n}"), "deposit", "100.00")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        # two plan chunks, then the first post chunk: executed, half posted
        run_window(window.pk, chunk_size=1, fail_after_chunk=3)
    window.refresh_from_db()
    assert window.status == "failed"
    assert verify_books() == []  # as far as it got: one account posted, the other not yet

    with pytest.raises(CannotAbandon, match="it can only be retried"):
        abandon_window(window_id=window.pk, reason="no", user=None)

    window.refresh_from_db()
    assert window.status == "failed"
    run_window(window.pk)
    window.refresh_from_db()
    assert window.status == "done"
    assert verify_books() == []


def test_only_a_failed_window_with_a_reason_is_abandoned(db):
    build_account(plain_user("u"), ONE_FUND)
    done = open_adhoc_window()
    run_window(done.pk)
    with pytest.raises(CannotAbandon, match="only a failed window"):
        abandon_window(window_id=done.pk, reason="why not", user=None)
    with pytest.raises(CannotAbandon, match="reason is required"):
        abandon_window(window_id=done.pk, reason="  ", user=None)
    with pytest.raises(CannotAbandon, match="no window"):
        abandon_window(window_id=done.pk + 100, reason="x", user=None)
    assert verify_books() == []


def test_the_command_abandons_a_failed_window_and_says_why_it_cannot(make_user, capsys):
    _a, _b, deposit, _ = a_and_b()
    window = failed_window()
    make_user("opal", is_staff=True)

    call_command("abandon_trade_window", str(window.pk), "--reason", "bad prices", "--by", "opal")

    assert "abandoned: 2 ledger entries reversed" in capsys.readouterr().out
    window.refresh_from_db()
    assert (window.status, window.abandoned_by.username) == ("abandoned", "opal")
    with pytest.raises(CommandError, match="only a failed window"):
        call_command("abandon_trade_window", str(window.pk), "--reason", "again")
    deposit.refresh_from_db()
    assert deposit.status == "pending"
    assert verify_books() == []


# --- settings frozen at the window's start ---------------------------------------------------


def test_settings_saved_while_a_window_runs_wait_for_the_next_window(db, settings):
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    first, _ = build_account(plain_user("first"), ONE_FUND)
    second, _ = build_account(
        plain_user("second"),
        {"slices": [{"name": "AAA", "target_percent": "100", "value": "100"}]},
        lot_method="fifo",
    )
    intent(first, "deposit", "10.00")
    intent(second, "deposit", "30.00")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, chunk_size=1, fail_after_chunk=1)  # froze both, planned first

    # Saved (settings are never refused), but this window keeps the ones it froze.
    Account.objects.filter(pk=second.pk).update(auto_invest=False, min_cash=Decimal("30.00"))
    run_window(window.pk)

    second.refresh_from_db()
    assert (second.auto_invest, second.min_cash) == (False, Decimal("30.00"))
    assert shares(second) == Decimal("13")  # the 30.00 deposit was invested anyway
    assert second.cash == Decimal("0.00")
    row = WindowAccount.objects.get(window=window, account=second)
    assert (row.auto_invest, row.min_cash, row.lot_method) == (True, Decimal("0.00"), "fifo")
    assert verify_books() == []


def test_the_lot_method_frozen_at_the_start_is_the_one_the_sells_use(db):
    from datetime import date

    from trading.models import Lot

    account, leaves = build_account(
        plain_user("lots"), {"slices": [{"name": "AAA", "target_percent": "100"}]}
    )
    position = Position.objects.get(slice=leaves["AAA"])
    for acquired, cost in ((date(2020, 1, 2), "50.00"), (date(2021, 1, 4), "150.00")):
        Lot.objects.create(
            position=position,
            acquired_on=acquired,
            quantity=10,
            remaining_quantity=10,
            cost_basis=Decimal(cost),
            remaining_cost=Decimal(cost),
        )
    Position.objects.filter(pk=position.pk).update(quantity=20)
    Account.objects.filter(pk=account.pk).update(lot_method="fifo")
    intent(account, "withdrawal", "100.00")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, fail_after_chunk=1)  # planned, not posted

    Account.objects.filter(pk=account.pk).update(lot_method="hifo")
    run_window(window.pk)

    sold = Lot.objects.get(position=position, acquired_on=date(2020, 1, 2))
    assert sold.remaining_quantity == 0  # fifo: the oldest lot, not hifo's dearest
    assert verify_books() == []


# --- verify_books covers every window state --------------------------------------------------


def test_verify_books_checks_a_failed_window_as_far_as_it_got(db):
    for n in range(2):
        account, _ = build_account(plain_user(f"u{n}"), ONE_FUND)
        intent(account, "deposit", "100.00")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, chunk_size=1, fail_after_chunk=3)  # executed, half posted
    assert verify_books() == []
    clearing = Account.system("clearing")
    posted = Order.objects.get(window=window, status="filled")

    # Shares allocated beyond what the block delivered.
    Order.objects.filter(pk=posted.pk).update(quantity=posted.quantity + 11)
    assert any("posted buys 21.000000 of 20.000000" in line for line in verify_books())
    Order.objects.filter(pk=posted.pk).update(quantity=posted.quantity)

    # Cash on the clearing account that neither the settlement nor a posted order explains.
    external = Account.system("external")
    for account, amount in ((clearing, Decimal("5.00")), (external, Decimal("-5.00"))):
        LedgerEntry.objects.create(
            account=account, amount=amount, kind="correction", reference="t", window=window
        )
        Account.objects.filter(pk=account.pk).update(cash=account.cash + amount)
    assert verify_books() == [
        f"window {window.pk} (failed): the clearing account holds -95.00 for it, but the "
        "orders posted less the broker settlement come to -100.00 (it holds exactly the "
        "unposted amounts)"
    ]


def test_verify_books_checks_that_an_abandoned_window_left_nothing_behind(db):
    _a, _b, deposit, _ = a_and_b()
    window = failed_window()
    abandon_window(window_id=window.pk, reason="test", user=None)
    assert verify_books() == []

    Intent.objects.filter(pk=deposit.pk).update(window=window)
    assert verify_books() == [
        f"window {window.pk} (abandoned): intent {deposit.pk} is still bound to it; an "
        "abandoned window leaves nothing behind"
    ]


def test_verify_books_reports_a_window_bypassed_before_windows_owned_their_accounts(db):
    """Problem 1 as it happened before: the ad-hoc window planned the failed window's
    accounts, and the failed window could never finish. verify_books says so and why."""
    a, _b, _, _ = a_and_b()
    first = failed_window()
    # What the old freeze did: it did not look at failed windows.
    TradeWindow.objects.filter(pk=first.pk).update(status="done")
    second = open_adhoc_window()
    run_window(second.pk)
    TradeWindow.objects.filter(pk=first.pk).update(status="failed")
    assert shares(a) == Decimal("80")  # a's credited cash, invested by the second window

    problems = verify_books()
    assert problems == [
        f"window {first.pk} (failed) still owns 1 account(s) (first: account {a.pk}) that "
        f"window {second.pk} (done), frozen after it, planned as well: it was bypassed "
        "(before windows owned their accounts). Review those accounts, then retry it, or "
        "abandon it if it has no fill"
    ]
