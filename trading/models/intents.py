"""Intents: what an investor asked for, waiting for the next trade window."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from trading.models.accounts import Account
from trading.money import money_field


class IntentKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    REBALANCE = "rebalance", "Rebalance"
    REMOVAL = "removal", "Slice removal"


class IntentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class IntentQuerySet(models.QuerySet["Intent"]):
    def pending(self) -> IntentQuerySet:
        return self.filter(status=IntentStatus.PENDING)

    def described(self) -> list[Intent]:
        """These intents, oldest first, each ready for ``description``, in one query, or two
        when some are removals or rebalances (``described``)."""
        return described(list(self.order_by("created_at", "id")))

    def pending_of(self, account_id: int) -> list[Intent]:
        """An account's pending intents, oldest first, each ready for ``description``: the
        account page's, read by plain SQL (the ORM took twice as long to build the query as
        the database to answer it)."""
        rows = self.raw(_PENDING_OF, {"account": account_id, "pending": IntentStatus.PENDING})
        return described(list(rows))


_PENDING_OF = """
    SELECT * FROM trading_intent WHERE account_id = %(account)s AND status = %(pending)s
    ORDER BY created_at, id
"""


def described(intents: list[Intent]) -> list[Intent]:
    """``intents``, each ready for ``description``: the removals and rebalances among them
    (the only ones that name their slice or pie) read again with what they name, in one query.
    Joining the four tables for every list cost the account page twice the time of the plain
    read, for the few that need them."""
    naming = [i.pk for i in intents if i.kind in (IntentKind.REMOVAL, IntentKind.REBALANCE)]
    if not naming:
        return intents
    related = Intent.objects.select_related("pie", "slice__security", "slice__child_pie")
    loaded = related.in_bulk(naming)
    return [loaded.get(intent.pk, intent) for intent in intents]


class Intent(models.Model):
    """Something an investor asked for that waits for the next trade window."""

    # indexed by idempotency_key_unique_per_account (account, idempotency_key)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="intents", db_index=False
    )
    kind = models.CharField(max_length=12, choices=IntentKind.choices)
    amount = money_field(null=True, blank=True)
    # A withdrawal of the whole value: sells everything, whatever the value is by then.
    withdraw_all = models.BooleanField(default=False)
    pie = models.ForeignKey(
        "pies.Pie",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="intents",
        db_index=False,  # intent_pie: only the intents that have one
    )
    slice = models.ForeignKey(
        "pies.Slice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="intents",
        db_index=False,  # intent_slice: only the intents that have one
    )
    status = models.CharField(
        max_length=10, choices=IntentStatus.choices, default=IntentStatus.PENDING
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # Fingerprint of the request body, so a reused key with another body is a conflict.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    window = models.ForeignKey(
        "TradeWindow", null=True, blank=True, on_delete=models.PROTECT, related_name="intents"
    )
    failure_reason = models.TextField(blank=True)
    # What a done withdrawal paid out: its amount, unless it had to sell every share (then what
    # they raised; failure_reason says so), or everything for a withdrawal of all.
    amount_paid = money_field(null=True, blank=True)
    # A recurring deposit's schedule and the occurrence (a New York date) it is for.
    schedule = models.ForeignKey(  # indexed by one_intent_per_occurrence (schedule, date)
        "RecurringDeposit",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="intents",
        db_index=False,
    )
    occurrence_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = IntentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="intent_status_created"),
            # Partial: the recurring job inserts tens of thousands of deposits at once, none
            # with a slice.
            models.Index(fields=["slice"], condition=Q(slice__isnull=False), name="intent_slice"),
            # Partial too: only rebalances have a pie. Every index entry an intent has is
            # written again when a window binds it and when it is done (both updates change an
            # indexed column, so neither is HOT).
            models.Index(fields=["pie"], condition=Q(pie__isnull=False), name="intent_pie"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="idempotency_key_unique_per_account"
            ),
            models.UniqueConstraint(
                fields=["pie"],
                condition=Q(kind="rebalance", status="pending"),
                name="one_pending_rebalance_per_pie",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="intent_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind="deposit") | Q(amount__isnull=False),
                name="deposit_has_amount",
            ),
            models.CheckConstraint(
                condition=~Q(kind="withdrawal") | Q(amount__isnull=False) | Q(withdraw_all=True),
                name="withdrawal_has_amount",
            ),
            models.CheckConstraint(
                condition=~Q(kind="rebalance") | Q(pie__isnull=False), name="rebalance_has_pie"
            ),
            models.CheckConstraint(
                condition=~Q(kind="removal") | Q(slice__isnull=False), name="removal_has_slice"
            ),
            # Each occurrence of a schedule is one deposit, however often the tick runs.
            # (Only recurring deposits have a schedule: the others need no entry.)
            models.UniqueConstraint(
                fields=["schedule", "occurrence_date"],
                condition=Q(schedule__isnull=False),
                name="one_intent_per_occurrence",
            ),
            models.CheckConstraint(
                condition=Q(occurrence_date=None) | Q(kind="deposit"),
                name="occurrence_is_a_deposit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def description(self) -> str:
        """What it is, naming what it acts on: "Slice removal of VTI", "Rebalance of Bonds".
        (Load with ``described()``, or ``select_related("pie", "slice__security",
        "slice__child_pie")``.)"""
        text = self.get_kind_display()
        if self.kind == IntentKind.REMOVAL and self.slice is not None:
            target = self.slice.security or self.slice.child_pie
            text += f" of {getattr(target, 'symbol', None) or target}"
        elif self.kind == IntentKind.REBALANCE and self.pie is not None and not self.pie.is_root:
            text += f" of {self.pie.name}"
        if self.withdraw_all:
            text += " (everything)"
        if self.occurrence_date is not None:
            text += f" (recurring, {self.occurrence_date:%b} {self.occurrence_date.day})"
        return text
