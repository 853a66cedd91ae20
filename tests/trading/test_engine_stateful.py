"""A Hypothesis state machine of the window engine (issue 12): random multi-account days.

Several accounts deposit, withdraw (any amount, exactly ``available_to_withdraw``, everything),
edit their pies (targets, new slices and sub-pies, moves by id, removals of held slices and of
whole sub-pies, nested ones included, re-adding what is being removed), rebalance, cancel;
prices move, dividends are paid; windows run against a broker slipping either way, within the
accepted slippage b and beyond it, crash after a random chunk, fail, and are retried or
abandoned; while a window owns an account every refusable edit is tried (during the run too, by
the broker) and must be refused. After every step (``engine_checks``): ``verify_books``; per
account, deposits + dividends + sell proceeds - buys - withdrawals paid = cash; per block of a
finished window the share and cash identities and each account's result by the formulas of
allocation.md; no removing slice without a pending removal; every fixed withdrawal paid exactly
unless it sold every share; a withdrawal is never refused by a window at the prices it was
accepted at. Each example ends with its failed windows retried and two clean windows, after
which no intent is pending and no slice is removing (every path ends).

Counts: ``make test`` (the "dev" profile) runs EXAMPLES[0] examples of at most STEPS[0] steps;
``make test-faults`` and CI (the "full" profile) run EXAMPLES[1] of STEPS[1]. Override with
PIES_STATEFUL_EXAMPLES / PIES_STATEFUL_STEPS; PIES_STATEFUL_VERBOSE=1 prints each example's
window history (window:status after every run or abandon).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pies.models import Pie, Slice
from pies.services import PieValidationError, open_account, save_pie_tree
from tests.trading import engine_checks as checks
from tests.trading.engine_helpers import LONG_AGO, plain_user
from tests.trading.engine_trees import PRICES, SYMBOLS, edited_tree, initial_tree
from trading.books import verify_books
from trading.brokers import BrokerRefused, Execution, NetBuy, NetSell, SimulatedBroker
from trading.models import (
    BlockOrder,
    Dividend,
    Intent,
    Lot,
    Position,
    Price,
    Security,
    TradeWindow,
    WindowAccount,
)
from trading.ownership import AccountInWindow
from trading.services import (
    IntentError,
    IntentNotCancellable,
    RebalanceAlreadyPending,
    available_to_withdraw,
    cancel_intent,
    pay_dividend,
    request_deposit,
    request_rebalance,
    request_withdrawal,
)
from trading.window import CannotAbandon, WindowFault, abandon_window, open_adhoc_window, run_window

D = Decimal
ACCOUNTS = 3
MAX_SLIPPAGE_BP = 50
FULL = settings.default.max_examples >= 1000
EXAMPLES = (4, 25)
STEPS = (30, 40)
SLIPPAGES = st.sampled_from([0, 10, 40, 50, -40, -50, 60, -60]) | st.integers(-80, 80)


def _count(name: str, counts: tuple[int, int]) -> int:
    return int(os.environ.get(name) or counts[FULL])


class Watching(SimulatedBroker):
    """The simulator at a given slippage that, once the window has frozen and planned, tries
    every refusable edit on the accounts it owns: each must be refused."""

    def __init__(self, slippage_bp: int, machine: EngineMachine, window_id: int) -> None:
        super().__init__(slippage_bp=slippage_bp)
        self.machine = machine
        self.window_id = window_id
        self.tried = False

    def _try_edits(self) -> None:
        if not self.tried:
            self.tried = True
            owned = WindowAccount.objects.filter(window_id=self.window_id)
            for account_id in owned.values_list("account_id", flat=True):
                self.machine.refused_edits(account_id)

    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        self._try_edits()
        return super().sell(orders)

    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        self._try_edits()
        return super().buy(orders)


def step(method: Any) -> Any:
    """A rule: the example is not clean until the checks after it pass."""

    @functools.wraps(method)
    def run(self: EngineMachine, *args: Any, **kwargs: Any) -> Any:
        self.clean = False
        return method(self, *args, **kwargs)

    return run


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()  # a savepoint inside the test's transaction: undone per example
        self.accounts: list[int] = []
        self.windows: dict[int, str] = {}  # window -> its status as the machine saw it
        self.snapshots: dict[int, dict[int, tuple[int, int, Decimal]]] = {}
        self.scheduled: dict[int, Any] = {}
        self.epoch = 0  # bumped by every price move
        self.window_epoch: dict[int, int] = {}
        self.asked_at: dict[int, int] = {}  # withdrawal intent -> epoch when it was accepted
        self.checked_windows: set[int] = set()
        self.checked_intents: set[int] = set()
        self.dividends = 0
        self.names = [0]
        self.users: list[Any] = []
        self.history: list[str] = []  # window:status after each run or abandon
        self.clean = False  # set by the checks after a step, cleared when a step starts

    def finish_the_day(self) -> None:
        """Every example ends the same way: each failed window retried at the window price
        (it must finish), then two clean windows. After them every intent is final and no
        slice is left removing: every path ends."""
        for window_id, status in sorted(self.windows.items()):
            if status == "failed":
                self._run(window_id, 0, None)
                assert self.windows[window_id] == "done"
        for _ in range(2):
            self._open_and_run(0, None)
            assert self.windows[max(self.windows)] == "done"
        self.books_hold()
        self.finished_windows_hold()
        left = Intent.objects.filter(account_id__in=self.accounts, status="pending")
        assert list(left.values_list("kind", "failure_reason")) == []
        assert not Slice.objects.filter(
            pie__account_id__in=self.accounts, status="removing"
        ).exists()

    def teardown(self) -> None:
        try:
            if self.clean:  # the steps and their checks passed: finish the day
                self.finish_the_day()
        finally:
            self._rollback()

    def _rollback(self) -> None:
        if os.environ.get("PIES_STATEFUL_VERBOSE"):
            from trading.models import Order

            print(
                "windows:",
                " ".join(self.history),
                "| intents:",
                Intent.objects.filter(account_id__in=self.accounts).count(),
                "| filled orders:",
                Order.objects.filter(status="filled").count(),
                "| slices removed:",
                Slice.objects.filter(status="removed").count(),
            )
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- setup ----------------------------------------------------------------------------

    @initialize(data=st.data())
    def open_accounts(self, data: Any) -> None:
        """Accounts with random pies and holdings bought long ago (no cash: cash comes from
        deposits and dividends only, so the money identity starts at zero)."""
        now = timezone.now() - timedelta(minutes=5)
        for symbol in SYMBOLS:
            security, _ = Security.objects.get_or_create(
                symbol=symbol, defaults={"name": f"{symbol} Fund"}
            )
            if symbol in PRICES:
                Price.objects.create(security=security, at=now, price=D(PRICES[symbol]))
        for n in range(ACCOUNTS):
            user = plain_user(f"investor{n}")
            account = open_account(user=user, kind="individual")
            self.accounts.append(account.pk)
            self.users.append(user)
            save_pie_tree(account=account, tree=initial_tree(data), version=1)
            for position in Position.objects.filter(account=account, security__symbol__in=PRICES):
                quantity = D(data.draw(st.integers(1_000_000, 300_000_000))) / 10**6
                if quantity:
                    Position.objects.filter(pk=position.pk).update(quantity=quantity)
                    cost = D(data.draw(st.integers(1, 500_000))) / 100
                    Lot.objects.create(
                        position=position,
                        acquired_on=LONG_AGO,
                        quantity=quantity,
                        remaining_quantity=quantity,
                        cost_basis=cost,
                        remaining_cost=cost,
                    )

    def owner(self, account_id: int) -> int | None:
        """The unfinished window that froze the account, as the machine saw the runs end."""
        held = [w for w, status in self.windows.items() if status == "failed"]
        found = WindowAccount.objects.filter(window_id__in=held, account_id=account_id).first()
        return found.window_id if found else None

    def account(self, data: Any) -> Any:
        from trading.models import Account

        return Account.objects.get(pk=data.draw(st.sampled_from(self.accounts)))

    # --- investors ------------------------------------------------------------------------

    @rule(data=st.data(), cents=st.integers(1, 500_000))
    @step
    def deposit(self, data: Any, cents: int) -> None:
        # Accepted even while a window owns the account; it waits for a later window.
        request_deposit(account=self.account(data), amount=str(D(cents) / 100))

    @rule(data=st.data(), how=st.sampled_from(["exact", "part", "all", "exact", "part"]))
    @step
    def withdraw(self, data: Any, how: str) -> None:
        account = self.account(data)
        available = available_to_withdraw(account=account)
        owned = self.owner(account.pk) is not None
        amount: str | None = None
        if how == "part" and available > D("0.01"):
            amount = str(D(data.draw(st.integers(1, int(available * 100) - 1))) / 100)
        elif how != "all":
            amount = str(available)
            if available <= 0:
                return  # nothing to ask for (an amount of zero is refused as an amount)
        try:
            result = request_withdrawal(account=account, amount=amount, withdraw_all=how == "all")
        except AccountInWindow:
            assert owned
            return
        except IntentError:
            assert not owned and available <= 0
            return
        assert not owned
        self.asked_at[result.intent.pk] = self.epoch

    @rule(data=st.data())
    @step
    def edit_pie(self, data: Any) -> None:
        account = self.account(data)
        root = Pie.objects.get(account=account, is_root=True)
        tree = edited_tree(account.pk, data, self.names)
        owned = self.owner(account.pk) is not None
        try:
            save_pie_tree(account=account, tree=tree, version=root.version)
        except AccountInWindow:
            assert owned
        except PieValidationError:
            assert not owned
        else:
            assert not owned
        if owned:
            assert Pie.objects.get(pk=root.pk).version == root.version

    @rule(data=st.data())
    @step
    def rebalance(self, data: Any) -> None:
        account = self.account(data)
        pies = list(Pie.objects.filter(account=account).values_list("pk", flat=True))
        owned = self.owner(account.pk) is not None
        try:
            request_rebalance(account=account, pie=data.draw(st.sampled_from(pies)))
        except AccountInWindow:
            assert owned
        except (RebalanceAlreadyPending, IntentError):
            assert not owned
        else:
            assert not owned

    @rule(data=st.data())
    @step
    def cancel(self, data: Any) -> None:
        pending = list(Intent.objects.filter(account_id__in=self.accounts, status="pending"))
        if not pending:
            return
        item = data.draw(st.sampled_from(pending))
        try:
            cancel_intent(intent=item)
        except IntentNotCancellable:
            assert item.window_id is not None or item.kind == "removal"
        else:
            assert item.window_id is None and item.kind != "removal"

    def refused_edits(self, account_id: int) -> None:
        """Every edit a window owning the account refuses: refused, and nothing changes."""
        from trading.models import Account

        account = Account.objects.get(pk=account_id)
        root = Pie.objects.get(account=account, is_root=True)
        tree = {"name": "Portfolio", "slices": []}
        before = Intent.objects.filter(account=account).count()
        for attempt in (
            lambda: save_pie_tree(account=account, tree=tree, version=root.version),
            lambda: request_withdrawal(account=account, amount="0.01"),
            lambda: request_withdrawal(account=account, withdraw_all=True),
            lambda: request_rebalance(account=account),
        ):
            with pytest.raises(AccountInWindow):
                attempt()
        for item in Intent.objects.filter(account=account, status="pending").exclude(window=None):
            with pytest.raises(IntentNotCancellable):
                cancel_intent(intent=item)
        assert Intent.objects.filter(account=account).count() == before
        assert Pie.objects.get(pk=root.pk).version == root.version

    @precondition(lambda self: any(s == "failed" for s in self.windows.values()))
    @rule()
    @step
    def edits_while_a_window_is_frozen(self) -> None:
        for window_id, status in self.windows.items():
            if status == "failed":
                for account_id in WindowAccount.objects.filter(window_id=window_id).values_list(
                    "account_id", flat=True
                ):
                    self.refused_edits(account_id)

    # --- the market -----------------------------------------------------------------------

    @rule(symbol=st.sampled_from(SYMBOLS), move=st.integers(-2000, 2500))
    @step
    def price_move(self, symbol: str, move: int) -> None:
        security = Security.objects.get(symbol=symbol)
        last = Price.objects.filter(security=security).order_by("-at").first()
        base = last.price if last else D("20.00")
        price = max((base * (10_000 + move) / 10_000).quantize(D("0.0001")), D("0.0100"))
        Price.objects.create(security=security, at=timezone.now(), price=price)
        self.epoch += 1

    @rule(symbol=st.sampled_from(list(PRICES)), cents=st.integers(1, 300))
    @step
    def dividend(self, symbol: str, cents: int) -> None:
        self.dividends += 1
        day = date(2099, 1, 1) + timedelta(days=self.dividends)
        dividend = Dividend.objects.create(
            security=Security.objects.get(symbol=symbol),
            ex_date=day,
            pay_date=day,
            amount_per_share=D(cents) / 100,
        )
        pay_dividend(dividend_id=dividend.pk, today=day)

    # --- windows --------------------------------------------------------------------------

    def _run(self, window_id: int, slippage: int, crash: int | None) -> None:
        broker = Watching(slippage, self, window_id)
        with override_settings(PIES_MAX_SLIPPAGE_BP=MAX_SLIPPAGE_BP):
            try:
                run_window(window_id, broker=broker, fail_after_chunk=crash, chunk_size=1)
            except WindowFault:
                pass
            except BrokerRefused:
                # Refused only beyond the accepted slippage; then nothing was bought.
                assert slippage > MAX_SLIPPAGE_BP
                assert not BlockOrder.objects.filter(window_id=window_id, net_side="buy").exists()
        window = TradeWindow.objects.get(pk=window_id)
        assert window.status in ("done", "failed"), (window.status, window.error)
        self.windows[window_id] = window.status
        self.history.append(f"{window_id}:{window.status}")

    @rule(slippage=SLIPPAGES, crash=st.none() | st.integers(1, 2 * ACCOUNTS + 1))
    @step
    def run_a_window(self, slippage: int, crash: int | None) -> None:
        self._open_and_run(slippage, crash)

    @rule(slippage=st.integers(MAX_SLIPPAGE_BP + 1, 90) | st.integers(-90, -MAX_SLIPPAGE_BP))
    @step
    def run_a_window_far_from_the_price(self, slippage: int) -> None:
        self._open_and_run(slippage, None)

    @rule(crash=st.integers(1, 2 * ACCOUNTS))
    @step
    def crash_a_window(self, crash: int) -> None:
        self._open_and_run(0, crash)

    @rule(data=st.data(), slippage=SLIPPAGES, crash=st.none() | st.integers(1, 2 * ACCOUNTS + 1))
    @step
    def busy_day(self, data: Any, slippage: int, crash: int | None) -> None:
        """A few investors act, the market moves, then a window runs: the engine's common day,
        dense enough that most windows have crossed and net blocks of several accounts."""
        actions = st.sampled_from(["deposit", "withdraw", "edit", "rebalance", "price"])
        for action in data.draw(st.lists(actions, min_size=2, max_size=8)):
            if action == "deposit":
                self.deposit(data=data, cents=data.draw(st.integers(1, 500_000)))
            elif action == "withdraw":
                self.withdraw(data=data, how=data.draw(st.sampled_from(["exact", "part", "all"])))
            elif action == "edit":
                self.edit_pie(data=data)
            elif action == "rebalance":
                self.rebalance(data=data)
            else:
                move = data.draw(st.integers(-2000, 2500))
                self.price_move(symbol=data.draw(st.sampled_from(SYMBOLS)), move=move)
        self._open_and_run(slippage, crash)

    def _open_and_run(self, slippage: int, crash: int | None) -> None:
        window = open_adhoc_window()
        self.window_epoch[window.pk] = self.epoch
        self.scheduled[window.pk] = window.scheduled_at
        self.snapshots[window.pk] = checks.positions_of(self.accounts)
        self._run(window.pk, slippage, crash)
        frozen = set(
            WindowAccount.objects.filter(window=window).values_list("account_id", flat=True)
        )
        for held in (
            w for w, status in self.windows.items() if status == "failed" and w != window.pk
        ):
            others = set(
                WindowAccount.objects.filter(window_id=held).values_list("account_id", flat=True)
            )
            assert not frozen & others, "a window froze accounts an unfinished window owns"

    @precondition(lambda self: any(s == "failed" for s in self.windows.values()))
    @rule(data=st.data(), slippage=SLIPPAGES, crash=st.none() | st.integers(1, 2 * ACCOUNTS + 1))
    @step
    def retry(self, data: Any, slippage: int, crash: int | None) -> None:
        failed = sorted(w for w, status in self.windows.items() if status == "failed")
        self._run(data.draw(st.sampled_from(failed)), slippage, crash)

    @precondition(lambda self: any(s == "failed" for s in self.windows.values()))
    @rule(data=st.data())
    @step
    def abandon(self, data: Any) -> None:
        failed = sorted(w for w, status in self.windows.items() if status == "failed")
        window_id = data.draw(st.sampled_from(failed))
        filled = BlockOrder.objects.filter(window_id=window_id).exists()
        bound = list(Intent.objects.filter(window_id=window_id).values_list("pk", flat=True))
        try:
            abandon_window(window_id=window_id, reason="the stateful test gave up on it")
        except CannotAbandon:
            # Refused once the execute phase recorded anything (a block, or its end: post
            # may have paid withdrawals out already).
            progress = TradeWindow.objects.get(pk=window_id).progress
            assert filled or progress.get("execute")
            return
        assert not filled
        self.windows[window_id] = "abandoned"
        self.history.append(f"{window_id}:abandoned")
        assert set(Intent.objects.filter(pk__in=bound).values_list("status", flat=True)) <= {
            "pending"
        }

    # --- after every step -----------------------------------------------------------------

    @invariant()
    def after_every_step(self) -> None:
        self.books_hold()
        self.finished_windows_hold()
        self.clean = True

    def books_hold(self) -> None:
        assert verify_books() == []
        assert checks.money_identity(self.accounts) == []
        assert checks.removing_without_intent(self.accounts) == []

    def finished_windows_hold(self) -> None:
        done = [w for w in checks.done_windows(self.windows) if w not in self.checked_windows]
        assert checks.block_identities(done) == []
        self.checked_windows.update(done)
        withdrawals = list(
            Intent.objects.filter(
                account_id__in=self.accounts, kind="withdrawal", status__in=["done", "failed"]
            ).exclude(pk__in=self.checked_intents)
        )
        fixed = [i for i in withdrawals if i.status == "done" and not i.withdraw_all]
        assert checks.short_withdrawals(fixed, self.snapshots, self.scheduled) == []
        for item in withdrawals:
            if item.status == "failed":
                # Refused by the window only when prices moved after it was accepted.
                assert self.asked_at[item.pk] < self.window_epoch[item.window_id], (
                    item.failure_reason
                )
        self.checked_intents.update(i.pk for i in withdrawals if i.status == "done")


@pytest.mark.properties
@pytest.mark.slow
@pytest.mark.django_db
def test_the_engine_keeps_its_books_through_random_days() -> None:
    run_state_machine_as_test(
        EngineMachine,
        settings=settings(
            max_examples=_count("PIES_STATEFUL_EXAMPLES", EXAMPLES),
            stateful_step_count=_count("PIES_STATEFUL_STEPS", STEPS),
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
