from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from trading.calendar import MARKET_TZ
from trading.models import TradeWindow, WindowStatus
from trading.services import open_due_windows, windows_to_run
from trading.tasks import tick
from trading.valuation import window_for_account

TUESDAY = date(2026, 11, 24)


def ny(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=MARKET_TZ)


@pytest.fixture
def enqueued():
    """The run_window_task messages a tick would send (captured, not sent)."""
    from unittest import mock

    sent: list[int] = []
    with mock.patch("trading.tasks.run_window_task.delay_on_commit", side_effect=sent.append):
        yield sent


def tick_at(*, now: datetime) -> dict[str, list[int]]:
    """One tick at ``now``: the service opens and claims windows, the task sends them."""
    return tick(now=now.isoformat())


def windows() -> list[tuple[date, str, str]]:
    return [
        (w.trade_date, w.session, w.status)
        for w in TradeWindow.objects.order_by("scheduled_at", "id")
    ]


def test_the_tick_opens_and_enqueues_the_window_that_is_due(db, enqueued):
    outcome = tick_at(now=ny(TUESDAY, 9, 30, 20))
    window = TradeWindow.objects.get()
    assert (window.trade_date, window.session, window.status) == (TUESDAY, "morning", "scheduled")
    assert window.scheduled_at == ny(TUESDAY, 9, 30)
    assert window.report["late_seconds"] == 20
    assert outcome["created"] == outcome["enqueued"] == [window.pk]
    assert enqueued == [window.pk]


def test_a_tick_before_the_first_window_or_on_a_holiday_does_nothing(db, enqueued):
    tick_at(now=ny(TUESDAY, 9, 29, 59))
    tick_at(now=ny(date(2026, 11, 26), 10, 0))  # Thanksgiving
    tick_at(now=ny(date(2026, 11, 28), 10, 0))  # a Saturday
    assert windows() == []
    assert enqueued == []


def test_two_ticks_in_the_same_minute_open_and_enqueue_the_window_once(db, enqueued):
    tick_at(now=ny(TUESDAY, 9, 30, 1))
    second = tick_at(now=ny(TUESDAY, 9, 30, 40))
    assert second == {"created": [], "enqueued": [], "missed": [], "resumed": [], "retried": []}
    assert TradeWindow.objects.count() == 1
    assert len(enqueued) == 1


def test_a_window_missed_while_the_scheduler_was_down_runs_late_the_same_day(db, enqueued):
    tick_at(now=ny(TUESDAY, 12, 0))
    window = TradeWindow.objects.get()
    assert window.session == "morning"
    assert window.report["late_seconds"] == 2 * 3600 + 30 * 60
    assert enqueued == [window.pk]


def test_a_window_whose_successor_has_started_is_marked_missed(db, enqueued):
    tick_at(now=ny(TUESDAY, 15, 0, 30))
    assert windows() == [
        (TUESDAY, "morning", "missed"),
        (TUESDAY, "afternoon", "scheduled"),
    ]
    assert enqueued == [TradeWindow.objects.get(session="afternoon").pk]


def test_a_scheduled_window_that_never_started_is_missed_once_the_next_window_is_due(db, enqueued):
    tick_at(now=ny(TUESDAY, 9, 30, 5))
    # No worker picked it up; the scheduler comes back in the afternoon.
    outcome = tick_at(now=ny(TUESDAY, 15, 0, 5))
    morning = TradeWindow.objects.get(session="morning")
    assert morning.status == WindowStatus.MISSED
    assert outcome["missed"] == [morning.pk]
    assert windows()[-1] == (TUESDAY, "afternoon", "scheduled")


def test_the_afternoon_window_missed_until_the_next_day_is_not_run_late(db, enqueued):
    tick_at(now=ny(TUESDAY, 15, 0, 5))
    enqueued.clear()
    tick_at(now=ny(TUESDAY + timedelta(days=1), 8, 0))
    assert TradeWindow.objects.get(session="afternoon").status == WindowStatus.MISSED
    assert enqueued == []


