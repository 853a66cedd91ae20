"""Recurring deposits (product.md): each occurrence becomes exactly one deposit intent, created
by the tick before the morning window of its trading day; catch-up after downtime; no backlog
after a pause or a change of dates; weekends, holidays, month ends and DST changes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from pies.services import open_account
from trading import recurrence
from trading.books import verify_books
from trading.calendar import MARKET_TZ, market_date
from trading.models import Intent, IntentKind, IntentStatus, RecurringDeposit
from trading.services import (
    IntentError,
    create_due_deposits,
    create_schedule,
    delete_schedule,
    pause_schedule,
    request_deposit,
    resume_schedule,
    update_schedule,
)
from trading.tasks import tick
from trading.valuation import window_for_account


def ny(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MARKET_TZ)


def occurrence_dates(schedule: RecurringDeposit) -> list[date]:
    return list(
        Intent.objects.filter(schedule=schedule)
        .order_by("occurrence_date")
        .values_list("occurrence_date", flat=True)
    )


@pytest.fixture
def no_windows():
    """The windows a tick opens are not sent to a worker here."""
    with mock.patch("trading.tasks.run_window_task.delay_on_commit"):
        yield


def weekly(account, start: date, *, now: datetime, amount: str = "50.00", **extra):
    return create_schedule(
        account=account, amount=amount, frequency="weekly", start_date=start, now=now, **extra
    )


# --- the date rules (pure) -------------------------------------------------------------------


def _matches(frequency: str, day: int | None, start: date, candidate: date) -> bool:
    if candidate < start:
        return False
    if frequency == recurrence.MONTHLY:
        return candidate.day == day
    return (candidate - start).days % recurrence.STEP_DAYS[frequency] == 0


@given(
    frequency=st.sampled_from([recurrence.WEEKLY, recurrence.BIWEEKLY, recurrence.MONTHLY]),
    day=st.integers(1, 28),
    start=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    first=st.dates(date(2024, 1, 1), date(2028, 6, 30)),
    span=st.integers(0, 120),
    end_after=st.one_of(st.none(), st.integers(0, 200)),
)
def test_the_occurrences_are_exactly_the_dates_the_rule_names(
    frequency, day, start, first, span, end_after
):
    day_of = day if frequency == recurrence.MONTHLY else None
    end = None if end_after is None else start + timedelta(days=end_after)
    through = first + timedelta(days=span)
    got = list(
        recurrence.occurrences(
            frequency=frequency, day=day_of, start=start, end=end, first=first, through=through
        )
    )
    expected = [
        first + timedelta(days=i)
        for i in range(span + 1)
        if _matches(frequency, day_of, start, first + timedelta(days=i))
        and (end is None or first + timedelta(days=i) <= end)
    ]
    assert got == expected
    following = recurrence.next_after(
        frequency=frequency, day=day_of, start=start, end=end, after=through
    )
    if following is not None:
        assert following > through and _matches(frequency, day_of, start, following)
        assert all(
            not _matches(frequency, day_of, start, through + timedelta(days=i))
            for i in range(1, (following - through).days)
        )


def test_a_monthly_schedule_on_the_28th_falls_in_every_february():
    got = list(
        recurrence.occurrences(
            frequency="monthly",
            day=28,
            start=date(2027, 12, 1),
            end=None,
            first=date(2027, 12, 1),
            through=date(2028, 3, 31),
        )
    )
    assert got == [date(2027, 12, 28), date(2028, 1, 28), date(2028, 2, 28), date(2028, 3, 28)]


# --- managing schedules ----------------------------------------------------------------------


@pytest.mark.parametrize("day", [0, 29, 30, 31, None])
def test_a_monthly_day_outside_1_to_28_is_refused(alice_account, day):
    with pytest.raises(IntentError) as error:
        create_schedule(
            account=alice_account,
            amount="10",
            frequency="monthly",
            day=day,
            start_date=date(2026, 12, 1),
        )
    assert error.value.field == "day"
    assert not RecurringDeposit.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0.99"}, "amount"),
        ({"amount": "1000000.01"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"frequency": "daily"}, "frequency"),
        ({"day": 5}, "day"),
        ({"end_date": date(2026, 11, 30)}, "end_date"),
        ({"start_date": date(2099, 1, 1)}, "start_date"),
        ({"start_date": "2026-12-01"}, "start_date"),
    ],
)
def test_bad_schedules_are_refused_on_the_field_and_change_nothing(alice_account, changes, field):
    fields = {"amount": "10", "frequency": "weekly", "start_date": date(2026, 12, 1), **changes}
    with pytest.raises(IntentError) as error:
        create_schedule(account=alice_account, **fields)
    assert error.value.field == field
    assert not RecurringDeposit.objects.exists()


def test_an_account_has_at_most_five_schedules(alice_account):
    now = ny(date(2026, 11, 30), 12)
    for _ in range(5):
        weekly(alice_account, date(2026, 12, 1), now=now)
    with pytest.raises(IntentError):
        weekly(alice_account, date(2026, 12, 1), now=now)
    assert RecurringDeposit.objects.count() == 5


def test_a_new_schedule_starts_at_its_first_occurrence_from_today(alice_account):
    monday = date(2026, 11, 30)
    future = weekly(alice_account, date(2026, 12, 3), now=ny(monday, 12))
    assert future.next_date == date(2026, 12, 3)
    past = weekly(alice_account, date(2026, 11, 3), now=ny(monday, 12))  # a Tuesday, in the past
    assert past.next_date == date(2026, 12, 1)  # no backlog for November
    today = weekly(alice_account, monday, now=ny(monday, 12))
    assert today.next_date == monday


def test_investors_cannot_take_a_recurring_idempotency_key(alice_account):
    with pytest.raises(IntentError) as error:
        request_deposit(account=alice_account, amount="5", idempotency_key="recurring:1:2026-12-01")
    assert error.value.field == "idempotency_key"


# --- exactly once ----------------------------------------------------------------------------


def test_an_occurrence_becomes_one_pending_deposit_at_midnight_new_york(alice_account, no_windows):
    tuesday = date(2026, 12, 1)
    schedule = weekly(alice_account, tuesday, now=ny(date(2026, 11, 30), 12), amount="75.50")
    tick(now=ny(tuesday - timedelta(days=1), 23, 59).isoformat())
    assert not Intent.objects.exists()
    tick(now=ny(tuesday, 0, 1).isoformat())
    intent = Intent.objects.get()
    assert (intent.kind, intent.status, intent.amount) == ("deposit", "pending", Decimal("75.50"))
    assert (intent.schedule_id, intent.occurrence_date) == (schedule.pk, tuesday)
    assert intent.idempotency_key == f"recurring:{schedule.pk}:2026-12-01"
    schedule.refresh_from_db()
    assert (schedule.last_occurrence, schedule.next_date) == (tuesday, date(2026, 12, 8))
    assert window_for_account(alice_account, intent.created_at).starts_at == ny(tuesday, 9, 30)


def test_the_tick_twice_creates_each_occurrence_once(alice_account, no_windows):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    for minute in (1, 1, 2):
        tick(now=ny(date(2026, 12, 1), 0, minute).isoformat())
    assert occurrence_dates(schedule) == [date(2026, 12, 1)]


def test_the_unique_constraint_holds_even_when_the_schedule_forgets_what_it_created(
    alice_account,
):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    create_due_deposits(now=ny(date(2026, 12, 1), 1))
    # A stale pointer (as a tick that read the row before the first committed would have).
    RecurringDeposit.objects.filter(pk=schedule.pk).update(next_date=date(2026, 12, 1))
    assert create_due_deposits(now=ny(date(2026, 12, 1), 2)) == []
    assert occurrence_dates(schedule) == [date(2026, 12, 1)]


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_create_each_occurrence_once(make_user):
    account = open_account(user=make_user("carol"), kind="individual")
    schedules = [
        weekly(account, date(2026, 11, 3), now=ny(date(2026, 11, 2), 12)) for _ in range(3)
    ]
    barrier = threading.Barrier(2)
    created: list[list[int]] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            created.append(create_due_deposits(now=ny(date(2026, 12, 1), 0, 5)))
        except Exception as error:  # asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    # Five Tuesdays each (catch-up from Nov 3), created by one tick or the other, never both.
    assert sorted(len(ids) for ids in created) == [0, 15]
    for schedule in schedules:
        assert occurrence_dates(schedule) == [
            date(2026, 11, 3),
            date(2026, 11, 10),
            date(2026, 11, 17),
            date(2026, 11, 24),
            date(2026, 12, 1),
        ]


# --- catch-up, pauses and edits --------------------------------------------------------------


def test_occurrences_missed_while_the_scheduler_was_down_are_created_once_each(
    alice_account, no_windows
):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    tick(now=ny(date(2026, 12, 1), 0, 1).isoformat())
    # Down from Dec 1 to Dec 20 (a Sunday): the Dec 8 and Dec 15 occurrences come back once.
    tick(now=ny(date(2026, 12, 20), 14).isoformat())
    tick(now=ny(date(2026, 12, 20), 14, 1).isoformat())
    assert occurrence_dates(schedule) == [date(2026, 12, 1), date(2026, 12, 8), date(2026, 12, 15)]
    schedule.refresh_from_db()
    assert schedule.next_date == date(2026, 12, 22)
    assert Intent.objects.filter(status=IntentStatus.PENDING, kind=IntentKind.DEPOSIT).count() == 3


def test_occurrences_during_a_pause_are_skipped(alice_account, no_windows):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    tick(now=ny(date(2026, 12, 1), 0, 1).isoformat())
    pause_schedule(schedule=schedule)
    tick(now=ny(date(2026, 12, 8), 0, 1).isoformat())
    tick(now=ny(date(2026, 12, 15), 0, 1).isoformat())
    schedule = resume_schedule(schedule=schedule, now=ny(date(2026, 12, 17), 9))
    assert schedule.next_date == date(2026, 12, 22)
    tick(now=ny(date(2026, 12, 22), 0, 1).isoformat())
    assert occurrence_dates(schedule) == [date(2026, 12, 1), date(2026, 12, 22)]


def test_a_pause_over_a_downtime_skips_too(alice_account):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    pause_schedule(schedule=schedule)
    resume_schedule(schedule=schedule, now=ny(date(2026, 12, 10), 9))
    create_due_deposits(now=ny(date(2026, 12, 10), 9, 1))
    assert occurrence_dates(schedule) == []  # Dec 1 and Dec 8 fell in the pause


def test_editing_the_start_date_creates_no_backlog(alice_account):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    create_due_deposits(now=ny(date(2026, 12, 1), 1))
    # Moved back to a Thursday in October: the Thursdays since are not created.
    schedule = update_schedule(
        schedule=schedule, start_date=date(2026, 10, 1), now=ny(date(2026, 12, 2), 12)
    )
    assert schedule.next_date == date(2026, 12, 3)
    create_due_deposits(now=ny(date(2026, 12, 3), 1))
    assert occurrence_dates(schedule) == [date(2026, 12, 1), date(2026, 12, 3)]


def test_an_edit_never_repeats_todays_occurrence(alice_account):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    create_due_deposits(now=ny(date(2026, 12, 1), 1))
    schedule = update_schedule(
        schedule=schedule, start_date=date(2026, 11, 17), now=ny(date(2026, 12, 1), 12)
    )
    assert schedule.next_date == date(2026, 12, 8)
    create_due_deposits(now=ny(date(2026, 12, 1), 13))
    assert occurrence_dates(schedule) == [date(2026, 12, 1)]


def test_an_amount_edit_keeps_the_dates_and_changes_later_deposits(alice_account):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    create_due_deposits(now=ny(date(2026, 12, 1), 1))
    schedule = update_schedule(schedule=schedule, amount="20", now=ny(date(2026, 12, 2), 9))
    assert schedule.next_date == date(2026, 12, 8)
    create_due_deposits(now=ny(date(2026, 12, 8), 1))
    amounts = list(Intent.objects.order_by("occurrence_date").values_list("amount", flat=True))
    assert amounts == [Decimal("50.00"), Decimal("20.00")]


def test_a_schedule_stops_after_its_end_date(alice_account):
    schedule = weekly(
        alice_account,
        date(2026, 12, 1),
        now=ny(date(2026, 11, 30), 12),
        end_date=date(2026, 12, 10),
    )
    create_due_deposits(now=ny(date(2026, 12, 31), 1))
    assert occurrence_dates(schedule) == [date(2026, 12, 1), date(2026, 12, 8)]
    schedule.refresh_from_db()
    assert schedule.next_date is None


def test_deleting_a_schedule_keeps_the_deposits_it_queued(alice_account):
    schedule = weekly(alice_account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12))
    create_due_deposits(now=ny(date(2026, 12, 1), 1))
    delete_schedule(schedule=schedule)
    intent = Intent.objects.get()
    assert (intent.schedule_id, intent.occurrence_date, intent.status) == (
        None,
        date(2026, 12, 1),
        "pending",
    )
    assert create_due_deposits(now=ny(date(2026, 12, 8), 1)) == []


# --- weekends, holidays, month ends ----------------------------------------------------------


@pytest.mark.parametrize(
    ("occurrence", "trading_day"),
    [
        (date(2026, 12, 5), date(2026, 12, 7)),  # a Saturday: Monday's morning window
        (date(2026, 12, 6), date(2026, 12, 7)),  # a Sunday
        (date(2026, 11, 26), date(2026, 11, 27)),  # Thanksgiving: Friday (an early close)
        (date(2026, 12, 25), date(2026, 12, 28)),  # Christmas, a Friday: Monday
        (date(2027, 1, 18), date(2027, 1, 19)),  # Martin Luther King Jr. Day
    ],
)
def test_a_weekend_or_holiday_occurrence_goes_to_the_next_trading_days_morning_window(
    alice_account, no_windows, occurrence, trading_day
):
    schedule = weekly(alice_account, occurrence, now=ny(occurrence - timedelta(days=1), 12))
    tick(now=ny(occurrence, 0, 1).isoformat())
    intent = Intent.objects.get()
    assert intent.occurrence_date == occurrence
    window = window_for_account(alice_account, intent.created_at)
    assert (window.trade_date, window.session) == (trading_day, "morning")
    assert occurrence_dates(schedule) == [occurrence]


def test_a_monthly_schedule_on_the_28th_creates_one_deposit_each_month(alice_account):
    schedule = create_schedule(
        account=alice_account,
        amount="100",
        frequency="monthly",
        day=28,
        start_date=date(2027, 11, 1),
        now=ny(date(2027, 11, 1), 12),
    )
    day = date(2027, 11, 1)
    while day <= date(2028, 4, 2):
        create_due_deposits(now=ny(day, 0, 1))
        day += timedelta(days=1)
    assert occurrence_dates(schedule) == [
        date(2027, 11, 28),
        date(2027, 12, 28),
        date(2028, 1, 28),
        date(2028, 2, 28),  # a leap year: the 28th, not the 29th
        date(2028, 3, 28),
    ]


def test_biweekly_schedules_count_from_their_start_date(alice_account):
    schedule = create_schedule(
        account=alice_account,
        amount="10",
        frequency="biweekly",
        start_date=date(2026, 11, 6),
        now=ny(date(2026, 11, 20), 12),
    )
    assert schedule.next_date == date(2026, 11, 20)
    create_due_deposits(now=ny(date(2027, 1, 1), 1))
    assert occurrence_dates(schedule) == [
        date(2026, 11, 20),
        date(2026, 12, 4),
        date(2026, 12, 18),
        date(2027, 1, 1),
    ]


# --- daylight saving time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 3, 7), date(2026, 3, 10)),  # clocks go forward on Sunday March 8
        (date(2026, 10, 31), date(2026, 11, 3)),  # and back on Sunday November 1
    ],
)
def test_ticks_across_a_dst_change_create_every_occurrence_once_on_its_new_york_date(
    alice_account, bob_account, no_windows, first, last
):
    before = ny(first, 0) - timedelta(days=1)
    schedules = {
        start: weekly(alice_account, start, now=before)
        for start in (first + timedelta(days=i) for i in range(4))
    }
    monthly = create_schedule(
        account=bob_account,
        amount="10",
        frequency="monthly",
        day=8 if first.month == 3 else 1,
        start_date=first,
        now=before,
    )
    # A tick every 30 minutes in UTC, so the repeated hour in November is ticked twice.
    moment = ny(first, 0).astimezone(UTC)
    end = ny(last, 12)
    ticks = 0
    while moment <= end:
        tick(now=moment.isoformat())
        moment += timedelta(minutes=30)
        ticks += 1
    hours = 84 - 1 if first.month == 3 else 84 + 1  # a 23-hour or a 25-hour Sunday
    assert ticks == hours * 2 + 1
    for start, schedule in schedules.items():
        assert occurrence_dates(schedule) == [start]
    assert occurrence_dates(monthly) == [
        date(2026, 3, 8) if first.month == 3 else date(2026, 11, 1)
    ]
    for intent in Intent.objects.all():
        # Created on its own New York date, at the first tick of that day.
        assert market_date(intent.created_at) == intent.occurrence_date
        local = intent.created_at.astimezone(MARKET_TZ)
        assert (local.hour, local.minute) == (0, 0)
    assert verify_books() == []


# --- the job is set-based --------------------------------------------------------------------


def test_the_job_runs_the_same_statements_for_one_schedule_or_twenty(make_user):
    def statements(count: int, name: str) -> int:
        account = open_account(user=make_user(name), kind="individual")
        ids = [
            weekly(account, date(2026, 12, 1), now=ny(date(2026, 11, 30), 12)).pk
            for _ in range(min(count, 5))
        ]
        # More schedules than one account may hold: copies of the same row.
        source = RecurringDeposit.objects.get(pk=ids[0])
        for _ in range(count - len(ids)):
            source.pk = None
            source.save()
        with CaptureQueriesContext(connection) as queries:
            created = create_due_deposits(now=ny(date(2026, 12, 15), 1))
        assert len(created) == count * 3
        RecurringDeposit.objects.all().delete()
        return len(queries)

    assert statements(1, "one") == statements(20, "twenty")
