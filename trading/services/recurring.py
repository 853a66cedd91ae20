"""Recurring deposits: managing schedules, and the tick's job that queues their deposits.

Each occurrence (a New York date) becomes exactly one deposit intent: the intent carries its
schedule and occurrence date under a unique constraint, and an idempotency key derived from
both, so a tick that runs twice, or two ticks at once, never doubles one (``INSERT ... ON
CONFLICT DO NOTHING``). ``RecurringDeposit.next_date`` is the next occurrence to create: the
tick creates every occurrence from it through today (catching up after downtime, once each) and
moves it past today; resuming a schedule or changing when it falls moves it to today or later,
so pauses and edits leave no backlog. The job is one statement for all the due schedules,
whatever their number: it locks them, inserts their intents straight from their rows (the date
rules in SQL) and moves their next dates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from trading import recurrence
from trading.calendar import FIRST_DAY, LAST_DAY, market_date
from trading.models import (
    MAX_SCHEDULES,
    MIN_RECURRING,
    Account,
    Frequency,
    IntentKind,
    IntentStatus,
    RecurringDeposit,
)
from trading.money import MAX_DEPOSIT
from trading.services.errors import IntentError, intent_amount
from trading.services.intents import RESERVED_KEY_PREFIX as KEY_PREFIX

TIMING_FIELDS = ("frequency", "day", "start_date", "end_date")
UNSET: Any = object()


def occurrence_key(schedule_id: int, day: date) -> str:
    """The idempotency key of one occurrence's intent (reserved: investors cannot send it)."""
    return f"{KEY_PREFIX}{schedule_id}:{day.isoformat()}"


def _today(now: datetime | None) -> date:
    return market_date(now or timezone.now())


# --- validation ------------------------------------------------------------------------------


def _amount(raw: object) -> Any:
    value = intent_amount(raw, maximum=MAX_DEPOSIT)
    if value < MIN_RECURRING:
        raise IntentError("amount", f"Enter at least {MIN_RECURRING}.")
    return value


def _date(field: str, value: object, *, optional: bool = False) -> date | None:
    if value is None and optional:
        return None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise IntentError(field, "Enter a date.")
    if not FIRST_DAY <= value <= LAST_DAY:
        # The exchange calendar (and so the trading day a deposit goes to) covers this range.
        raise IntentError(field, f"Choose a date from {FIRST_DAY} to {LAST_DAY}.")
    return value


def _check_timing(frequency: object, day: object, start: date, end: date | None) -> None:
    if frequency not in Frequency.values:
        raise IntentError("frequency", "Choose weekly, biweekly or monthly.")
    if frequency == recurrence.MONTHLY:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= recurrence.MAX_DAY:
            raise IntentError("day", "Choose a day of the month from 1 to 28 (every month has it).")
    elif day is not None:
        raise IntentError("day", "Only monthly schedules take a day of the month.")
    if end is not None and end < start:
        raise IntentError("end_date", "The end date is on or after the start date.")


def _next_date(schedule: RecurringDeposit, today: date) -> date | None:
    """The first occurrence from today on, after the last one created (no backlog)."""
    lower = today
    if schedule.last_occurrence is not None and schedule.last_occurrence >= lower:
        lower = schedule.last_occurrence
        return recurrence.next_after(
            frequency=schedule.frequency,
            day=schedule.day,
            start=schedule.start_date,
            end=schedule.end_date,
            after=lower,
        )
    found = recurrence.first_on_or_after(
        frequency=schedule.frequency,
        day=schedule.day,
        start=schedule.start_date,
        on_or_after=lower,
    )
    return None if schedule.end_date is not None and found > schedule.end_date else found


# --- managing schedules ----------------------------------------------------------------------