def test_an_early_close_day_has_no_afternoon_window_and_runs_its_morning_late(db, enqueued):
    tick_at(now=ny(date(2026, 11, 27), 15, 30))
    assert windows() == [(date(2026, 11, 27), "morning", "scheduled")]
    assert len(enqueued) == 1


def test_a_lost_message_is_sent_again_after_the_stall_time(db, enqueued, settings):
    settings.PIES_WINDOW_STALL_SECONDS = 120
    tick_at(now=ny(TUESDAY, 9, 30, 5))
    tick_at(now=ny(TUESDAY, 9, 31, 5))
    assert len(enqueued) == 1
    tick_at(now=ny(TUESDAY, 9, 33, 5))
    assert len(enqueued) == 2


def test_a_running_window_with_a_stale_heartbeat_is_resumed_once(db, enqueued, settings):
    settings.PIES_WINDOW_STALL_SECONDS = 300
    window = TradeWindow.objects.create(
        trade_date=TUESDAY,
        session="morning",
        scheduled_at=ny(TUESDAY, 9, 30),
        status=WindowStatus.RUNNING,
        heartbeat_at=ny(TUESDAY, 9, 31),
    )
    assert tick_at(now=ny(TUESDAY, 9, 35))["resumed"] == []
    assert tick_at(now=ny(TUESDAY, 9, 37))["resumed"] == [window.pk]
    assert tick_at(now=ny(TUESDAY, 9, 38))["resumed"] == []
    assert enqueued == [window.pk]


def test_a_running_window_is_resumed_even_after_its_successor_is_due(db, enqueued, settings):
    # Its intents are frozen to it: it must finish, however late.
    window = TradeWindow.objects.create(
        trade_date=TUESDAY,
        session="morning",
        scheduled_at=ny(TUESDAY, 9, 30),
        status=WindowStatus.RUNNING,
        heartbeat_at=ny(TUESDAY, 9, 31),
    )
    outcome = tick_at(now=ny(TUESDAY, 15, 1))
    assert window.pk in outcome["resumed"]
    window.refresh_from_db()
    assert window.status == WindowStatus.RUNNING


# --- with a real Celery worker -------------------------------------------------------------------


def _worker_env() -> dict[str, str]:
    # The same server as this process (TCP or the embedded server's socket), the test database.
    url = urlsplit(settings.DATABASE_URL)
    database_url = urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_window_the_tick_opens(make_user, make_security, tmp_path: Path):
    from pies.models import Pie, Slice
    from pies.services import open_account
    from trading.books import verify_books
    from trading.models import Intent, IntentStatus, Position
    from trading.services import request_deposit
    from trading.tasks import run_window_task

    account = open_account(user=make_user("walter"), kind="individual")
    root = Pie.objects.get(account=account, is_root=True)
    Slice.objects.create(pie=root, security=make_security("VTI", "200.00"), target_bp=6000)
    Slice.objects.create(pie=root, security=make_security("BND", "80.00"), target_bp=4000)
    intent = request_deposit(account=account, amount="1000.00").intent
    run_window_task.app.control.purge()  # stale messages from an earlier run of this test

    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pieproject",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            "celery",
            "--loglevel=INFO",
        ],
        cwd=settings.BASE_DIR,
        env=_worker_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # The window this account trades in next (a morning account skips afternoons).
        due = window_for_account(account, timezone.now())
        outcome = tick_at(now=due.starts_at + timedelta(seconds=30))
        [window_id] = outcome["enqueued"]
        deadline = time.monotonic() + 25
        window = TradeWindow.objects.get(pk=window_id)
        while window.status not in (WindowStatus.DONE, WindowStatus.FAILED):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.3)
            window.refresh_from_db()
        assert window.status == WindowStatus.DONE, window.error
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
    intent.refresh_from_db()
    assert intent.status == IntentStatus.DONE
    assert intent.window_id == window_id
    assert Position.objects.filter(account=account, quantity__gt=0).count() == 2
    account.refresh_from_db()
    assert account.cash < Decimal("1000.00")
    assert verify_books() == []
    assert Intent.objects.pending().count() == 0


