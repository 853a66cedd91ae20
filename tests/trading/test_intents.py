from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from pies.models import Pie, Slice
from pies.services import open_account
from trading.models import (
    Account,
    AccountKind,
    Intent,
    IntentKind,
    IntentStatus,
    LedgerEntry,
    LedgerKind,
    Lot,
    Position,
    TradeWindow,
)
from trading.services import (
    IdempotencyConflict,
    IntentError,
    IntentNotCancellable,
    RebalanceAlreadyPending,
    available_to_withdraw,
    cancel_intent,
    request_deposit,
    request_rebalance,
    request_withdrawal,
)
from trading.valuation import window_for_account


def fund(account: Account, amount: str) -> None:
    """Give an account cash the way a deposit would: a ledger pair and the cash cache."""
    value = Decimal(amount)
    external = Account.system(AccountKind.EXTERNAL)
    for who, signed in ((account, value), (external, -value)):
        LedgerEntry.objects.create(
            account=who, amount=signed, kind=LedgerKind.DEPOSIT, reference="test:fund"
        )
        Account.objects.filter(pk=who.pk).update(cash=who.cash + signed)
        who.refresh_from_db()


def hold(account: Account, security, quantity: str, cost: str, *, target_bp: int = 10000) -> Slice:
    root = Pie.objects.get(account=account, is_root=True)
    slice_ = Slice.objects.create(pie=root, security=security, target_bp=target_bp)
    position = Position.objects.create(
        account=account, security=security, slice=slice_, quantity=Decimal(quantity)
    )
    Lot.objects.create(
        position=position,
        acquired_on=date(2025, 1, 2),
        quantity=Decimal(quantity),
        remaining_quantity=Decimal(quantity),
        cost_basis=Decimal(cost),
        remaining_cost=Decimal(cost),
    )
    return slice_


# --- deposits and idempotency ------------------------------------------------------------------


def test_a_deposit_queues_a_pending_intent(alice_account):
    result = request_deposit(account=alice_account, amount="250.5")
    assert result.created
    intent = result.intent
    assert (intent.kind, intent.status, intent.amount) == ("deposit", "pending", Decimal("250.50"))
    assert intent.window_id is None


def test_the_same_key_and_body_returns_the_first_intent(alice_account):
    first = request_deposit(account=alice_account, amount="100", idempotency_key="k-1")
    again = request_deposit(account=alice_account, amount="100.00", idempotency_key="k-1")
    assert first.created and not again.created
    assert again.intent.pk == first.intent.pk
    assert Intent.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict(alice_account):
    request_deposit(account=alice_account, amount="100", idempotency_key="k-1")
    with pytest.raises(IdempotencyConflict):
        request_deposit(account=alice_account, amount="101", idempotency_key="k-1")
    assert Intent.objects.count() == 1


def test_a_caller_fingerprint_decides_what_counts_as_the_same_body(alice_account):
    request_deposit(account=alice_account, amount="100", idempotency_key="k", fingerprint="a")
    with pytest.raises(IdempotencyConflict):
        request_deposit(account=alice_account, amount="100", idempotency_key="k", fingerprint="b")


def test_one_key_used_for_a_deposit_and_then_a_withdrawal_is_a_conflict(alice_account):
    fund(alice_account, "500.00")
    request_deposit(account=alice_account, amount="100", idempotency_key="k-1")
    with pytest.raises(IdempotencyConflict):
        request_withdrawal(account=alice_account, amount="100", idempotency_key="k-1")


def test_keys_are_per_account(alice_account, bob_account):
    request_deposit(account=alice_account, amount="100", idempotency_key="shared")
    result = request_deposit(account=bob_account, amount="200", idempotency_key="shared")
    assert result.created
    assert Intent.objects.count() == 2


