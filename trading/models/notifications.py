"""Trade confirmations: one row per done window and owner, claimed before its email is sent
(product.md, Notifications; the workflow is ``trading.services.confirmations``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from trading.models.windows import TradeWindow


class Confirmation(models.Model):
    """The trade confirmation of one window for one owner.

    The unique (window, owner) row is what makes the email go out once: it is created when
    the window is done, stamped ``queued_at`` when a batch task is sent for it, ``claimed_at``
    (with ``attempts`` + 1) in a committed transaction right before its email is sent, and
    ``sent_at`` right after. A row claimed but never sent (the worker died in between) is
    claimed again once its claim is older than ``PIES_CONFIRMATION_RETRY_SECONDS``.
    """

    # indexed by one_confirmation_per_window_owner (window, owner)
    window = models.ForeignKey(
        TradeWindow, on_delete=models.PROTECT, related_name="confirmations", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="confirmations"
    )
    # The owner's accounts the window served that asked for confirmations, fixed when the
    # window closed (a setting changed later applies to the next window).
    account_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-window_id", "owner_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["window", "owner"], name="one_confirmation_per_window_owner"
            ),
        ]
        indexes = [
            models.Index(
                fields=["queued_at"], condition=Q(sent_at__isnull=True), name="confirmation_unsent"
            )
        ]

    def __str__(self) -> str:
        return f"confirmation of window {self.window_id} for user {self.owner_id}"