def test_the_service_claims_the_windows_and_leaves_the_sending_to_the_task(db, enqueued, settings):
    settings.PIES_WINDOW_STALL_SECONDS = 300
    stalled = TradeWindow.objects.create(
        trade_date=TUESDAY,
        session="morning",
        scheduled_at=ny(TUESDAY, 9, 30),
        status=WindowStatus.RUNNING,
        heartbeat_at=ny(TUESDAY, 9, 31),
    )
    outcome = open_due_windows(now=ny(TUESDAY, 15, 0, 5))
    afternoon = TradeWindow.objects.get(session="afternoon")
    assert enqueued == []  # the services do not know the tasks
    assert windows_to_run(outcome) == [afternoon.pk, stalled.pk]
    # Claimed: a second tick at the same time has nothing left to send.
    assert windows_to_run(tick_at(now=ny(TUESDAY, 15, 0, 6))) == []
    assert enqueued == []


def test_the_tick_task_takes_an_injected_time(db, enqueued):
    tick.apply(kwargs={"now": ny(TUESDAY, 15, 0, 10).isoformat()}).get()
    assert windows() == [(TUESDAY, "morning", "missed"), (TUESDAY, "afternoon", "scheduled")]


def test_the_tick_task_records_when_it_last_ran_for_the_operations_page(db, enqueued):
    from django.core.cache import cache

    from trading.ops import last_tick
    from trading.services.windows import LAST_TICK_KEY

    cache.delete(LAST_TICK_KEY)
    assert last_tick() is None
    before = timezone.now()
    tick.apply(kwargs={"now": ny(TUESDAY, 15, 0, 10).isoformat()}).get()
    assert before <= last_tick() <= timezone.now()


def test_a_failed_window_is_retried_a_few_times_then_left_to_staff(db, enqueued, settings):
    from django.core.cache import cache

    settings.PIES_WINDOW_STALL_SECONDS = 60
    settings.PIES_WINDOW_MAX_ATTEMPTS = 3
    window = TradeWindow.objects.create(
        trade_date=TUESDAY,
        session="morning",
        scheduled_at=ny(TUESDAY, 9, 30),
        status=WindowStatus.FAILED,
        attempts=1,
        heartbeat_at=ny(TUESDAY, 9, 31),
        error="BrokerDown: try later",
    )
    cache.delete_many([f"window-retry:{window.pk}:{n}" for n in range(5)])
    assert tick_at(now=ny(TUESDAY, 9, 31, 30))["retried"] == []  # not a stall yet
    assert tick_at(now=ny(TUESDAY, 9, 33))["retried"] == [window.pk]
    assert tick_at(now=ny(TUESDAY, 9, 34))["retried"] == []  # sent once per attempt
    assert enqueued.count(window.pk) == 1

    TradeWindow.objects.filter(pk=window.pk).update(attempts=3)
    assert tick_at(now=ny(TUESDAY, 9, 40))["retried"] == []  # staff take it from here


def test_a_lost_run_now_message_is_sent_again_and_a_plain_adhoc_window_is_left_alone(
    db, enqueued, settings
):
    from trading.window import open_adhoc_window

    settings.PIES_WINDOW_STALL_SECONDS = 120
    at = ny(TUESDAY, 11, 0)
    sent = open_adhoc_window(at, queued=True)  # "run now": sent to a worker, never picked up
    open_adhoc_window(at)  # run by whoever opened it (the command, a test): not the tick's
    morning = tick_at(now=ny(TUESDAY, 11, 1))["enqueued"]  # the due window, not the sent one
    assert sent.pk not in morning  # within the stall time
    assert tick_at(now=ny(TUESDAY, 11, 2, 30))["enqueued"] == [sent.pk]
    assert tick_at(now=ny(TUESDAY, 11, 3))["enqueued"] == []  # claimed: sent once
    assert enqueued == [*morning, sent.pk]
    sent.refresh_from_db()
    assert sent.status == "scheduled" and "late_seconds" not in sent.report