def test_an_overlong_key_is_refused(alice_account):
    with pytest.raises(IntentError) as error:
        request_deposit(account=alice_account, amount="1", idempotency_key="x" * 256)
    assert error.value.field == "idempotency_key"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_create_one_intent(make_user):
    account = open_account(user=make_user("carol"), kind="individual")
    barrier = threading.Barrier(20)
    results: list = []
    errors: list = []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                request_deposit(account=account, amount="42.00", idempotency_key="same-key")
            )
        except Exception as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == 20
    assert sum(result.created for result in results) == 1
    assert len({result.intent.pk for result in results}) == 1
    assert Intent.objects.filter(account=account).count() == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("NaN", "Enter a finite amount."),
        ("inf", "Enter a finite amount."),
        ("-1", "Enter an amount greater than zero."),
        ("0", "Enter an amount greater than zero."),
        ("1e3", "Enter the amount as a plain number, without an exponent."),
        ("0.001", "Use at most two decimals."),
        ("1000000.01", "Enter at most 1,000,000.00."),
        ("abc", "Enter the amount as a number, like 100.00."),
        ("", "Enter an amount."),
        (None, "Enter an amount."),
    ],
)
def test_bad_deposit_amounts_get_a_clear_message_and_change_nothing(alice_account, raw, message):
    with pytest.raises(IntentError) as error:
        request_deposit(account=alice_account, amount=raw, idempotency_key="k")
    assert error.value.field == "amount"
    assert error.value.errors == {"amount": [message]}
    assert not Intent.objects.exists()


@pytest.mark.parametrize("raw", ["0.01", "1000000.00", 5, "  12.3 "])
def test_deposit_amounts_at_the_limits_are_accepted(alice_account, raw):
    assert request_deposit(account=alice_account, amount=raw).created


def test_system_accounts_take_no_intents(db):
    with pytest.raises(IntentError):
        request_deposit(account=Account.system(AccountKind.HOUSE), amount="10")


def test_an_intent_knows_the_window_that_will_take_it(alice_account):
    result = request_deposit(account=alice_account, amount="10")
    expected = window_for_account(alice_account, result.intent.created_at)
    assert result.window == expected
    assert result.window.starts_at > result.intent.created_at


# --- withdrawals -------------------------------------------------------------------------------


def test_a_withdrawal_up_to_the_account_value_is_accepted(alice_account, make_security):
    fund(alice_account, "100.00")
    hold(alice_account, make_security("VTI", "200.00"), "2", "300.00")
    assert available_to_withdraw(account=alice_account) == Decimal("500.00")
    result = request_withdrawal(account=alice_account, amount="500.00")
    assert result.created
    assert result.intent.amount == Decimal("500.00")


def test_a_withdrawal_over_the_available_value_is_refused(alice_account, make_security):
    fund(alice_account, "100.00")
    hold(alice_account, make_security("VTI", "200.00"), "2", "300.00")
    with pytest.raises(IntentError) as error:
        request_withdrawal(account=alice_account, amount="500.01")
    assert error.value.errors == {"amount": ["You can withdraw at most 500.00."]}
    assert not Intent.objects.exists()


def test_pending_withdrawals_reduce_what_can_still_be_withdrawn(alice_account):
    fund(alice_account, "300.00")
    request_withdrawal(account=alice_account, amount="200.00")
    with pytest.raises(IntentError) as error:
        request_withdrawal(account=alice_account, amount="100.01")
    assert error.value.message == "You can withdraw at most 100.00."
    assert request_withdrawal(account=alice_account, amount="100.00").created


def test_a_replayed_withdrawal_is_not_counted_against_itself(alice_account):
    fund(alice_account, "300.00")
    first = request_withdrawal(account=alice_account, amount="300.00", idempotency_key="w")
    again = request_withdrawal(account=alice_account, amount="300.00", idempotency_key="w")
    assert again.intent.pk == first.intent.pk and not again.created


def test_withdraw_all_needs_no_amount_and_blocks_further_withdrawals(alice_account):
    fund(alice_account, "50.00")
    result = request_withdrawal(account=alice_account, withdraw_all=True)
    assert result.intent.withdraw_all and result.intent.amount is None
    with pytest.raises(IntentError) as error:
        request_withdrawal(account=alice_account, amount="1.00")
    assert error.value.message == "There is nothing left to withdraw from this account."


