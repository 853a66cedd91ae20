"""Opening scheduled trade windows: what the every-minute ``tick`` does.

This module creates window rows and claims the windows to run; the ``tick`` task enqueues
what it returns (``windows_to_run``), and the window engine (``trading.window``) owns a window
once it runs (freeze, plan, ..., status ``done`` / ``failed``). Everything is claimed in the
database or the cache before it is returned, so a doubled beat message or two racing ticks
cannot send a window twice: rows are unique per (date, session), and a window to start is
claimed with a conditional UPDATE.

Timing rules (product.md, Trade windows):
- the due window is the latest session of today (New York) that has started;
- a window the scheduler missed still runs late, when the tick comes back on the same trading
  day before the next window starts (its report says how late); otherwise it is marked
  ``missed`` and its intents, still pending, roll into the next window;
- a running window whose heartbeat is older than ``PIES_WINDOW_STALL_SECONDS`` is re-enqueued
  (the engine resumes it and applies nothing twice); so is an ad-hoc window staff sent to a
  worker ("run now") that no worker has claimed within that time (a lost message).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from trading.calendar import WindowSlot, market_date, next_window, slots_on
from trading.models import Session, TradeWindow, WindowStatus

TICK = "tick"


# The tick task records when it last ran (shown on /ops/ as the scheduler's pulse).
LAST_TICK_KEY = "last_tick_at"


def _stall() -> timedelta:
    return timedelta(seconds=settings.PIES_WINDOW_STALL_SECONDS)


def _late_seconds(window: WindowSlot | TradeWindow, now: datetime) -> int:
    starts_at = window.starts_at if isinstance(window, WindowSlot) else window.scheduled_at
    return max(int((now - starts_at).total_seconds()), 0)


def _create_row(window: WindowSlot, *, status: str, now: datetime) -> bool:
    """Create the row of ``window`` unless someone else already did (the unique constraint
    decides); True when this call created it."""
    report: dict[str, int | str] = {"late_seconds": _late_seconds(window, now)}
    if status == WindowStatus.MISSED:
        report["missed"] = "The scheduler was down at this window's time."
    try:
        with transaction.atomic():
            TradeWindow.objects.create(
                trade_date=window.trade_date,
                session=window.session,
                scheduled_at=window.starts_at,
                status=status,
                report=report,
                finished_at=now if status == WindowStatus.MISSED else None,
            )
    except IntegrityError:
        return False
    return True


def _still_runnable(window: TradeWindow, now: datetime) -> bool:
    """A window not started yet may run late on its own trading day, before the next window."""
    if window.session == Session.ADHOC:
        return True
    return (
        market_date(now) == window.trade_date and now < next_window(window.scheduled_at).starts_at
    )


# The outcomes whose windows the tick sends to a worker (each one claimed, so sent once).
TO_RUN = ("enqueued", "resumed", "retried")


def windows_to_run(outcome: dict[str, list[int]]) -> list[int]:
    """The windows ``open_due_windows`` claimed for running: the tick enqueues each of them."""
    return [window_id for key in TO_RUN for window_id in outcome[key]]


def open_due_windows(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Create today's due window row, claim it for running, claim stalled and failed windows
    for resuming, mark missed ones.

    Returns the window ids per outcome; the ones to send to a worker are ``windows_to_run``
    of it (the caller enqueues them: this layer does not know the tasks). Each step is its own
    short transaction, and every claim is committed before this returns.
    """
    now = now or timezone.now()
    outcome: dict[str, list[int]] = {
        "created": [],
        "enqueued": [],
        "missed": [],
        "resumed": [],
        "retried": [],
    }
    started = [window for window in slots_on(market_date(now)) if window.starts_at <= now]
    if started:
        for superseded in started[:-1]:
            # A session of today that was never opened and whose successor has started.
            _create_row(superseded, status=WindowStatus.MISSED, now=now)
        if _create_row(started[-1], status=WindowStatus.SCHEDULED, now=now):
            outcome["created"].append(
                TradeWindow.objects.get(
                    trade_date=started[-1].trade_date, session=started[-1].session
                ).pk
            )

    stale_before = now - _stall()
    # Ad-hoc windows are run by whoever opened them, except those sent to a worker ("run
    # now": heartbeat_at set when sent), which are re-sent here if the message was lost.
    waiting = TradeWindow.objects.filter(
        status=WindowStatus.SCHEDULED, scheduled_at__lte=now
    ).exclude(session=Session.ADHOC, heartbeat_at__isnull=True)
    for window in waiting.order_by("scheduled_at"):
        with transaction.atomic():
            if not _still_runnable(window, now):
                marked = TradeWindow.objects.filter(
                    pk=window.pk, status=WindowStatus.SCHEDULED
                ).update(
                    status=WindowStatus.MISSED,
                    finished_at=now,
                    report={
                        **window.report,
                        "missed": "The scheduler did not start it before the next window.",
                    },
                )
                if marked:
                    outcome["missed"].append(window.pk)
                continue
            # Claim the enqueueing: heartbeat_at of a window that has not started yet marks when
            # it was enqueued, so a lost message is sent again after the stall time, never twice
            # in one tick. The engine takes over (status running) when a worker picks it up.
            late = (
                {}
                if window.session == Session.ADHOC
                else {"late_seconds": _late_seconds(window, now)}
            )
            claimed = (
                TradeWindow.objects.filter(pk=window.pk, status=WindowStatus.SCHEDULED)
                .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before))
                .update(heartbeat_at=now, claimed_by=TICK, report={**window.report, **late})
            )
            if claimed:
                outcome["enqueued"].append(window.pk)

    stalled = TradeWindow.objects.filter(status=WindowStatus.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True)
    )
    for window_id, heartbeat_at, created_at in stalled.values_list(
        "id", "heartbeat_at", "created_at"
    ):
        # The engine owns a running window's row (its claim may well look at heartbeat_at), so
        # the claim to re-send is an atomic cache.add keyed by the stale heartbeat: one message
        # per stall period while nobody picks the window up, whoever else ticks meanwhile.
        beat = heartbeat_at.timestamp() if heartbeat_at else 0
        key = f"window-resume:{window_id}:{created_at.timestamp()}:{beat}"
        if cache.add(key, now.isoformat(), timeout=settings.PIES_WINDOW_STALL_SECONDS):
            outcome["resumed"].append(window_id)

    # A failed window keeps its intents (some of its chunks may be applied already), so they
    # are served by retrying it: the engine resumes where it stopped and applies nothing twice.
    # A few automatic retries, one stall period apart; after that, staff retry from the admin.
    failed = TradeWindow.objects.filter(
        status=WindowStatus.FAILED, attempts__lt=settings.PIES_WINDOW_MAX_ATTEMPTS
    ).filter(Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True))
    for window_id, attempts in failed.values_list("id", "attempts"):
        if cache.add(f"window-retry:{window_id}:{attempts}", now.isoformat(), timeout=None):
            outcome["retried"].append(window_id)
    return outcome
