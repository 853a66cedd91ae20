"""Abandoning a failed window that has no fill: its effects reversed, nothing deleted.

product.md (Trade windows): while no fill has been recorded, staff may abandon a failed window
instead of retrying it. One transaction:
- compensating ledger entries: every entry the window wrote (the plan's deposit credits, and
  anything else it wrote to the books) gets its negation, with the same kind, account and
  intent, referenced ``abandon:<window>:<original reference>``, and the accounts' cash follows;
- its orders (planned, or waiting for a price) are cancelled;
- its intents go back to pending, unbound, without a reason, as if it had never run, so the
  next window takes them;
- the window becomes ``abandoned`` with the reason and who, which releases its accounts
  (``trading.ownership``).

Fills are recorded by the execute phase, with the blocks, in one transaction: once it has
committed the window can only be retried (its shares and cash exist at the broker). The
runner's advisory lock on the window is taken (try, not wait) so a worker running the window
right now and an abandon never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from trading.models import BlockOrder, Fill, TradeWindow, WindowStatus
from trading.window.common import LOCK_NAMESPACE, fetch, statuses

MAX_REASON_LENGTH = 2000


class CannotAbandon(Exception):
    """The window cannot be abandoned (not failed, running now, or it has fills)."""


@dataclass(frozen=True)
class Abandoned:
    window_id: int
    entries_reversed: int
    orders_cancelled: int
    intents_released: int

    @property
    def message(self) -> str:
        return (
            f"Window {self.window_id} abandoned: {self.entries_reversed} ledger entr"
            f"{'y' if self.entries_reversed == 1 else 'ies'} reversed, {self.orders_cancelled} "
            f"order(s) cancelled, {self.intents_released} intent(s) pending again."
        )


class _Reversed(NamedTuple):
    entries: int  # ledger entries negated
    accounts: int  # accounts whose cash moved


# reversed: a negation of every ledger entry of the window (they are all its own: abandoning
# happens once, and an abandoned window writes nothing more).
# cash: each account's cash moves by its reversals, so cash stays the ledger sum.
_REVERSE_ENTRIES = """
WITH reversed AS (
    INSERT INTO trading_ledgerentry
        (account_id, amount, kind, reference, window_id, intent_id, dividend_id, created_at)
    SELECT e.account_id, -e.amount, e.kind, LEFT('abandon:' || %(window)s || ':' || e.reference, 100),
           e.window_id, e.intent_id, e.dividend_id, statement_timestamp()
    FROM trading_ledgerentry e
    WHERE e.window_id = %(window)s
    RETURNING account_id, amount
),
cash AS (
    UPDATE trading_account a SET cash = a.cash + r.total
    FROM (SELECT account_id, SUM(amount) AS total FROM reversed GROUP BY account_id) r
    WHERE a.id = r.account_id AND r.total <> 0
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM reversed), (SELECT COUNT(*) FROM cash)
"""
_CANCEL_ORDERS = """
UPDATE trading_order SET status = %(cancelled)s
WHERE window_id = %(window)s AND status <> %(cancelled)s
"""
_RELEASE_INTENTS = """
UPDATE trading_intent
SET status = %(pending)s, window_id = NULL, failure_reason = '', finished_at = NULL
WHERE window_id = %(window)s
"""


def abandon_window(*, window_id: int, reason: str, user: Any = None) -> Abandoned:
    """Abandon failed window ``window_id`` (see the module docstring); ``CannotAbandon`` says
    why not. ``user`` is who asked (None from a command without ``--by``)."""
    reason = (reason or "").strip()
    if not reason:
        raise CannotAbandon("Say why the window is abandoned (a reason is required).")
    if len(reason) > MAX_REASON_LENGTH:
        raise CannotAbandon(f"Keep the reason under {MAX_REASON_LENGTH} characters.")
    with transaction.atomic():
        window = TradeWindow.objects.select_for_update().filter(pk=window_id).first()
        if window is None:
            raise CannotAbandon(f"There is no window {window_id}.")
        [(free,)] = fetch("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, window_id])
        if not free:
            raise CannotAbandon(
                f"Window {window_id} is running right now; try again when it stops."
            )
        if window.status != WindowStatus.FAILED:
            raise CannotAbandon(
                f"Window {window_id} is {window.get_status_display().lower()}: only a failed "
                "window can be abandoned."
            )
        if (
            window.progress.get("execute")
            or BlockOrder.objects.filter(window=window).exists()
            or Fill.objects.filter(block__window=window).exists()
        ):
            raise CannotAbandon(f"Window {window_id} has recorded fills: it can only be retried.")
        params = {**statuses(), "window": window_id}
        [reversal] = [_Reversed(*row) for row in fetch(_REVERSE_ENTRIES, params)]
        orders = _count(_CANCEL_ORDERS, params)
        intents = _count(_RELEASE_INTENTS, params)
        outcome = Abandoned(window_id, reversal.entries, orders, intents)
        by = getattr(user, "get_username", lambda: "")() if user is not None else ""
        window.report = {
            **(window.report or {}),
            "status": WindowStatus.ABANDONED.value,
            "abandoned": {
                "reason": reason,
                "by": by,
                "error": window.error,
                "entries_reversed": reversal.entries,
                "orders_cancelled": orders,
                "intents_released": intents,
            },
        }
        window.status = WindowStatus.ABANDONED
        window.phase = WindowStatus.ABANDONED.value
        window.abandon_reason = reason
        window.abandoned_by = user if getattr(user, "pk", None) else None
        window.finished_at = timezone.now()
        window.save(
            update_fields=[
                "report",
                "status",
                "phase",
                "abandon_reason",
                "abandoned_by",
                "finished_at",
            ]
        )
    return outcome


def _count(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
