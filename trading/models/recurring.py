"""Recurring deposits: schedules that queue a deposit intent on each of their dates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import models
from django.db.models import Q

from trading import recurrence
from trading.calendar import CalendarRangeError, is_trading_day, next_trading_day
from trading.models.accounts import Account
from trading.money import MAX_DEPOSIT, money_field

MIN_RECURRING = Decimal("1.00")
MAX_SCHEDULES = 5  # per account (product.md)


class Frequency(models.TextChoices):
    WEEKLY = recurrence.WEEKLY, "Weekly"
    BIWEEKLY = recurrence.BIWEEKLY, "Every two weeks"
    MONTHLY = recurrence.MONTHLY, "Monthly"


class RecurringDepositQuerySet(models.QuerySet["RecurringDeposit"]):
    def due(self, today: date) -> RecurringDepositQuerySet:
        """Schedules with an occurrence on or before ``today`` not created yet."""
        return self.filter(paused=False, next_date__lte=today)

    def of_account(self, account_id: int) -> list[RecurringDeposit]:
        """An account's schedules, oldest first (the account page's), read by plain SQL: the
        ORM took longer to build the query than the database to answer it."""
        return list(self.raw(_OF_ACCOUNT, {"account": account_id}))


_OF_ACCOUNT = """
    SELECT * FROM trading_recurringdeposit WHERE account_id = %(account)s ORDER BY created_at, id
"""


class RecurringDeposit(models.Model):
    """A schedule of deposits. ``next_date`` is the next occurrence the tick will create (none
    once the end date has passed); every change of when (frequency, day, dates) and every resume
    moves it to today or later, so such changes and pauses create no backlog, while a scheduler
    that was down catches up from it."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="recurring_deposits"
    )
    amount = money_field()
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    day = models.PositiveSmallIntegerField(null=True, blank=True)  # monthly: 1..28
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    next_date = models.DateField(null=True, blank=True)
    last_occurrence = models.DateField(null=True, blank=True)  # the last one created
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RecurringDepositQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["next_date"], condition=Q(paused=False), name="recurring_due")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=MIN_RECURRING) & Q(amount__lte=MAX_DEPOSIT),
                name="recurring_amount_range",
            ),
            models.CheckConstraint(
                condition=(
                    Q(frequency=recurrence.MONTHLY, day__gte=1, day__lte=recurrence.MAX_DAY)
                    | (Q(frequency__in=[recurrence.WEEKLY, recurrence.BIWEEKLY]) & Q(day=None))
                ),
                name="recurring_day_only_monthly",
            ),
            models.CheckConstraint(
                condition=Q(end_date=None) | Q(end_date__gte=models.F("start_date")),
                name="recurring_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_frequency_display().lower()} #{self.pk}"

    @property
    def upcoming(self) -> date | None:
        """The next date a deposit will be queued, as investors see it (none while paused)."""
        return None if self.paused else self.next_date

    @property
    def trading_day(self) -> date | None:
        """The trading day whose morning window takes the next deposit: its date, or the next
        trading day after a weekend or holiday."""
        day = self.upcoming
        if day is None:
            return None
        try:
            return day if is_trading_day(day) else next_trading_day(day)
        except CalendarRangeError:
            return None

    def describe(self) -> str:
        """ "weekly on Tuesdays", "monthly on the 15th"."""
        if self.frequency == recurrence.MONTHLY:
            return f"monthly on day {self.day}"
        weekday = self.start_date.strftime("%A")
        if self.frequency == recurrence.BIWEEKLY:
            return f"every two weeks on {weekday}"
        return f"weekly on {weekday}"
