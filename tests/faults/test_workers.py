"""Exactly-once with real processes: a worker SIGKILLed mid-window, its database session killed
mid-chunk, beat's tick sent twice, two workers racing for one window.

Each test runs real Celery workers (``tests/faults/conftest.py``) on a Redis server of its own
against the test database, and compares the books of the faulty run with those of a clean run
of the same setup (same accounts, pies, intents, prices, chunk size) made afterwards in this
process. The windows run with one account per chunk, so a window of 12 accounts commits 24
chunks and a fault can land between (or inside) them.

Where a fault must land is set without timing: every chunk of a run beats the window's
heartbeat in the chunk's single write statement, so while the test holds the window's row
(``WindowGate``) the worker waits inside that statement, its chunk's transaction open, and
the test lets it through one chunk at a time.
"""

from __future__ import annotations

import ast
import re
import signal
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.faults.books import books, mixed_accounts
from tests.faults.conftest import (
    APPLICATION_PREFIX,
    STALL_SECONDS,
    Processes,
    RedisServer,
    wait_until,
)
from trading.books import verify_books
from trading.models import (
    Intent,
    LedgerEntry,
    TradeWindow,
    WindowAccount,
    WindowChunk,
    WindowStatus,
)
from trading.valuation import window_for_account
from trading.window import open_adhoc_window, run_window

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RUN_WINDOW = "trading.tasks.run_window_task"
TICK = "trading.tasks.tick"
ACCOUNTS = 12
CHUNK_SIZE = 1


def chunks_done(window_id: int, phase: str) -> int:
    return WindowChunk.objects.filter(
        window_id=window_id, phase=phase, done_at__isnull=False
    ).count()


def tick_until_done(redis_server: RedisServer, window_id: int) -> TradeWindow:
    """Act as beat, a little faster: send the tick every second until the window is done."""
    celery = redis_server.client()

    def done() -> bool:
        status = TradeWindow.objects.values_list("status", flat=True).get(pk=window_id)
        if status != WindowStatus.DONE:
            celery.send_task(TICK)
        return status == WindowStatus.DONE

    wait_until(done, timeout=STALL_SECONDS + 60, what=f"window {window_id} done", every=1)
    return TradeWindow.objects.get(pk=window_id)


class WindowGate:
    """The window's row, locked by the test in a session of its own.

    While it is held, a run waits at its next write of the window's row (the claim, freeze,
    each chunk's write, close) inside that statement. ``step_to`` lets the run through until a
    phase has committed some chunks and the run waits in the next one.
    """

    def __init__(self, window_id: int, worker: str = "") -> None:
        self.window_id = window_id
        self.worker = worker
        self.session = connection.get_new_connection(connection.get_connection_params())
        self.hold()

    def hold(self) -> None:
        # FOR NO KEY UPDATE, as an UPDATE of the row takes it: it stops every write of the row,
        # and not a chunk's key checks (FOR KEY SHARE, trading migration 0019), which would
        # stop the run in its apply statement instead.
        self.session.execute(
            "SELECT 1 FROM trading_tradewindow WHERE id = %s FOR NO KEY UPDATE", [self.window_id]
        )

    def release(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        self.session.rollback()
        self.session.close()

    def waiting(self) -> tuple[int, str, bool] | None:
        """The worker's backend (pid, query, in a transaction) while it waits on a lock."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT pid, query, xact_start IS NOT NULL FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = %s
                  AND state = 'active' AND wait_event_type = 'Lock'
                """,
                [APPLICATION_PREFIX + self.worker],
            )
            rows = cursor.fetchall()
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    def step_to(self, phase: str, chunks: int) -> tuple[int, str]:
        """Let the run through until ``chunks`` chunks of ``phase`` are committed; returns the
        worker's backend (pid, query), waiting inside the next chunk's write."""
        while True:
            pid, query, in_transaction = wait_until(
                self.waiting, timeout=30, what=f"{self.worker} to wait on the window's row"
            )
            if chunks_done(self.window_id, phase) >= chunks:
                # a chunk's last statement, after its apply (chunks.finish; pg_stat_activity
                # keeps its first 1 kB)
                assert "system_cash AS" in query, query
                assert in_transaction
                return pid, query
            # The waiting run takes the row first (it is queued), commits that write and waits
            # again at its next one. If the test wins the row back first, it simply goes round.
            self.release()
            self.hold()
            time.sleep(0.005)


