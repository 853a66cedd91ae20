"""Accounts (investors' and the system's), securities, prices and positions."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from trading.money import ZERO, money_field, price_field, quantity_field

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class AccountKind(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    JOINT = "joint", "Joint"
    ROTH_IRA = "roth_ira", "Roth IRA"
    TRADITIONAL_IRA = "traditional_ira", "Traditional IRA"
    SEP_IRA = "sep_ira", "SEP IRA"
    # System accounts (no owner): they make the ledger double-entry.
    HOUSE = "house", "House (rounding residues)"
    EXTERNAL = "external", "Outside world"
    CLEARING = "clearing", "Trade clearing"


USER_ACCOUNT_KINDS = (
    AccountKind.INDIVIDUAL,
    AccountKind.JOINT,
    AccountKind.ROTH_IRA,
    AccountKind.TRADITIONAL_IRA,
    AccountKind.SEP_IRA,
)
SYSTEM_ACCOUNT_KINDS = (AccountKind.HOUSE, AccountKind.EXTERNAL, AccountKind.CLEARING)
RETIREMENT_KINDS = (AccountKind.ROTH_IRA, AccountKind.TRADITIONAL_IRA, AccountKind.SEP_IRA)


class WindowPreference(models.TextChoices):
    MORNING = "morning", "Morning (09:30 ET)"
    AFTERNOON = "afternoon", "Afternoon (15:00 ET)"


class LotMethod(models.TextChoices):
    TAX_MIN = "tax_min", "Tax minimization"
    FIFO = "fifo", "First in, first out"
    LIFO = "lifo", "Last in, first out"
    HIFO = "hifo", "Highest cost first"


class AccountQuerySet(models.QuerySet["Account"]):
    def for_user(self, user: User | AnonymousUser) -> AccountQuerySet:
        """The accounts ``user`` owns (none for an anonymous visitor)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def investor(self) -> AccountQuerySet:
        return self.filter(kind__in=USER_ACCOUNT_KINDS)


class Account(models.Model):
    owner = models.ForeignKey(  # indexed by one_account_of_each_kind (owner, kind)
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        db_index=False,
    )
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    name = models.CharField(max_length=100, blank=True)
    auto_invest = models.BooleanField(default=True)
    min_cash = money_field(default=ZERO)
    window_preference = models.CharField(
        max_length=10, choices=WindowPreference.choices, default=WindowPreference.MORNING
    )
    lot_method = models.CharField(
        max_length=10, choices=LotMethod.choices, default=LotMethod.TAX_MIN
    )
    # Trade confirmations by email after each window this account trades in (product.md).
    notify = models.BooleanField(default=True)
    # A cache of the ledger sum, written in the same transaction as the entries;
    # verify_books checks it against the ledger.
    cash = money_field(default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccountQuerySet.as_manager()

    # Values at the latest prices, not columns: set on a page of accounts in two queries by
    # trading.valuation.with_values.
    invested_value: Decimal
    total_value: Decimal
    available_to_withdraw: Decimal

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "kind"], name="one_account_of_each_kind"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(owner__isnull=True), name="one_system_account_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=True, kind__in=SYSTEM_ACCOUNT_KINDS)
                | Q(owner__isnull=False, kind__in=USER_ACCOUNT_KINDS),
                name="owner_iff_user_kind",
            ),
            models.CheckConstraint(
                condition=Q(cash__gte=0) | Q(kind__in=[AccountKind.EXTERNAL, AccountKind.CLEARING]),
                name="cash_never_negative",
            ),
            models.CheckConstraint(condition=Q(min_cash__gte=0), name="min_cash_not_negative"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.get_kind_display()

    @property
    def is_retirement(self) -> bool:
        return self.kind in RETIREMENT_KINDS

    @classmethod
    def system(cls, kind: str) -> Account:
        account, _ = cls.objects.get_or_create(owner=None, kind=kind)
        return account


class SecurityKind(models.TextChoices):
    STOCK = "stock", "Stock"
    ETF = "etf", "ETF"
    FUND = "fund", "Fund"


class Security(models.Model):
    symbol = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=SecurityKind.choices, default=SecurityKind.ETF)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["symbol"]
        verbose_name_plural = "securities"
        constraints = [
            models.CheckConstraint(
                condition=Q(symbol__regex=r"^[A-Z][A-Z0-9.\-]{0,11}$"), name="symbol_upper_case"
            ),
        ]

    def __str__(self) -> str:
        return self.symbol


class Price(models.Model):
    # indexed by one_price_per_security_and_time (security, at)
    security = models.ForeignKey(
        Security, on_delete=models.PROTECT, related_name="prices", db_index=False
    )
    at = models.DateTimeField()
    price = price_field()

    class Meta:
        ordering = ["security", "-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["security", "at"], name="one_price_per_security_and_time"
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="price_positive"),
        ]
        # The unique index on (security, at) serves "latest at or before t" by a backward scan.

    def __str__(self) -> str:
        return f"{self.security.symbol} {self.price} @ {self.at:%Y-%m-%d %H:%M}"


class Position(models.Model):
    """Shares of one security held by one account: a leaf slice's holding, or a house residue.

    A user position belongs to exactly one leaf slice for its whole life (moving the slice to
    another sub-pie keeps it); the house account's positions have no slice.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="positions")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="positions")
    slice = models.OneToOneField(
        "pies.Slice", null=True, blank=True, on_delete=models.PROTECT, related_name="position"
    )
    # Cache of the sum of open lots' remaining quantities (verify_books checks it).
    quantity = quantity_field(default=ZERO)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="position_quantity_not_negative"
            ),
            models.UniqueConstraint(
                fields=["account", "security"],
                condition=Q(slice__isnull=True),
                name="one_sliceless_position_per_security",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.security_id} {self.quantity}"
