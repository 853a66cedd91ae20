"""Daily snapshots of each investor account at the close (product.md, Performance and income).

One row per account and trading day, written set-based by ``trading.services.snapshots`` (the
daily job, and the backfill from the ledger and stored prices). ``SnapshotDay`` records which
inputs (the closes, the windows of the day) a day was taken from, so a day is rewritten when
its prices arrive late, and taken once otherwise.
"""

from __future__ import annotations

from django.db import models

from trading.models.accounts import Account
from trading.money import money_field


class Snapshot(models.Model):
    # indexed by one_snapshot_per_day (account, day)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="snapshots", db_index=False
    )
    day = models.DateField(help_text="The New York trading day whose close this is.")
    value = money_field(help_text="Cash plus the holdings' sellable values at the close.")
    cash = money_field()
    net_contributions = money_field(
        help_text="Deposits less withdrawals credited or paid through this day."
    )
    dividends = money_field(help_text="Dividends received through this day (income).")
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "day"]
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="one_snapshot_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.value}"


class SnapshotDay(models.Model):
    """The claim and the inputs of one day's snapshots."""

    day = models.DateField(unique=True)
    fingerprint = models.CharField(max_length=80)
    requested_at = models.DateTimeField()
    taken_at = models.DateTimeField(null=True, blank=True)
    accounts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} ({self.accounts} accounts)"
