"""Intents: deposits, withdrawals and rebalances queue here until their trade window.

Every request is idempotent by key: the first request with a key creates the intent, a repeat
with the same body returns it (``created=False``), a repeat with another body is a conflict.
The unique constraint (account, idempotency_key) is what makes this hold under concurrency: the
insert runs in a savepoint, and losing the race means re-reading the winner's row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from pies.models import Pie, Slice
from trading.calendar import WindowSlot
from trading.models import Account, Intent, IntentKind, IntentStatus, TradeWindow
from trading.money import MAX_DEPOSIT
from trading.ownership import AccountInWindow, ensure_no_window, lock_for_edit
from trading.services.errors import (
    IdempotencyConflict,
    IntentError,
    IntentNotCancellable,
    RebalanceAlreadyPending,
    intent_amount,
)
from trading.valuation import available_to_withdraw, window_for_account

IDEMPOTENCY_CONSTRAINT = "idempotency_key_unique_per_account"
REBALANCE_CONSTRAINT = "one_pending_rebalance_per_pie"
MAX_KEY_LENGTH = 255
# Recurring deposits' intents carry keys derived from their schedule and date
# (trading.services.recurring.occurrence_key); nobody else may take one.
RESERVED_KEY_PREFIX = "recurring:"


@dataclass(frozen=True)
class IntentResult:
    intent: Intent
    created: bool

    @property
    def window(self) -> WindowSlot:
        """The window that will take the intent: the next one its account trades in."""
        return window_for_account(self.intent.account, self.intent.created_at)


# --- idempotency -----------------------------------------------------------------------------


def _clean_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = str(key).strip()
    if not key:
        return None
    if key.startswith(RESERVED_KEY_PREFIX):
        raise IntentError(
            "idempotency_key",
            f"Idempotency keys starting with {RESERVED_KEY_PREFIX!r} are reserved.",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise IntentError(
            "idempotency_key", f"Use an Idempotency-Key of at most {MAX_KEY_LENGTH} characters."
        )
    return key


def _fingerprint(kind: str, given: str, normalized: str) -> str:
    # The kind is part of it, so one key sent to the deposit and the withdrawal endpoints with
    # the same body is still a conflict. Hashing keeps any caller's fingerprint within 64 chars.
    text = f"{kind}\n{given or normalized}"
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(*, account: Account, key: str, fingerprint: str) -> IntentResult | None:
    existing = Intent.objects.filter(account=account, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict(existing)
    return IntentResult(intent=existing, created=False)


def _constraint_name(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def _create(*, account: Account, key: str | None, fingerprint: str, **fields: Any) -> IntentResult:
    try:
        with transaction.atomic():  # a savepoint: losing a race must not poison the transaction
            intent = Intent.objects.create(
                account=account, idempotency_key=key, request_fingerprint=fingerprint, **fields
            )
    except IntegrityError as error:
        name = _constraint_name(error)
        if key and name == IDEMPOTENCY_CONSTRAINT:
            # Another request with this key committed first (READ COMMITTED: a new statement
            # sees it now).
            found = _replay(account=account, key=key, fingerprint=fingerprint)
            if found is not None:
                return found
        if name == REBALANCE_CONSTRAINT:
            raise RebalanceAlreadyPending() from None
        raise
    return IntentResult(intent=intent, created=True)


def _check_investor(account: Account) -> None:
    if account.owner_id is None:
        raise IntentError("account", "System accounts take no intents.")


# --- the services ----------------------------------------------------------------------------


@transaction.atomic
def request_deposit(
    *,
    account: Account,
    amount: object,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> IntentResult:
    """Queue a deposit of ``amount`` (0.01 .. 1,000,000.00), credited when its window starts."""
    _check_investor(account)
    key = _clean_key(idempotency_key)
    value = intent_amount(amount, maximum=MAX_DEPOSIT)
    digest = _fingerprint(IntentKind.DEPOSIT, fingerprint, f"amount={value}")
    if key and (found := _replay(account=account, key=key, fingerprint=digest)):
        return found
    return _create(
        account=account, key=key, fingerprint=digest, kind=IntentKind.DEPOSIT, amount=value
    )


@transaction.atomic
def request_withdrawal(
    *,
    account: Account,
    amount: object = None,
    withdraw_all: bool = False,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> IntentResult:
    """Queue a withdrawal of ``amount`` (or of everything), at most the account's value net of
    the withdrawals already pending."""
    _check_investor(account)
    key = _clean_key(idempotency_key)
    if withdraw_all:
        if amount not in (None, ""):
            raise IntentError("amount", "Leave the amount empty to withdraw everything.")
        value = None
    else:
        value = intent_amount(amount)
    digest = _fingerprint(
        IntentKind.WITHDRAWAL, fingerprint, "all" if withdraw_all else f"amount={value}"
    )
    # The row lock serialises withdrawals of one account, so two of them cannot both pass the
    # limit check against the same value. The ownership lock comes first (trading.ownership).
    # FOR NO KEY UPDATE: it need not wait for a window's chunk that wrote rows naming the account
    # (they lock it FOR KEY SHARE, trading migration 0019).
    lock_for_edit()
    account = Account.objects.select_for_update(no_key=True).get(pk=account.pk)
    if key and (found := _replay(account=account, key=key, fingerprint=digest)):
        return found
    ensure_no_window(account.pk)  # a running window plans from the value it froze
    available = available_to_withdraw(account=account)
    if available <= 0:
        raise IntentError("amount", "There is nothing left to withdraw from this account.")
    if value is not None and value > available:
        raise IntentError("amount", f"You can withdraw at most {available:,.2f}.")
    return _create(
        account=account,
        key=key,
        fingerprint=digest,
        kind=IntentKind.WITHDRAWAL,
        amount=value,
        withdraw_all=withdraw_all,
    )


def _pie_of(account: Account, pie: Pie | int | str | None) -> Pie:
    if pie is None or pie == "":
        found = Pie.objects.filter(account=account, is_root=True).first()
    else:
        pie_id = pie.pk if isinstance(pie, Pie) else pie
        try:
            pie_id = int(str(pie_id))
        except ValueError:
            raise IntentError("pie", "Choose one of this account's pies.") from None
        # Someone else's pie is treated exactly like one that does not exist.
        found = Pie.objects.filter(account=account, pk=pie_id).first()
    if found is None:
        raise IntentError("pie", "Choose one of this account's pies.")
    return found


@transaction.atomic
def request_rebalance(
    *,
    account: Account,
    pie: Pie | int | str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> IntentResult:
    """Queue a rebalance of ``pie`` (default: the portfolio pie); one pending per pie."""
    _check_investor(account)
    key = _clean_key(idempotency_key)
    target = _pie_of(account, pie)
    digest = _fingerprint(IntentKind.REBALANCE, fingerprint, f"pie={target.pk}")
    if key and (found := _replay(account=account, key=key, fingerprint=digest)):
        return found
    ensure_no_window(account.pk)
    if not Slice.objects.filter(pie=target).live().exists():
        raise IntentError("pie", "This pie has no slices to rebalance yet.")
    if Intent.objects.pending().filter(kind=IntentKind.REBALANCE, pie=target).exists():
        raise RebalanceAlreadyPending()
    return _create(
        account=account, key=key, fingerprint=digest, kind=IntentKind.REBALANCE, pie=target
    )


@transaction.atomic
def cancel_intent(*, intent: Intent) -> Intent:
    """Cancel a pending intent before its window takes it.

    The window's freeze sets ``intent.window`` under the same row lock, so either the cancel
    happens first and the window never sees the intent, or the window took it and this refuses
    (with ``AccountInWindow``'s words: until that window is done or abandoned). An intent no
    window took can be cancelled even while a window runs for the account.
    """
    locked = Intent.objects.select_for_update(no_key=True).get(pk=intent.pk)
    if locked.status != IntentStatus.PENDING:
        raise IntentNotCancellable(f"This intent is {locked.get_status_display().lower()}.")
    if locked.window_id is not None:
        window = TradeWindow.objects.only("status").get(pk=locked.window_id)
        raise IntentNotCancellable(AccountInWindow(window).message)
    if locked.kind == IntentKind.REMOVAL:
        # The slice is already out of the pie's targets; only putting it back (a pie save)
        # can restore a consistent pie, so that is the way to cancel a removal.
        raise IntentNotCancellable("Add the slice back to the pie to cancel its removal.")
    locked.status = IntentStatus.CANCELLED
    locked.finished_at = timezone.now()
    locked.save(update_fields=["status", "finished_at"])
    return locked