def clean_run_books(prefix: str) -> dict[str, Any]:
    """The same setup run once, undisturbed, in this process."""
    clean = mixed_accounts(prefix, ACCOUNTS)
    window = open_adhoc_window()
    run_window(window.pk, chunk_size=CHUNK_SIZE)
    return books(clean, window.pk)


def results(child_output: str, task: str) -> list[Any]:
    """What each run of ``task`` returned, as the worker's log prints it."""
    marker = re.compile(rf"Task {re.escape(task)}\[[^]]+\] succeeded in [0-9.e-]+s: (.*)$")
    return [
        ast.literal_eval(found.group(1))
        for line in child_output.splitlines()
        if (found := marker.search(line))
    ]


def received(child_output: str, task: str) -> int:
    """How many messages of ``task`` the worker's log says it received."""
    marker = re.compile(rf"Task {re.escape(task)}\[[^]]+\] received$")
    return sum(1 for line in child_output.splitlines() if marker.search(line))


def test_a_worker_killed_mid_window_is_resumed_by_the_tick_to_a_clean_runs_books(
    procs: Processes, todays_windows_taken: None
):
    redis_server = procs.redis()
    faulty = mixed_accounts("faulty", ACCOUNTS)
    window = open_adhoc_window()
    first = procs.worker("first", redis_server, PIES_WINDOW_CHUNK_SIZE=str(CHUNK_SIZE))
    gate = WindowGate(window.pk, "first")
    try:
        redis_server.client().send_task(RUN_WINDOW, args=[window.pk])
        gate.step_to("post", 2)
        # Let it run and kill it in flight, a few milliseconds into the rest of the window:
        # some accounts' lots, disposals and ledger entries are committed, the others' not.
        gate.release()
        first.kill(signal.SIGKILL)
    finally:
        gate.close()
    first.popen.wait(10)

    window.refresh_from_db()
    assert window.status == WindowStatus.RUNNING, window.error
    assert 2 <= chunks_done(window.pk, "post") < window.progress["chunks"] == ACCOUNTS
    assert Intent.objects.filter(account__in=faulty, status="pending").exists()
    assert verify_books() == []  # every chunk commits whole: the books hold between chunks
    killed_at_heartbeat = window.heartbeat_at

    # Its message is unacknowledged (acks_late) but Redis redelivers it only after the
    # visibility timeout (an hour): the tick resends the window once its heartbeat is stale.
    second = procs.worker("second", redis_server)
    window = tick_until_done(redis_server, window.pk)
    assert window.attempts == 2
    assert window.finished_at - killed_at_heartbeat >= timedelta(seconds=STALL_SECONDS)
    assert received(second.output(), RUN_WINDOW) == 1
    second.stop()

    assert books(faulty, window.pk) == clean_run_books("clean")
    assert verify_books() == []


