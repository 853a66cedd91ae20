"""Trade confirmations by email (product.md, Notifications).

After a window is done, each owner whose accounts it served and traded for gets one email
with what happened to those accounts. Exactly once per (window, owner), through the row
``Confirmation`` and three steps, each a committed conditional write:

1. **Create** (``queue_confirmations``): for every done window not confirmed yet
   (``TradeWindow.confirmations_at`` null), one statement inserts a row per owner (unique per
   window and owner, so nothing is created twice) for the accounts that asked for
   confirmations (``Account.notify``), and stamps the window.
2. **Queue**: the same transaction stamps ``queued_at`` on the unsent rows that are not queued
   or claimed within ``PIES_CONFIRMATION_RETRY_SECONDS`` and returns them in batches of
   ``PIES_CONFIRMATION_BATCH_SIZE``: the caller sends one Celery task per batch, after commit.
   The window's close does this for its own rows (``trading.tasks.confirm_window``); the tick
   does it for every window, so a lost message or a dead worker only delays an email.
3. **Claim, send, mark** (``send_confirmations``, the batch task): one conditional UPDATE
   claims the batch's rows (``claimed_at``, ``attempts`` + 1) and commits; then each email is
   sent and its row marked ``sent_at`` at once. A row whose claim is older than the retry time
   and that is still not sent (the worker died between claiming and sending, or the mail
   server refused) is queued and claimed again by a later tick: exactly one more send per
   retry period, up to ``PIES_CONFIRMATION_MAX_ATTEMPTS``. The retry time is longer than a
   task may live (settings check it), so a slow send is never claimed twice. The one gap no
   database can close: a worker killed after the mail server accepted a message and before
   ``sent_at`` was written sends that email again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from trading.models import (
    Account,
    Confirmation,
    Intent,
    IntentKind,
    IntentStatus,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    Side,
    TradeWindow,
)
from trading.money import ZERO

log = logging.getLogger(__name__)

# Without an earlier confirmation for the owner, the dividends of this many days before the
# window are listed (an upgrade or a newly turned-on setting must not list years of them).
FIRST_DIVIDENDS_DAYS = 31

# windows: the done windows without confirmations yet, locked so two callers do not both
#   create (the unique constraint would stop the second anyway; SKIP LOCKED makes it quiet);
# marked: the same windows, stamped; traded: the accounts each served that it placed an order
#   for or took an intent of; inserted: one row per window and owner of such accounts that
#   asked for confirmations and has an email address.
_CREATE = """
WITH windows AS (
    SELECT id FROM trading_tradewindow
    WHERE status = 'done' AND confirmations_at IS NULL {only_window}
    ORDER BY id
    FOR UPDATE SKIP LOCKED
),
marked AS (
    UPDATE trading_tradewindow w SET confirmations_at = %(now)s
    FROM windows WHERE w.id = windows.id
    RETURNING w.id
),
traded AS (
    SELECT wa.window_id, wa.account_id
    FROM trading_windowaccount wa JOIN marked m ON m.id = wa.window_id
    WHERE EXISTS (SELECT 1 FROM trading_order o
                  WHERE o.account_id = wa.account_id AND o.window_id = wa.window_id)
       OR EXISTS (SELECT 1 FROM trading_intent i
                  WHERE i.window_id = wa.window_id AND i.account_id = wa.account_id)
),
inserted AS (
    INSERT INTO trading_confirmation
        (window_id, owner_id, account_ids, created_at, attempts, error)
    SELECT t.window_id, a.owner_id, jsonb_agg(a.id ORDER BY a.id), %(now)s, 0, ''
    FROM traded t
    JOIN trading_account a ON a.id = t.account_id
    JOIN {users} u ON u.id = a.owner_id
    WHERE a.notify AND u.is_active AND u.email <> ''
    GROUP BY t.window_id, a.owner_id
    ON CONFLICT (window_id, owner_id) DO NOTHING
    RETURNING id
)
SELECT (SELECT COUNT(*) FROM marked), (SELECT COUNT(*) FROM inserted)
"""

# Unsent rows nobody queued or claimed within the retry time.
_QUEUE = """
UPDATE trading_confirmation SET queued_at = %(now)s
WHERE sent_at IS NULL AND attempts < %(max_attempts)s
  AND (queued_at IS NULL OR queued_at < %(stale)s)
  AND (claimed_at IS NULL OR claimed_at < %(stale)s)
  {only_window}
