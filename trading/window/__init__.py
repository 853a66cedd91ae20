"""The trade window engine: freeze, plan, net, execute, allocate, post (product.md, Trade windows).

``run_window`` runs a window exactly once, whoever calls it and however often:
- a session-level advisory lock on the window id admits one runner at a time (a second caller,
  thread or process, gets the report as it stands and does nothing);
- the claim is a conditional UPDATE (scheduled, failed, or running with no live runner, which
  is a crashed run) that also counts the attempt;
- every phase records its progress in the same transaction as its effects: freeze and execute
  once per window in ``TradeWindow.progress``, plan and post once per chunk of accounts in
  the chunk's ``WindowChunk`` row. A rerun skips what is recorded, so a crash after any chunk
  resumes and applies nothing twice;
- chunks are claimed, not assigned (``trading.window.chunks``): on a worker, the run sends one
  task per chunk (``work_on_chunk``) and does chunks too, so any number of worker processes,
  on any number of machines, share a window's plan and post.

A failed run marks the window ``failed`` with its error; its intents stay pending, bound to the
window, and ``run_window`` on it again resumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from trading.brokers import Broker, SimulatedBroker
from trading.calendar import is_trading_day, market_date, next_trading_day
from trading.models import ChunkPhase, Session, TradeWindow, WindowStatus
from trading.window.abandon import Abandoned, CannotAbandon, abandon_window
from trading.window.allocate import BlockTerms
from trading.window.chunks import do_phase, worker_name
from trading.window.common import (
    LOCK_NAMESPACE,
    Run,
    SystemAccounts,
    WindowFault,
    dump_json,
    fetch,
    load_json,
    save_progress,
    window_prices,
)
from trading.window.execute import execute
from trading.window.freeze import freeze
from trading.window.net import net_orders
from trading.window.plan import plan_chunk
from trading.window.post import close, load_blocks, post_chunk

__all__ = [
    "QUEUED_BY",
    "Abandoned",
    "CannotAbandon",
    "WindowFault",
    "abandon_window",
    "open_adhoc_window",
    "run_window",
    "work_on_chunk",
]

LATE_AFTER_SECONDS = 60


def adhoc_trade_date(now: datetime) -> date:
    """The trade date of the market session an ad-hoc window stands in for (product.md): on
    a trading day, that day; on a weekend or holiday, the next trading day, the date the
    tax preview assumed (so lots, terms and the preview agree)."""
    today = market_date(now)
    return today if is_trading_day(today) else next_trading_day(today)


# ``claimed_by`` of an ad-hoc window sent to a worker ("run now"), until a runner claims it.
QUEUED_BY = "run now"


def open_adhoc_window(now: datetime | None = None, *, queued: bool = False) -> TradeWindow:
    """A window starting now that serves every account (staff "run now", demos).

    ``queued=True`` marks it as sent to a worker now (``heartbeat_at``, ``claimed_by``), the
    way the tick marks a scheduled window it enqueues: should the message be lost, the tick
    sends it again once the stall time has passed (``trading.services.windows``).
    """
    now = now or timezone.now()
    return TradeWindow.objects.create(
        trade_date=adhoc_trade_date(now),
        session=Session.ADHOC,
        scheduled_at=now,
        heartbeat_at=now if queued else None,
        claimed_by=QUEUED_BY if queued else "",
    )


@contextmanager
def _runner_lock(window_id: int) -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, window_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, window_id])


def _claim(window_id: int, chunk_size: int | None) -> Run | None:
    rows = fetch(
        """
        UPDATE trading_tradewindow
        SET status = 'running', attempts = attempts + 1, error = '',
            heartbeat_at = clock_timestamp(), claimed_by = %s,
            started_at = COALESCE(started_at, clock_timestamp())
        WHERE id = %s AND status IN ('scheduled', 'running', 'failed')
        RETURNING trade_date, session, scheduled_at, progress, timings, attempts
        """,
        [worker_name(), window_id],
    )
    if not rows:
        return None
    trade_date, session, scheduled_at, progress, timings, attempts = rows[0]
    progress = load_json(progress)
    progress["attempts"] = attempts
    run = Run(
        window_id=window_id,
        trade_date=trade_date,
        session=session,
        scheduled_at=scheduled_at,
        chunk_size=chunk_size or settings.PIES_WINDOW_CHUNK_SIZE,
        system=SystemAccounts.load(),
        progress=progress,
    )
    run.timings = {key: float(value) for key, value in load_json(timings).items()}
    return run


def _report_of(window_id: int) -> dict[str, Any]:
    window = TradeWindow.objects.get(pk=window_id)
    report = dict(window.report or {})
    report.setdefault("status", window.status)
    return report


def _late_seconds(window_id: int, run: Run) -> int | None:
    window = TradeWindow.objects.only("report", "started_at").get(pk=window_id)
    late = (window.report or {}).get("late_seconds")
    if run.session != Session.ADHOC and window.started_at:
        started = int((window.started_at - run.scheduled_at).total_seconds())
        late = max(late or 0, started)
    return late if late and late >= LATE_AFTER_SECONDS else None


def _record_failure(run: Run, exc: BaseException) -> None:
    fetch(
        """
        UPDATE trading_tradewindow
        SET status = 'failed', error = %s, timings = %s::jsonb, heartbeat_at = clock_timestamp()
        WHERE id = %s AND status = 'running'
        RETURNING 1
        """,
        [f"{type(exc).__name__}: {exc}"[:5000], dump_json(run.timings), run.window_id],
    )


# Sends one task per chunk of a phase to the workers (the Celery task layer passes it in).
SendChunks = Callable[[int, str, list[int]], None]


def run_window(
    window_id: int,
    *,
    broker: Broker | None = None,
    fail_after_chunk: int | None = None,
    chunk_size: int | None = None,
    send_chunks: SendChunks | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) window ``window_id`` and return its report.

    ``send_chunks`` spreads the plan and post chunks over the workers (one task per chunk,
    each doing ``work_on_chunk``); this run does chunks as well and waits for the rest. Without
    it, this run does every chunk, on ``threads`` threads at a time (``PIES_WINDOW_THREADS``
    unless given; one with workers, or with a fault injected, which counts this thread's chunks).
    ``fail_after_chunk=k`` raises ``WindowFault`` right after the k-th chunk (plan chunks,
    then post chunks, counted in this run) committed: the crash-and-resume tests use it.
    ``chunk_size`` overrides ``PIES_WINDOW_CHUNK_SIZE`` for a window not frozen yet.
    """
    with _runner_lock(window_id) as held:
        if not held:
            return _report_of(window_id)  # another runner has it: it will finish it
        run = _claim(window_id, chunk_size)
        if run is None:
            return _report_of(window_id)  # done (or missed): nothing to do, ever again
        try:
            if send_chunks is not None or fail_after_chunk is not None:
                threads = 1
            elif threads is None:
                threads = settings.PIES_WINDOW_THREADS
            return _run(run, broker or SimulatedBroker(), fail_after_chunk, send_chunks, threads)
        except BaseException as exc:
            _record_failure(run, exc)
            raise