@transaction.atomic
def create_schedule(
    *,
    account: Account,
    amount: object,
    frequency: object,
    start_date: object,
    day: object = None,
    end_date: object = None,
    now: datetime | None = None,
) -> RecurringDeposit:
    """A new schedule; its first deposit is its first occurrence from today on (a start date
    in the past sets the weekday or the fortnight, and creates no backlog)."""
    if account.owner_id is None:
        raise IntentError("account", "System accounts take no deposits.")
    value = _amount(amount)
    start = _date("start_date", start_date)
    assert start is not None
    end = _date("end_date", end_date, optional=True)
    _check_timing(frequency, day, start, end)
    # The account's row lock serialises creations, so two at once cannot pass the limit.
    Account.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
    if RecurringDeposit.objects.filter(account=account).count() >= MAX_SCHEDULES:
        raise IntentError(
            "non_field_errors", f"An account has at most {MAX_SCHEDULES} recurring deposits."
        )
    schedule = RecurringDeposit(
        account=account,
        amount=value,
        frequency=str(frequency),
        day=day if isinstance(day, int) else None,
        start_date=start,
        end_date=end,
    )
    schedule.next_date = _next_date(schedule, _today(now))
    schedule.save()
    return schedule


@transaction.atomic
def update_schedule(
    *,
    schedule: RecurringDeposit,
    amount: object = UNSET,
    frequency: object = UNSET,
    day: object = UNSET,
    start_date: object = UNSET,
    end_date: object = UNSET,
    paused: object = UNSET,
    now: datetime | None = None,
) -> RecurringDeposit:
    """Change, pause or resume a schedule. A change of when it falls, or a resume, starts it
    again from today: the occurrences it would have had before are not created."""
    locked = RecurringDeposit.objects.select_for_update(no_key=True).get(pk=schedule.pk)
    before = [getattr(locked, name) for name in TIMING_FIELDS]
    if amount is not UNSET:
        locked.amount = _amount(amount)
    if frequency is not UNSET:
        locked.frequency = frequency  # type: ignore[assignment]
        if frequency != recurrence.MONTHLY and day is UNSET:
            day = None  # weekly and biweekly schedules have no day of the month
    if day is not UNSET:
        locked.day = day  # type: ignore[assignment]
    if start_date is not UNSET:
        locked.start_date = _date("start_date", start_date)  # type: ignore[assignment]
    if end_date is not UNSET:
        locked.end_date = _date("end_date", end_date, optional=True)
    _check_timing(locked.frequency, locked.day, locked.start_date, locked.end_date)
    timing_changed = before != [getattr(locked, name) for name in TIMING_FIELDS]
    resumed = False
    if paused is not UNSET:
        if not isinstance(paused, bool):
            raise IntentError("paused", "Send true or false.")
        resumed = locked.paused and not paused
        locked.paused = paused
    if timing_changed or resumed:
        locked.next_date = _next_date(locked, _today(now))
    locked.save()
    return locked


def pause_schedule(*, schedule: RecurringDeposit) -> RecurringDeposit:
    return update_schedule(schedule=schedule, paused=True)


def resume_schedule(*, schedule: RecurringDeposit, now: datetime | None = None) -> RecurringDeposit:
    return update_schedule(schedule=schedule, paused=False, now=now)


@transaction.atomic
def delete_schedule(*, schedule: RecurringDeposit) -> None:
    """Delete a schedule. Deposits it already queued stay (cancel them like any other); they
    keep their occurrence date and lose the link to the schedule."""
    # The row lock waits for a tick that is queuing this schedule's deposits, so the delete
    # sees (and unlinks) every intent that references it.
    locked = RecurringDeposit.objects.select_for_update(no_key=True).filter(pk=schedule.pk).first()
    if locked is not None:
        locked.delete()


# --- the tick's job ------------------------------------------------------------------------

# The date rules of ``trading.recurrence`` in SQL, for the schedule row ``r`` (a test checks
# them against the Python): the step of a weekly or biweekly schedule in days, and the first
# occurrence on or after ``lower`` = GREATEST(start date, the date asked for).
_STEP_DAYS = "CASE r.frequency WHEN %(weekly)s THEN 7 WHEN %(biweekly)s THEN 14 END"
_FIRST_ON_OR_AFTER = f"""
CASE WHEN r.frequency = %(monthly)s THEN (
    SELECT CASE WHEN m.candidate >= m.lower THEN m.candidate
                ELSE (m.candidate + interval '1 month')::date END
    FROM (SELECT make_date(extract(year FROM l.lower)::int, extract(month FROM l.lower)::int,
                           r.day) AS candidate, l.lower) m
)
ELSE r.start_date + (l.lower - r.start_date + {_STEP_DAYS} - 1) / {_STEP_DAYS} * {_STEP_DAYS}
END
"""

