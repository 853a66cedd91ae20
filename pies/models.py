"""Pies and slices: what a portfolio should look like.

A slice points at exactly one of a security or a child pie. The portfolio (root) pie carries
one ``version`` for its whole tree, so concurrent edits are detected. Slices are never deleted
once they have history: a removed slice that held shares keeps its position, lots and orders,
and is marked ``removed``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

MAX_SECURITY_SLICES_PER_ACCOUNT = 100
MAX_DEPTH = 5  # the portfolio pie is level 1


class Pie(models.Model):
    account = models.ForeignKey("trading.Account", on_delete=models.PROTECT, related_name="pies")
    name = models.CharField(max_length=100)
    is_root = models.BooleanField(default=False)
    # Only meaningful on the root pie: bumped by every save of the tree.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_root=True), name="one_portfolio_pie_per_account"
            ),
            models.CheckConstraint(condition=~Q(name__contains="/"), name="pie_name_without_slash"),
            models.CheckConstraint(condition=~Q(name=""), name="pie_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class SliceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REMOVING = "removing", "Removing (sold at the next window)"
    REMOVED = "removed", "Removed"


class SliceQuerySet(models.QuerySet["Slice"]):
    def live(self) -> SliceQuerySet:
        """Slices that are part of the pie now (active or waiting to be sold)."""
        return self.exclude(status=SliceStatus.REMOVED)


class Slice(models.Model):
    pie = models.ForeignKey(Pie, on_delete=models.PROTECT, related_name="slices")
    security = models.ForeignKey(
        "trading.Security", null=True, blank=True, on_delete=models.PROTECT, related_name="slices"
    )
    child_pie = models.OneToOneField(
        Pie, null=True, blank=True, on_delete=models.PROTECT, related_name="parent_slice"
    )
    target_bp = models.PositiveIntegerField(help_text="Target in basis points of the parent pie.")
    order = models.PositiveIntegerField(default=0)
    # The slice's colour in the donut and legend (an index into pies.donut.PALETTE): chosen
    # when the slice is created and kept across edits and moves, so colours never shuffle.
    colour = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=SliceStatus.choices, default=SliceStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SliceQuerySet.as_manager()

    class Meta:
        ordering = ["pie", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_bp__gte=0) & Q(target_bp__lte=10000), name="target_bp_in_range"
            ),
            models.CheckConstraint(
                condition=Q(security__isnull=False, child_pie__isnull=True)
                | Q(security__isnull=True, child_pie__isnull=False),
                name="slice_is_security_xor_pie",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(target_bp__gt=0), name="active_slice_has_target"
            ),
            models.CheckConstraint(
                condition=Q(status="active") | Q(target_bp=0), name="inactive_slice_has_no_target"
            ),
            models.UniqueConstraint(
                fields=["pie", "security"],
                condition=~Q(status="removed"),
                name="security_once_per_pie",
            ),
        ]
        indexes = [
            # The few slices no longer in their pie: a window's post checks that none of its
            # fills is for one (trading.window.post, off_pie) without reading every slice.
            models.Index(
                fields=["id"],
                condition=~Q(status__in=["active", "removing"]),
                name="slice_off_pie",
            ),
        ]

    def __str__(self) -> str:
        target = f"{self.target_bp / 100:.2f}%"
        return f"{self.security_id or self.child_pie_id} {target}"

    @property
    def is_pie(self) -> bool:
        return self.child_pie_id is not None

    @property
    def target_percent(self) -> str:
        return f"{self.target_bp // 100}.{self.target_bp % 100:02d}"
