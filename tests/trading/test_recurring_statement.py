"""The recurring job's statement: its SQL date rules against ``trading.recurrence``, on many
schedules at once (one statement for all of them)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from pies.services import open_account
from trading import recurrence
from trading.calendar import MARKET_TZ
from trading.models import Intent, RecurringDeposit
from trading.services import create_due_deposits
from trading.services.recurring import occurrence_key

pytestmark = pytest.mark.django_db

TODAY = date(2027, 3, 15)


def random_schedule(rng: random.Random) -> dict:
    frequency = rng.choice([recurrence.WEEKLY, recurrence.BIWEEKLY, recurrence.MONTHLY])
    day = rng.randint(1, 28) if frequency == recurrence.MONTHLY else None
    start = date(2026, 1, 1) + timedelta(days=rng.randint(0, 500))
    # Usually an occurrence (what the services store), sometimes only a lower bound.
    lower = start + timedelta(days=rng.randint(0, 120))
    if rng.random() < 0.8:
        lower = recurrence.first_on_or_after(
            frequency=frequency, day=day, start=start, on_or_after=lower
        )
    end = None if rng.random() < 0.6 else start + timedelta(days=rng.randint(0, 400))
    last = None if rng.random() < 0.5 else lower - timedelta(days=rng.randint(1, 40))
    return {
        "frequency": frequency,
        "day": day,
        "start_date": start,
        "end_date": end,
        "next_date": lower,
        "last_occurrence": last,
        "paused": rng.random() < 0.1,
    }


def test_the_statement_creates_what_the_date_rules_name_for_many_schedules_at_once(make_user):
    rng = random.Random(20261129)
    account = open_account(user=make_user("erin"), kind="individual")
    schedules = RecurringDeposit.objects.bulk_create(
        RecurringDeposit(account=account, amount=Decimal("10.00"), **random_schedule(rng))
        for _ in range(300)
    )
    created = create_due_deposits(now=datetime(2027, 3, 15, 0, 1, tzinfo=MARKET_TZ))

    expected_intents = 0
    for schedule in schedules:
        after = RecurringDeposit.objects.get(pk=schedule.pk)
        dates = list(
            Intent.objects.filter(schedule=schedule)
            .order_by("occurrence_date")
            .values_list("occurrence_date", flat=True)
        )
        if schedule.paused or schedule.next_date > TODAY:
            assert dates == []
            assert (after.next_date, after.last_occurrence) == (
                schedule.next_date,
                schedule.last_occurrence,
            )
            continue
        rule = {
            "frequency": schedule.frequency,
            "day": schedule.day,
            "start": schedule.start_date,
            "end": schedule.end_date,
        }
        wanted = list(recurrence.occurrences(**rule, first=schedule.next_date, through=TODAY))
        assert dates == wanted, rule
        assert after.next_date == recurrence.next_after(**rule, after=TODAY), rule
        latest = max(filter(None, [schedule.last_occurrence, *wanted]), default=None)
        assert after.last_occurrence == latest
        expected_intents += len(wanted)
    assert len(created) == expected_intents > 300
    intent = Intent.objects.get(pk=created[0])
    assert intent.idempotency_key == occurrence_key(intent.schedule_id, intent.occurrence_date)
    assert (intent.kind, intent.status, intent.amount) == ("deposit", "pending", Decimal("10.00"))
