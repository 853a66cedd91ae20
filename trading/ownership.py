"""Which trade window owns an account, and the lock that makes that decision race-free.

From its freeze until it is done, a window owns the accounts it froze (product.md, Trade
windows): no other window freezes them, and the edits the window would plan differently with
are refused (pie saves and imports, new withdrawals and rebalances, cancelling an intent it
took). A failed window keeps them until it is retried to done or abandoned.

The decision is taken under one PostgreSQL advisory lock, at transaction level:
- a window's freeze takes it **exclusive** for the statement that chooses its accounts and
  writes their ``WindowAccount`` rows (``trading.window.freeze``);
- every refusable edit takes it **shared** first, then looks for an owning window, then
  writes, in one transaction (``ensure_no_window``).
So an edit that passed its check commits before any freeze can choose (the freeze waits for
the shared holders, then its statement sees the edit), and an edit that starts during a
freeze waits for it and then sees the new rows: never a check that passes and a write that
lands inside a window. Edits of different accounts share the lock and never wait for each
other; only a freeze (one statement per window) makes them wait, briefly.

A row lock per account would need the freeze to lock every account it takes (100k rows at
scale, and a lock table that large); one shared/exclusive key costs one statement each.
"""

from __future__ import annotations

from django.db import connection

from trading.models import HOLDS_ACCOUNTS, TradeWindow, WindowStatus

# PostgreSQL advisory-lock key (two-int form): the window engine's runner locks use namespace
# 5_700_001 with the window id; this is a different namespace, so they never collide.
OWNERSHIP_LOCK = (5_700_002, 1)

RUNNING_MESSAGE = "A trade window is running for this account; try again in a minute."
FAILED_MESSAGE = "A trade window for this account failed and is being retried."


class AccountInWindow(Exception):
    """The account belongs to a window that is not done: the edit is refused (409 in the API)."""

    def __init__(self, window: TradeWindow) -> None:
        self.window = window
        self.message = FAILED_MESSAGE if window.status == WindowStatus.FAILED else RUNNING_MESSAGE
        super().__init__(self.message)


def owning_window(account_id: int) -> TradeWindow | None:
    """The window that owns the account now (running or failed, having frozen it), if any."""
    return (
        TradeWindow.objects.filter(status__in=HOLDS_ACCOUNTS, accounts__account_id=account_id)
        .only("id", "status")
        .first()
    )


def lock_for_freeze() -> None:
    """Exclusive: no edit is between its check and its commit while a window chooses."""
    _lock("pg_advisory_xact_lock")


def lock_for_edit() -> None:
    """Shared: take it before any row lock of the edit. A freeze locks its accounts' rows
    (key share, for their ``WindowAccount`` rows) while it holds the lock exclusive, so an edit
    holding an account row ``FOR UPDATE`` while waiting here would deadlock with it."""
    _lock("pg_advisory_xact_lock_shared")


def ensure_no_window(account_id: int) -> None:
    """Take the shared lock (again, if the caller already did: it is re-entrant), then refuse
    if a window owns the account.

    Call it inside the transaction that writes the edit, before the write: the lock is held
    until that transaction ends, so no freeze can choose the account in between.
    """
    lock_for_edit()
    window = owning_window(account_id)
    if window is not None:
        raise AccountInWindow(window)


def _lock(function: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError(
            "The ownership lock is transaction-level: take it in transaction.atomic."
        )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", list(OWNERSHIP_LOCK))
