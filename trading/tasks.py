"""Thin Celery tasks: take ids, call a service. Every one is safe to run twice.

``tick`` runs every minute from beat (pieproject/celery.py); the work is claimed in the
database (unique window rows, conditional UPDATEs), never by trusting a message to arrive once.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from trading.services import open_due_windows, pay_due_dividends, windows_to_run
from trading.services.snapshots import take_due_snapshots
from trading.services.windows import LAST_TICK_KEY
from trading.window import run_window


@shared_task(name="trading.tasks.tick", ignore_result=True)
def tick(now: str | None = None) -> dict[str, list[int]]:
    # ``now`` (ISO 8601, with an offset) is for operators and tests; beat sends none.
    cache.set(LAST_TICK_KEY, timezone.now(), None)
    outcome = open_due_windows(now=datetime.fromisoformat(now) if now else None)
    for window_id in windows_to_run(outcome):  # each one claimed: sent once
        run_window_task.delay_on_commit(window_id)
    return outcome


@shared_task(name="trading.tasks.run_window_task")
def run_window_task(window_id: int) -> dict:
    # The engine claims or resumes the window itself, so a duplicate message is a no-op.
    return run_window(window_id)


@shared_task(name="trading.tasks.pay_dividends", ignore_result=True)
def pay_dividends() -> dict[str, str]:
    return {str(pk): str(amount) for pk, amount in pay_due_dividends().items()}


@shared_task(name="trading.tasks.take_snapshots", ignore_result=True)
def take_snapshots() -> dict[str, int]:
    # Claimed per day in the database: a duplicate run finds nothing left to take.
    return {day.isoformat(): rows for day, rows in take_due_snapshots().items()}