# due: the schedules with an occurrence not created yet, locked (FOR NO KEY UPDATE): an edit, a
#   resume or a delete waits for this transaction, and a second tick re-reads the rows once
#   this one commits (and finds them no longer due); with each one's first occurrence on or
#   after next_date and its step.
# dates: per due schedule, its dates from that first occurrence through the first one after
#   today (a step is at most a month, so the series ends there), none after the end date.
# created: the dates through today, one deposit intent each (ON CONFLICT: a stale next_date
#   never creates one twice).
# advanced: next_date moves to the first date after today (none once the end date has passed),
#   last_occurrence to the last one created.
_CREATE_DUE = f"""
WITH due AS (
    SELECT r.id, r.account_id, r.amount, r.end_date, ({_FIRST_ON_OR_AFTER}) AS first,
           CASE WHEN r.frequency = %(monthly)s THEN interval '1 month'
                ELSE {_STEP_DAYS} * interval '1 day' END AS step
    FROM trading_recurringdeposit r
    CROSS JOIN LATERAL (SELECT GREATEST(r.start_date, r.next_date) AS lower) l
    WHERE NOT r.paused AND r.next_date <= %(today)s
    ORDER BY r.id
    FOR NO KEY UPDATE OF r
),
dates AS (
    SELECT d.id, d.account_id, d.amount, g::date AS day
    FROM due d
    CROSS JOIN LATERAL generate_series(
        d.first::timestamp, GREATEST(d.first::timestamp, %(today)s::timestamp + d.step), d.step
    ) g
    WHERE d.end_date IS NULL OR g::date <= d.end_date
),
created AS (
    INSERT INTO trading_intent
        (account_id, kind, amount, withdraw_all, status, idempotency_key, request_fingerprint,
         failure_reason, created_at, schedule_id, occurrence_date)
    SELECT o.account_id, %(kind)s, o.amount, false, %(status)s,
           %(prefix)s || o.id || ':' || to_char(o.day, 'YYYY-MM-DD'), '', '', %(now)s, o.id, o.day
    FROM dates o
    WHERE o.day <= %(today)s
    ORDER BY o.id, o.day
    ON CONFLICT DO NOTHING
    RETURNING id
),
advanced AS (
    UPDATE trading_recurringdeposit r
    SET next_date = s.next_date, last_occurrence = GREATEST(r.last_occurrence, s.last)
    FROM (
        SELECT d.id, min(x.day) FILTER (WHERE x.day > %(today)s) AS next_date,
               max(x.day) FILTER (WHERE x.day <= %(today)s) AS last
        FROM due d LEFT JOIN dates x ON x.id = d.id
        GROUP BY d.id
    ) s
    WHERE r.id = s.id
)
SELECT id FROM created ORDER BY id
"""


def create_due_deposits(*, now: datetime | None = None) -> list[int]:
    """Queue a deposit intent for every occurrence due by today (New York), each exactly once;
    returns the new intents' ids. Two statements for any number of schedules."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        # generate_series makes the planner guess millions of rows, and compiling the plan
        # (JIT) would then cost more than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            _CREATE_DUE,
            {
                "today": market_date(now),
                "now": now,
                "kind": IntentKind.DEPOSIT.value,
                "status": IntentStatus.PENDING.value,
                "prefix": KEY_PREFIX,
                "weekly": Frequency.WEEKLY.value,
                "biweekly": Frequency.BIWEEKLY.value,
                "monthly": Frequency.MONTHLY.value,
            },
        )
        return [pk for (pk,) in cursor.fetchall()]
