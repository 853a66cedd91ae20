"""A window run without workers does its chunks on several threads of its process
(``PIES_WINDOW_THREADS``, ``trading.window.chunks.ChunkThreads``): one chunk's Python runs while
PostgreSQL writes another's. The books are those of one thread; every thread did chunks; an
error on a chunk thread fails the window like one on the runner's, and a resume finishes it.

Transactional: each chunk thread has a database session of its own, which sees only what is
committed."""

from __future__ import annotations

import gc
import threading

import pytest
from django.db import connection

from tests.faults.books import books, mixed_accounts
from tests.trading.engine_helpers import statement_counter
from trading.books import verify_books
from trading.models import TradeWindow, WindowChunk, WindowStatus
from trading.window import common, open_adhoc_window, plan, run_window

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = 12
CHUNK_SIZE = 2


def run_alone(prefix: str) -> tuple[dict, TradeWindow]:
    """The books of the mixed accounts' window run on one thread, and that window."""
    accounts = mixed_accounts(prefix, ACCOUNTS)
    window = open_adhoc_window()
    assert run_window(window.pk, chunk_size=CHUNK_SIZE, threads=1)["status"] == WindowStatus.DONE
    assert verify_books() == []
    return books(accounts, window.pk), window


def fail_on_two_threads(monkeypatch, prefix: str, *, on_the_runner: bool, message: str):
    """A window of mixed accounts run on two threads while ``plan_chunk`` raises ``message`` on
    the runner's thread (``on_the_runner``) or on every other thread, and works on the rest.
    The run fails with that error and leaves the window failed with sound books. Returns the
    accounts, the window, and what puts the real ``plan_chunk`` back."""
    accounts = mixed_accounts(prefix, ACCOUNTS)
    window = open_adhoc_window()
    runner = threading.get_ident()
    real_plan_chunk = plan.plan_chunk

    def broken(run):
        if (threading.get_ident() == runner) == on_the_runner:
            raise RuntimeError(message)
        return real_plan_chunk(run)

    monkeypatch.setattr("trading.window.plan_chunk", broken)
    with pytest.raises(RuntimeError, match=message):
        run_window(window.pk, chunk_size=CHUNK_SIZE, threads=2)
    assert TradeWindow.objects.get(pk=window.pk).status == WindowStatus.FAILED
    assert verify_books() == []
    return (
        accounts,
        window,
        lambda: monkeypatch.setattr("trading.window.plan_chunk", real_plan_chunk),
    )


def resume_gives_the_books_of_a_run_alone(accounts: list, window: TradeWindow, repair) -> None:
    """With ``plan_chunk`` repaired, a resume on two threads finishes the window, with the books
    a run on one thread gives."""
    repair()
    assert run_window(window.pk, chunk_size=CHUNK_SIZE, threads=2)["status"] == WindowStatus.DONE
    assert verify_books() == []
    assert not WindowChunk.objects.filter(window=window, done_at__isnull=True).exists()
    assert books(accounts, window.pk) == run_alone("alone")[0]


def test_two_threads_give_the_books_of_one_and_both_do_chunks():
    one_books, one = run_alone("one")
    assert len(set(WindowChunk.objects.filter(window=one).values_list("worker", flat=True))) == 1

    threads_before = threading.active_count()
    two_accounts = mixed_accounts("two", ACCOUNTS)
    two = open_adhoc_window()
    seen, wrapper = statement_counter()
    with connection.execute_wrapper(wrapper):
        report = run_window(two.pk, chunk_size=CHUNK_SIZE, threads=2)

    assert report["status"] == WindowStatus.DONE
    assert verify_books() == []
    assert books(two_accounts, two.pk) == one_books
    chunks = WindowChunk.objects.filter(window=two)
    assert chunks.count() == 2 * (ACCOUNTS // CHUNK_SIZE)
    assert not chunks.filter(done_at__isnull=True).exists()
    # both threads did chunks (each chunk records who did it: host, process and thread)
    assert len(set(chunks.values_list("worker", flat=True))) == 2
    # the chunk thread's statements ran through the caller's wrappers: every plan chunk's COPY
    # of its orders and every post chunk's COPY of its fills was seen, whichever thread sent it
    copies = [sql.split(" (")[0] for sql in seen if sql.startswith("COPY ")]
    assert copies.count("COPY trading_stage_order") == ACCOUNTS // CHUNK_SIZE
    assert copies.count("COPY trading_stage_fill") == ACCOUNTS // CHUNK_SIZE
    # no chunk thread outlives its phase
    assert threading.active_count() == threads_before


def test_an_error_on_a_chunk_thread_fails_the_window_and_a_resume_finishes_it(monkeypatch):
    accounts, window, repair = fail_on_two_threads(
        monkeypatch, "fault", on_the_runner=False, message="chunk thread broke"
    )
    assert "chunk thread broke" in TradeWindow.objects.get(pk=window.pk).error

    resume_gives_the_books_of_a_run_alone(accounts, window, repair)


def test_an_error_on_the_runners_thread_stops_the_chunk_threads_after_their_chunk(monkeypatch):
    accounts, window, repair = fail_on_two_threads(
        monkeypatch, "stop", on_the_runner=True, message="runner broke"
    )
    # the chunk thread finished the chunk it held and claimed no more: without the stop it
    # would have done all six (one more at most, had the runner been slow to fail)
    done = WindowChunk.objects.filter(window=window, phase="plan", done_at__isnull=False)
    assert done.count() <= 2

    resume_gives_the_books_of_a_run_alone(accounts, window, repair)


def test_the_cycle_collector_comes_back_when_the_last_chunk_ends_not_the_first():
    assert gc.isenabled()
    second_in = threading.Event()
    second_may_end = threading.Event()

    def second() -> None:
        with common.cycle_collector_paused():
            second_in.set()
            second_may_end.wait(10)

    thread = threading.Thread(target=second)
    with common.cycle_collector_paused():
        thread.start()
        assert second_in.wait(10)
    # the first chunk ended, the second has not: still paused
    assert not gc.isenabled()
    second_may_end.set()
    thread.join()
    assert gc.isenabled()