RETURNING id
"""

# The claim: committed before any email of the batch is sent.
_CLAIM = """
UPDATE trading_confirmation
SET claimed_at = %(now)s, attempts = attempts + 1
WHERE id = ANY(%(ids)s) AND sent_at IS NULL AND attempts < %(max_attempts)s
  AND (claimed_at IS NULL OR claimed_at < %(stale)s)
RETURNING id
"""


def _retry_after() -> timedelta:
    return timedelta(seconds=settings.PIES_CONFIRMATION_RETRY_SECONDS)


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def batches(ids: Sequence[int], size: int | None = None) -> list[list[int]]:
    size = size or settings.PIES_CONFIRMATION_BATCH_SIZE
    ordered = sorted(ids)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def queue_confirmations(
    *, now: datetime | None = None, window_id: int | None = None
) -> list[list[int]]:
    """Create the confirmations of done windows (of ``window_id`` only, when given) and claim
    the queueing of every unsent one that is due; returns them in batches, one Celery task
    each (the caller enqueues them after this transaction commits)."""
    now = now or timezone.now()
    only = "AND id = %(window)s" if window_id is not None else ""
    params = {
        "now": now,
        "window": window_id,
        "stale": now - _retry_after(),
        "max_attempts": settings.PIES_CONFIRMATION_MAX_ATTEMPTS,
    }
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    with transaction.atomic():
        _fetch(_CREATE.format(only_window=only, users=users), params)
        only = "AND window_id = %(window)s" if window_id is not None else ""
        queued = [row[0] for row in _fetch(_QUEUE.format(only_window=only), params)]
    return batches(queued)


def claim_confirmations(ids: Iterable[int], *, now: datetime | None = None) -> list[int]:
    """Claim the unsent ones of ``ids`` (never claimed, or claimed longer ago than the retry
    time) in a committed transaction; returns the claimed ids."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _fetch(
            _CLAIM,
            {
                "ids": list(ids),
                "now": now,
                "stale": now - _retry_after(),
                "max_attempts": settings.PIES_CONFIRMATION_MAX_ATTEMPTS,
            },
        )
    return sorted(row[0] for row in rows)


def send_confirmations(ids: Iterable[int], *, now: datetime | None = None) -> dict[str, int]:
    """The batch task's work: claim, then send each email and mark it sent."""
    claimed = claim_confirmations(ids, now=now)
    sent = failed = 0
    if not claimed:
        return {"claimed": 0, "sent": 0, "failed": 0}
    messages = build_messages(claimed)
    with get_connection() as mail:
        for pk, message in messages:
            message.connection = mail
            try:
                message.send()
            except Exception as exc:  # a refused address must not hold back the others
                log.exception("trade confirmation %s could not be sent", pk)
                Confirmation.objects.filter(pk=pk).update(error=f"{type(exc).__name__}: {exc}")
                failed += 1
                continue
            Confirmation.objects.filter(pk=pk).update(sent_at=timezone.now(), error="")
            sent += 1
    return {"claimed": len(claimed), "sent": sent, "failed": failed}


# --- What an email says -----------------------------------------------------------------------


@dataclass
class AccountActivity:
    account: Account
    orders: list[Order] = field(default_factory=list)
    waiting_orders: list[Order] = field(default_factory=list)
    deposits: list[Intent] = field(default_factory=list)
    withdrawals: list[Intent] = field(default_factory=list)
    done: list[Intent] = field(default_factory=list)
    failed: list[Intent] = field(default_factory=list)
    pending: list[Intent] = field(default_factory=list)
    dividends: list[LedgerEntry] = field(default_factory=list)

    @property
    def paid(self) -> Decimal:
        return sum((o.filled_amount or ZERO for o in self.orders if o.side == Side.BUY), ZERO)

    @property
    def received(self) -> Decimal:
        return sum((o.filled_amount or ZERO for o in self.orders if o.side == Side.SELL), ZERO)