def _run(
    run: Run,
    broker: Broker,
    fail_after_chunk: int | None,
    send_chunks: SendChunks | None,
    threads: int,
) -> dict[str, Any]:
    committed = 0

    def chunk_committed() -> None:
        nonlocal committed
        committed += 1
        if fail_after_chunk is not None and committed == fail_after_chunk:
            raise WindowFault(f"Injected fault after chunk {committed} of window {run.window_id}")

    def send(phase: str, numbers: list[int]) -> None:
        if send_chunks is not None:
            send_chunks(run.window_id, phase, numbers)

    with run.timed("freeze"):
        run.prices, run.symbols = window_prices(run.scheduled_at)
        if not run.progress.get("freeze"):
            freeze(run)
        if "max_slippage_bp" not in run.progress:
            # Frozen before b was recorded with the freeze: a window planned then was sized at
            # the window price (b = 0). Recorded now, so every chunk's worker reads the same b.
            run.fix_slippage(settings.PIES_MAX_SLIPPAGE_BP if not run.progress.get("plan") else 0)
            save_progress(run)
    with run.timed("plan"):
        do_phase(
            run,
            ChunkPhase.PLAN,
            lambda: plan_chunk(run),
            send=send if send_chunks else None,
            committed=chunk_committed,
            threads=threads,
        )
    if not run.progress.get("execute"):
        with run.timed("net"):
            blocks = net_orders(run)
        with run.timed("execute"):
            execute(run, blocks, broker)
    with run.timed("post"):
        terms = load_blocks(run)
        do_phase(
            run,
            ChunkPhase.POST,
            lambda: post_chunk(run, terms),
            send=send if send_chunks else None,
            committed=chunk_committed,
            threads=threads,
        )
    with run.timed("close"):
        return close(run, late_seconds=_late_seconds(run.window_id, run))


# A worker's context per window (prices, system accounts, block terms), read once per process:
# every chunk task of a window would otherwise read them again.
_worker_runs: dict[int, tuple[Run, dict[int, BlockTerms] | None]] = {}


def _run_for_chunks(window_id: int, phase: str) -> tuple[Run, dict[int, BlockTerms] | None]:
    cached = _worker_runs.get(window_id)
    if cached is None or (phase == ChunkPhase.POST and cached[1] is None):
        rows = fetch(
            """
            SELECT trade_date, session, scheduled_at, progress FROM trading_tradewindow
            WHERE id = %s
            """,
            [window_id],
        )
        [(trade_date, session, scheduled_at, progress)] = rows
        run = Run(
            window_id=window_id,
            trade_date=trade_date,
            session=session,
            scheduled_at=scheduled_at,
            chunk_size=settings.PIES_WINDOW_CHUNK_SIZE,
            system=SystemAccounts.load(),
            progress=load_json(progress),
        )
        run.prices, run.symbols = window_prices(run.scheduled_at)
        terms = load_blocks(run) if phase == ChunkPhase.POST else None
        _worker_runs.clear()  # one window at a time
        _worker_runs[window_id] = cached = (run, terms)
    return cached


def work_on_chunk(window_id: int, phase: str) -> int | None:
    """Claim one chunk of ``phase`` of window ``window_id`` and do it: what a worker's chunk
    task does. Returns the chunk's number, or None when none was left to claim (done, being
    done by others, or the window is not running)."""
    if not TradeWindow.objects.filter(pk=window_id, status=WindowStatus.RUNNING).exists():
        return None
    run, terms = _run_for_chunks(window_id, phase)
    if phase == ChunkPhase.PLAN:
        claim = plan_chunk(run)
    else:
        assert terms is not None
        claim = post_chunk(run, terms)
    return claim.number if claim else None


# For callers that want the statuses without importing the models module.
DONE = WindowStatus.DONE
