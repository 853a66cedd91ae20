"""Thin Celery tasks: take ids, call a service. Every one is safe to run twice.

``tick`` runs every minute from beat (pieproject/celery.py); the work is claimed in the
database (unique window rows, conditional UPDATEs), never by trusting a message to arrive once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from trading.models import TradeWindow
from trading.ops import Outcome, queued
from trading.services import (
    create_due_deposits,
    open_due_windows,
    pay_due_dividends,
    windows_to_run,
)
from trading.services.confirmations import queue_confirmations, send_confirmations
from trading.services.snapshots import take_due_snapshots
from trading.services.windows import LAST_TICK_KEY
from trading.window import open_adhoc_window, run_window, work_on_chunk

log = logging.getLogger(__name__)


@shared_task(name="trading.tasks.tick", ignore_result=True)
def tick(now: str | None = None) -> dict[str, list[int]]:
    # ``now`` (ISO 8601, with an offset) is for operators and tests; beat sends none.
    cache.set(LAST_TICK_KEY, timezone.now(), None)
    moment = datetime.fromisoformat(now) if now else None
    # Recurring deposits first: an occurrence due today is queued before today's windows open.
    create_due_deposits(now=moment)
    outcome = open_due_windows(now=moment)
    for window_id in windows_to_run(outcome):  # each one claimed: sent once
        run_window_task.delay_on_commit(window_id)
    # Every done window's confirmations that are not sent (none created yet, a lost message,
    # a worker that died after claiming): each batch is claimed for queueing, so sent once.
    for batch in queue_confirmations(now=moment):
        send_confirmations_task.delay_on_commit(batch)
    return outcome


@shared_task(name="trading.tasks.run_window_task", bind=True)
def run_window_task(self: Task, window_id: int) -> dict:
    # The engine claims or resumes the window itself, so a duplicate message is a no-op.
    # On a worker, the plan and post chunks go out as tasks too, to the queue this message came
    # from, so every worker serving that queue (the same database) shares them.
    spread = settings.PIES_WINDOW_SPREAD_CHUNKS and not self.request.called_directly
    queue = (self.request.delivery_info or {}).get("routing_key") or None

    def send_chunks(window_id: int, phase: str, numbers: list[int]) -> None:
        for number in numbers:
            run_window_chunk_task.apply_async((window_id, phase, number), queue=queue)

    report = run_window(window_id, send_chunks=send_chunks if spread else None)
    confirm_window(window_id)
    return report


@shared_task(name="trading.tasks.run_window_chunk_task", ignore_result=True)
def run_window_chunk_task(window_id: int, phase: str, number: int) -> int | None:
    # Ids only. It claims whichever chunk of the phase is left (``number`` is the one it was
    # sent for, for the logs): a chunk already done, or taken by the window's runner, costs
    # one read. Never a Celery result: the chunk's row is its progress.
    return work_on_chunk(window_id, phase)


def confirm_window(window_id: int) -> int:
    """At a window's close: create its confirmations and send one task per batch of owners
    after commit (nothing when the window is not done). Every caller that runs a window calls
    this; the tick sends whatever they miss. Returns the number of tasks enqueued."""
    sent = queue_confirmations(window_id=window_id)
    for batch in sent:
        try:
            send_confirmations_task.delay_on_commit(batch)
        except Exception:  # the broker is down: the rows are queued, the tick sends them later
            log.warning("confirmations of window %s not enqueued", window_id, exc_info=True)
    return len(sent)


@shared_task(name="trading.tasks.send_confirmations")
def send_confirmations_task(confirmation_ids: list[int]) -> dict[str, int]:
    # Claims its rows before sending: a duplicate message sends nothing twice.
    return send_confirmations(confirmation_ids)


def send_adhoc_window() -> TradeWindow:
    """Staff "run now" (API, admin, /ops/): open an ad-hoc window and send it to a worker once
    the row is committed. The row is marked as sent, so the tick re-sends a lost message."""
    window = open_adhoc_window(queued=True)
    run_window_task.delay_on_commit(window.pk)
    return window


def run_now() -> Outcome:
    """Staff "run now" (admin, /ops/): pay the dividends due today, as the daily job would
    have, so the window invests them; then open an ad-hoc window and send it to a worker."""
    paid = pay_due_dividends()
    outcome = queued(send_adhoc_window().pk)
    if paid:
        return Outcome(
            f"Paid {len(paid)} due dividend(s) first. {outcome.message}",
            outcome.level,
            outcome.window_id,
        )
    return outcome


@shared_task(name="trading.tasks.pay_dividends", ignore_result=True)
def pay_dividends() -> dict[str, str]:
    return {str(pk): str(amount) for pk, amount in pay_due_dividends().items()}


@shared_task(name="trading.tasks.take_snapshots", ignore_result=True)
def take_snapshots() -> dict[str, int]:
    # Claimed per day in the database: a duplicate run finds nothing left to take.
    return {day.isoformat(): rows for day, rows in take_due_snapshots().items()}