def build_messages(ids: Sequence[int]) -> list[tuple[int, EmailMultiAlternatives]]:
    """The emails of confirmations ``ids``, in a fixed number of queries whatever their count."""
    previous = (
        Confirmation.objects.filter(
            owner_id=OuterRef("owner_id"),
            window__finished_at__lt=OuterRef("window__finished_at"),
        )
        .order_by("-window__finished_at")
        .values("window__finished_at")[:1]
    )
    rows = list(
        Confirmation.objects.filter(pk__in=ids)
        .select_related("window", "owner")
        .annotate(previous_at=Subquery(previous))
        .order_by("pk")
    )
    account_ids = {pk for row in rows for pk in row.account_ids}
    window_ids = {row.window_id for row in rows}
    accounts = Account.objects.in_bulk(account_ids)
    activity: dict[tuple[int, int], AccountActivity] = {
        (row.window_id, pk): AccountActivity(accounts[pk])
        for row in rows
        for pk in row.account_ids
        if pk in accounts
    }
    orders = Order.objects.filter(window_id__in=window_ids, account_id__in=account_ids)
    for order in orders.select_related("security").order_by("security__symbol", "side", "id"):
        entry = activity.get((order.window_id, order.account_id))
        if entry is None:
            continue
        if order.status == OrderStatus.FILLED:
            entry.orders.append(order)
        elif order.status == OrderStatus.WAITING:
            entry.waiting_orders.append(order)
    intents = Intent.objects.filter(window_id__in=window_ids, account_id__in=account_ids)
    for intent in intents.select_related("pie", "slice__security").order_by("created_at", "id"):
        entry = activity.get((intent.window_id or 0, intent.account_id))
        if entry is None:
            continue
        if intent.status == IntentStatus.FAILED:
            entry.failed.append(intent)
        elif intent.status == IntentStatus.DONE and intent.kind == IntentKind.DEPOSIT:
            entry.deposits.append(intent)
        elif intent.status == IntentStatus.DONE and intent.kind == IntentKind.WITHDRAWAL:
            entry.withdrawals.append(intent)
        elif intent.status == IntentStatus.DONE:
            entry.done.append(intent)
    pending = Intent.objects.pending().filter(account_id__in=account_ids, window__isnull=True)
    pending_by_account: dict[int, list[Intent]] = defaultdict(list)
    for intent in pending.select_related("pie", "slice__security").order_by("created_at", "id"):
        pending_by_account[intent.account_id].append(intent)
    _add_dividends(rows, activity, account_ids)
    messages = []
    for row in rows:
        entries = [activity[(row.window_id, pk)] for pk in row.account_ids if pk in accounts]
        for entry in entries:
            entry.pending = pending_by_account.get(entry.account.pk, [])
        messages.append((row.pk, _message(row, entries)))
    return messages


def _dividends_since(row: Confirmation) -> datetime | None:
    finished = row.window.finished_at
    previous = getattr(row, "previous_at", None)
    if previous is not None:
        return previous
    return finished - timedelta(days=FIRST_DIVIDENDS_DAYS) if finished else None


def _add_dividends(
    rows: Sequence[Confirmation],
    activity: dict[tuple[int, int], AccountActivity],
    account_ids: set[int],
) -> None:
    """Dividends paid since the owner's previous confirmation, up to this window's close."""
    ranges = [(_dividends_since(row), row.window.finished_at) for row in rows]
    starts = [start for start, _ in ranges if start is not None]
    ends = [end for _, end in ranges if end is not None]
    if not starts or not ends:
        return
    entries = (
        LedgerEntry.objects.filter(
            kind=LedgerKind.DIVIDEND,
            account_id__in=account_ids,
            created_at__gt=min(starts),
            created_at__lte=max(ends),
        )
        .select_related("dividend__security")
        .order_by("created_at", "id")
    )
    by_account: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_account[entry.account_id].append(entry)
    for row, (start, end) in zip(rows, ranges, strict=True):
        if start is None or end is None:
            continue
        for pk in row.account_ids:
            target = activity.get((row.window_id, pk))
            if target is not None:
                target.dividends = [
                    e for e in by_account.get(pk, []) if start < e.created_at <= end
                ]


def _message(row: Confirmation, accounts: list[AccountActivity]) -> EmailMultiAlternatives:
    window: TradeWindow = row.window
    context = {
        "user": row.owner,
        "window": window,
        "accounts": accounts,
    }
    subject = render_to_string("trading/email/confirmation_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("trading/email/confirmation.txt", context),
        to=[row.owner.email],
    )
    message.attach_alternative(
        render_to_string("trading/email/confirmation.html", context), "text/html"
    )
    return message