@pytest.mark.parametrize("phase", ["plan", "post"])
def test_a_chunk_whose_database_session_is_killed_rolls_back_and_the_rerun_completes(
    procs: Processes, todays_windows_taken: None, phase: str
):
    redis_server = procs.redis()
    faulty = mixed_accounts("faulty", ACCOUNTS)
    window = open_adhoc_window()
    worker = procs.worker("worker", redis_server, PIES_WINDOW_CHUNK_SIZE=str(CHUNK_SIZE))
    gate = WindowGate(window.pk, "worker")
    try:
        redis_server.client().send_task(RUN_WINDOW, args=[window.pk])
        pid, _ = gate.step_to(phase, 2)
        committed = chunks_done(window.pk, phase)
        blocked_chunk = list(
            WindowAccount.objects.filter(window=window, chunk=committed).values_list(
                "account_id", flat=True
            )
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        gate.close()

    # The chunk rolled back with the session; the engine recorded the failure on a new one.
    wait_until(
        lambda: TradeWindow.objects.filter(pk=window.pk, status=WindowStatus.FAILED).exists(),
        timeout=30,
        what="the run to fail",
    )
    window.refresh_from_db()
    assert "terminating connection due to administrator command" in window.error
    assert chunks_done(window.pk, phase) == committed < ACCOUNTS
    in_window = LedgerEntry.objects.filter(window=window, account_id__in=blocked_chunk)
    if phase == "plan":
        assert not window.orders.filter(account_id__in=blocked_chunk).exists()
        assert not in_window.exists()
    else:
        assert window.orders.filter(account_id__in=blocked_chunk).exists()
        assert not in_window.exclude(kind="deposit").exists()  # no trade posted for them
    assert verify_books() == []

    # The tick retries the failed window, on the same worker.
    window = tick_until_done(redis_server, window.pk)
    assert window.attempts == 2
    assert worker.alive()
    assert received(worker.output(), RUN_WINDOW) == 2

    assert books(faulty, window.pk) == clean_run_books("clean")
    assert verify_books() == []


def test_beat_sending_the_tick_twice_opens_one_window_and_runs_it_once(procs: Processes):
    redis_server = procs.redis()
    accounts = mixed_accounts("tick", 6)
    # The accounts' next window, ticked at its start plus 20 and 40 seconds: one minute of beat
    # that sent its message twice. Those times are ahead of the database's clock, which stamps
    # the heartbeats: a stall time longer than the gap keeps the second tick from taking the
    # window the first one started for a stalled one.
    due = window_for_account(accounts[0], timezone.now())
    stall = str(int((due.starts_at - timezone.now()).total_seconds()) + 3600)
    one, two = procs.workers(["one", "two"], redis_server, PIES_WINDOW_STALL_SECONDS=stall)
    celery = redis_server.client()
    for seconds in (20, 40):
        now = due.starts_at + timedelta(seconds=seconds)
        celery.send_task(TICK, kwargs={"now": now.isoformat()})

    def both_ticks_ran_and_the_window_is_done() -> bool:
        ticks = sum(len(results(child.output(), TICK)) for child in (one, two))
        windows = TradeWindow.objects.filter(trade_date=due.trade_date, session=due.session)
        return ticks == 2 and windows.filter(status=WindowStatus.DONE).exists()

    wait_until(both_ticks_ran_and_the_window_is_done, timeout=60, what="two ticks, one window")
    # One tick on each worker, at the same time (each takes one message while it works).
    assert [len(results(child.output(), TICK)) for child in (one, two)] == [1, 1]
    ticks = results(one.output(), TICK) + results(two.output(), TICK)
    [window] = TradeWindow.objects.all()
    assert sorted(tick["created"] for tick in ticks) == [[], [window.pk]]
    assert sorted(tick["enqueued"] for tick in ticks) == [[], [window.pk]]
    assert (window.trade_date, window.session, window.attempts) == (due.trade_date, due.session, 1)
    time.sleep(1)  # a second run_window message, had one been sent, would be received by now
    assert received(one.output(), RUN_WINDOW) + received(two.output(), RUN_WINDOW) == 1
    assert window.report["accounts"] == len(accounts)
    deposits = Intent.objects.filter(kind="deposit")
    assert LedgerEntry.objects.filter(kind="deposit").count() == 2 * deposits.count()
    assert not Intent.objects.filter(status="pending").exists()
    assert verify_books() == []


def test_two_workers_racing_for_one_window_run_it_once_and_the_loser_does_nothing(
    procs: Processes,
):
    redis_server = procs.redis()
    raced = mixed_accounts("raced", ACCOUNTS)
    window = open_adhoc_window()
    one, two = procs.workers(["one", "two"], redis_server, PIES_WINDOW_CHUNK_SIZE=str(CHUNK_SIZE))
    celery = redis_server.client()
    # Two messages for one window (a resend crossing a slow start, a duplicated delivery): with
    # one message in flight per worker, each worker takes one. The gate holds the first runner
    # at its claim, so the second certainly arrives while the window is taken.
    gate = WindowGate(window.pk)
    try:
        results = [celery.send_task(RUN_WINDOW, args=[window.pk]) for _ in range(2)]
        [loser] = wait_until(
            lambda: [result for result in results if result.ready()] or None,
            timeout=60,
            what="one run to return",
        )
        assert loser.get()["status"] == WindowStatus.SCHEDULED  # the report as it stood
        window.refresh_from_db()
        assert (window.status, window.attempts) == (WindowStatus.SCHEDULED, 0)
    finally:
        gate.close()
    [winner] = [result for result in results if result is not loser]
    report = winner.get(timeout=60)

    assert received(one.output(), RUN_WINDOW) == received(two.output(), RUN_WINDOW) == 1
    window.refresh_from_db()
    assert (report["status"], window.attempts) == (WindowStatus.DONE, 1)
    assert report == window.report
    assert books(raced, window.pk) == clean_run_books("clean")
    assert verify_books() == []