def test_withdraw_all_with_an_amount_is_refused(alice_account):
    fund(alice_account, "50.00")
    with pytest.raises(IntentError):
        request_withdrawal(account=alice_account, amount="10", withdraw_all=True)


def test_an_empty_account_has_nothing_to_withdraw(alice_account):
    with pytest.raises(IntentError):
        request_withdrawal(account=alice_account, withdraw_all=True)


@pytest.mark.parametrize("raw", ["NaN", "-5", "0", "1e2", "1.001", "abc"])
def test_bad_withdrawal_amounts_are_refused(alice_account, raw):
    fund(alice_account, "500.00")
    with pytest.raises(IntentError) as error:
        request_withdrawal(account=alice_account, amount=raw)
    assert error.value.field == "amount"


# --- rebalances --------------------------------------------------------------------------------


def test_one_pending_rebalance_per_pie(alice_account, make_security):
    hold(alice_account, make_security("VTI"), "1", "100.00")
    first = request_rebalance(account=alice_account)
    assert first.intent.pie.is_root
    with pytest.raises(RebalanceAlreadyPending):
        request_rebalance(account=alice_account)
    cancel_intent(intent=first.intent)
    assert request_rebalance(account=alice_account).created


def test_a_rebalance_of_someone_elses_pie_is_like_an_unknown_pie(alice_account, bob_account):
    bobs_pie = Pie.objects.get(account=bob_account, is_root=True)
    for pie in (bobs_pie, bobs_pie.pk, "999999", "nonsense"):
        with pytest.raises(IntentError) as error:
            request_rebalance(account=alice_account, pie=pie)
        assert error.value.errors == {"pie": ["Choose one of this account's pies."]}


def test_a_pie_without_slices_cannot_be_rebalanced(alice_account):
    with pytest.raises(IntentError) as error:
        request_rebalance(account=alice_account)
    assert error.value.field == "pie"


@pytest.mark.django_db(transaction=True)
def test_concurrent_rebalances_without_keys_leave_one_pending(make_user, make_security):
    account = open_account(user=make_user("dave"), kind="individual")
    hold(account, make_security("VTI"), "1", "100.00")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            request_rebalance(account=account)
            outcomes.append("created")
        except RebalanceAlreadyPending:
            outcomes.append("pending")
        except Exception as error:
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["created"] + ["pending"] * 7
    assert Intent.objects.filter(kind=IntentKind.REBALANCE).count() == 1


# --- cancelling --------------------------------------------------------------------------------


def test_cancelling_before_the_window_starts_cancels(alice_account):
    intent = request_deposit(account=alice_account, amount="10").intent
    cancelled = cancel_intent(intent=intent)
    assert cancelled.status == IntentStatus.CANCELLED
    assert cancelled.finished_at is not None
    intent.refresh_from_db()
    assert intent.status == IntentStatus.CANCELLED


def test_cancelling_after_the_window_froze_the_intent_is_refused(alice_account):
    intent = request_deposit(account=alice_account, amount="10").intent
    now = timezone.now()
    window = TradeWindow.objects.create(
        trade_date=now.date(), session="adhoc", scheduled_at=now, status="running"
    )
    Intent.objects.filter(pk=intent.pk).update(window=window)  # what the freeze phase does
    with pytest.raises(IntentNotCancellable):
        cancel_intent(intent=intent)
    intent.refresh_from_db()
    assert intent.status == IntentStatus.PENDING


def test_a_cancelled_or_done_intent_cannot_be_cancelled_again(alice_account):
    intent = request_deposit(account=alice_account, amount="10").intent
    cancel_intent(intent=intent)
    with pytest.raises(IntentNotCancellable):
        cancel_intent(intent=intent)
    done = request_deposit(account=alice_account, amount="11").intent
    Intent.objects.filter(pk=done.pk).update(status=IntentStatus.DONE)
    with pytest.raises(IntentNotCancellable):
        cancel_intent(intent=done)
