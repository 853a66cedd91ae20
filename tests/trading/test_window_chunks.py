"""Plan and post chunks shared by several processes (trading.window.chunks): the runner does
chunks, others claim the rest at the same time, and the books are those of a run alone.

"Others" here are real threads with database sessions of their own, doing what a worker's
chunk task does (``work_on_chunk``) for every chunk the runner sends. The runs with real
Celery worker processes are in tests/trading/test_bench_workers.py and tests/faults.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from tests.faults.books import books, mixed_accounts
from trading.books import verify_books
from trading.models import TradeWindow, WindowChunk, WindowStatus
from trading.window import open_adhoc_window, run_window, work_on_chunk

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = 12
CHUNK_SIZE = 2


class Helpers:
    """Threads that each do chunk tasks as a worker would, one thread per phase sent."""

    def __init__(self, per_phase: int) -> None:
        self.per_phase = per_phase
        self.threads: list[threading.Thread] = []
        self.done: list[int] = []
        self.errors: list[BaseException] = []

    def work(self, window_id: int, phase: str, count: int) -> None:
        try:
            for _ in range(count):
                number = work_on_chunk(window_id, phase)
                if number is not None:
                    self.done.append(number)
        except BaseException as error:  # reported by the test
            self.errors.append(error)
        finally:
            connection.close()

    def send(self, window_id: int, phase: str, numbers: list[int]) -> None:
        for _ in range(self.per_phase):
            thread = threading.Thread(target=self.work, args=(window_id, phase, len(numbers)))
            thread.start()
            self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
        assert not self.errors, self.errors


def run_alone(prefix: str) -> dict[str, Any]:
    accounts = mixed_accounts(prefix, ACCOUNTS)
    window = open_adhoc_window()
    run_window(window.pk, chunk_size=CHUNK_SIZE)
    return books(accounts, window.pk)


def test_chunks_done_by_the_runner_and_two_other_sessions_give_the_books_of_a_run_alone():
    accounts = mixed_accounts("shared", ACCOUNTS)
    window = open_adhoc_window()
    helpers = Helpers(per_phase=2)
    report = run_window(window.pk, chunk_size=CHUNK_SIZE, send_chunks=helpers.send)
    helpers.join()

    assert report["status"] == WindowStatus.DONE
    chunks = WindowChunk.objects.filter(window=window)
    assert chunks.count() == 2 * (ACCOUNTS // CHUNK_SIZE)
    assert not chunks.filter(done_at__isnull=True).exists()
    # Every chunk was done once, by someone: the runner did the ones the others did not.
    assert helpers.done, "the other sessions claimed no chunk"
    assert len(set(chunks.values_list("worker", flat=True))) >= 2
    summary = report["chunks"]
    assert summary["plan"]["chunks"] == summary["post"]["chunks"] == ACCOUNTS // CHUNK_SIZE
    # Each chunk timed its parts before its last statement saved them: the writes included
    # (they were timed after it, and lost).
    assert set(summary["plan"]["seconds"]) == {"read", "plan", "write"}
    assert set(summary["post"]["seconds"]) == {"read", "allocate", "write"}
    assert summary["post"]["seconds"]["write"] > 0
    assert report["counts"]["deposits_credited"] == ACCOUNTS // 3
    assert verify_books() == []

    assert books(accounts, window.pk) == run_alone("alone")
    assert verify_books() == []


def test_a_chunk_task_for_a_window_that_is_not_running_does_nothing():
    mixed_accounts("idle", 2)
    window = open_adhoc_window()
    assert work_on_chunk(window.pk, "plan") is None  # scheduled: not frozen, no chunks
    run_window(window.pk, chunk_size=1)
    assert work_on_chunk(window.pk, "post") is None  # done
    assert TradeWindow.objects.get(pk=window.pk).status == WindowStatus.DONE


def test_a_chunk_held_by_another_session_is_skipped_and_waited_for_not_done_twice():
    mixed_accounts("held", 4)
    window = open_adhoc_window()
    held = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def hold_first_post_chunk(window_id: int, phase: str, numbers: list[int]) -> None:
        if phase != "post":
            return

        def hold() -> None:
            # Claim chunk 0 as a worker would (its row locked in an open transaction) and keep
            # it until the runner has done every other chunk and is waiting.
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT 1 FROM trading_windowchunk WHERE window_id = %s "
                            "AND phase = 'post' AND number = 0 FOR UPDATE",
                            [window_id],
                        )
                    held.set()
                    release.wait(30)
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        threading.Thread(target=hold).start()
        held.wait(10)

    def release_when_the_runner_waits() -> None:
        # The runner beats the heartbeat while it waits: once it has, let chunk 0 go.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = WindowChunk.objects.filter(
                window=window, phase="post", done_at__isnull=True
            ).count()
            if held.is_set() and left == 1:
                break
            time.sleep(0.05)
        release.set()
        connection.close()

    watcher = threading.Thread(target=release_when_the_runner_waits)
    watcher.start()
    report = run_window(window.pk, chunk_size=1, send_chunks=hold_first_post_chunk)
    watcher.join(30)
    assert not errors, errors
    assert report["status"] == WindowStatus.DONE
    assert report["chunks"]["post"]["chunks"] == 4
    # chunk 0 was left to the runner once released, and done once
    assert WindowChunk.objects.filter(window=window, done_at__isnull=True).count() == 0
    assert verify_books() == []


def test_the_cycle_collector_pauses_for_a_chunk_and_comes_back_whatever_happens():
    import gc

    from trading.window.common import cycle_collector_paused

    assert gc.isenabled()
    with cycle_collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), cycle_collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_a_chunk_applies_and_commits_while_another_has_applied_and_not_finished(monkeypatch):
    """Chunks share rows only in their last statement (``chunks.finish``: the window's row, the
    system accounts' cash): a chunk that has applied its effects and not finished holds nothing
    another chunk needs, so the other applies, finishes and commits meanwhile."""
    from trading.window import plan

    mixed_accounts("side", 4)
    window = open_adhoc_window()
    applied = threading.Event()
    other_committed = threading.Event()
    waited: list[bool] = []
    errors: list[BaseException] = []
    real_finish = plan.finish
    runner = threading.get_ident()

    def finish_after_the_other(run, claim, accounts, deltas):
        if threading.get_ident() == runner and not applied.is_set():
            applied.set()  # this chunk's apply statement ran: let the other session go
            waited.append(other_committed.wait(20))
        return real_finish(run, claim, accounts, deltas)

    def other(window_id: int) -> None:
        try:
            applied.wait(20)
            assert work_on_chunk(window_id, "plan") is not None
            other_committed.set()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def send(window_id: int, phase: str, numbers: list[int]) -> None:
        if phase == "plan":
            threading.Thread(target=other, args=(window_id,)).start()

    monkeypatch.setattr(plan, "finish", finish_after_the_other)
    report = run_window(window.pk, chunk_size=2, send_chunks=send)

    assert not errors, errors
    assert waited == [True], "the other chunk waited for this one's commit"
    assert report["status"] == WindowStatus.DONE
    assert report["chunks"]["plan"]["workers"] == 2
    assert verify_books() == []


def test_a_chunk_commits_asynchronously_and_uncompiled_and_leaves_the_session_as_it_was(
    monkeypatch,
):
    from trading.window import plan

    mixed_accounts("settings", 2)
    seen: list[tuple[str, str]] = []
    real_finish = plan.finish

    def finish_seeing_settings(run, claim, accounts, deltas):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit'), current_setting('jit')")
            seen.append(cursor.fetchone())
        return real_finish(run, claim, accounts, deltas)

    monkeypatch.setattr(plan, "finish", finish_seeing_settings)
    window = open_adhoc_window()
    assert run_window(window.pk)["status"] == WindowStatus.DONE

    assert seen == [("off", "off")]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit'), current_setting('jit')")
        assert cursor.fetchone()[0] == "on"


def test_a_plan_leaves_no_reference_cycles_for_the_paused_collector():
    """A chunk pauses the cycle collector because what it builds is freed by reference counting
    alone. A recursive closure (a function that calls itself through its own cell) is a cycle,
    and held each account's plan and its kernel trees until the collector came back: a fifth
    of a plan chunk's time went to that collection, measured. None is left."""
    import gc
    from decimal import Decimal as D

    from trading.window.account_plan import AccountPlan

    prices = {1: D("10.00"), 2: D("20.00"), 3: D("5.00")}
    # root pie 10: A 40%, sub-pie 11 60% (B 50%, C 50%); slices 101..104, positions 201..203
    rows = [
        (101, 10, 1, None, 4000, "active", 201, D("40")),
        (102, 10, None, 11, 6000, "active", None, None),
        (103, 11, 2, None, 5000, "active", 202, D("5")),
        (104, 11, 3, None, 5000, "active", 203, D("80")),
    ]

    def plan_one_account() -> int:
        plan = AccountPlan(
            account_id=1,
            cash=D("250.00"),
            min_cash=D("0"),
            auto_invest=True,
            root_id=10,
            pies={10: "Root", 11: "Sub"},
            rows=rows,
            prices=prices,
            symbols={1: "AAA", 2: "BBB", 3: "CCC"},
        )
        plan.deposit(1, D("100.00"))
        plan.withdraw(2, D("150.00"), False)
        plan.rebalance(3, 10)
        plan.auto_invest_cash(D("1.00"), "deposit")
        return len(plan.orders())

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert plan_one_account() > 0
        found = gc.collect()
        garbage = [type(item).__qualname__ for item in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert (found, garbage) == (0, [])
