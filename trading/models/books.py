"""The books: tax lots and their disposals (realized gains), dividends, the cash ledger."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q

from trading.models.accounts import Account, Position, Security
from trading.models.intents import Intent
from trading.models.windows import Order, TradeWindow
from trading.money import money_field, quantity_field


class Lot(models.Model):
    # Keys checked per statement by the database (``trading.books`` says how).
    position = models.ForeignKey(
        Position, on_delete=models.PROTECT, related_name="lots", db_constraint=False
    )
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lots",
        db_constraint=False,
    )
    acquired_on = models.DateField()
    quantity = quantity_field()
    remaining_quantity = quantity_field()
    cost_basis = money_field()
    remaining_cost = money_field()

    class Meta:
        ordering = ["acquired_on", "id"]
        indexes = [
            models.Index(
                fields=["position"],
                condition=Q(remaining_quantity__gt=0),
                name="open_lots_by_position",
            ),
            # The daily snapshot reads the lots acquired since the day before.
            models.Index(fields=["acquired_on"], name="lot_acquired_on"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="lot_quantity_not_negative"),
            models.CheckConstraint(
                condition=Q(remaining_quantity__gte=0), name="lot_remaining_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(remaining_quantity__lte=F("quantity")),
                name="lot_remaining_within_quantity",
            ),
            models.CheckConstraint(condition=Q(cost_basis__gte=0), name="lot_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(remaining_cost__gte=0) & Q(remaining_cost__lte=F("cost_basis")),
                name="lot_remaining_cost_within_cost",
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining_quantity}/{self.quantity}"

    @property
    def is_open(self) -> bool:
        return self.remaining_quantity > 0


class Term(models.TextChoices):
    SHORT = "short", "Short-term"
    LONG = "long", "Long-term"


class DisposalQuerySet(models.QuerySet["Disposal"]):
    def of(self, account: Account, *, year: int | None = None) -> DisposalQuerySet:
        """``account``'s realized gains, of the sales in ``year`` or of every year."""
        rows = self.filter(account=account).select_related("security")
        return rows if year is None else rows.filter(sold_on__year=year)


class Disposal(models.Model):
    """A realized gain row: one lot (or part of it) consumed by one sell."""

    # A realized gain as a row, in this order: the CSV of the lots page, the API's rows and CSV.
    GAIN_COLUMNS = (
        "symbol",
        "acquired_on",
        "sold_on",
        "quantity",
        "proceeds",
        "cost_basis",
        "gain",
        "term",
    )

    # Keys checked per statement by the database (``trading.books`` says how).
    lot = models.ForeignKey(
        Lot, on_delete=models.PROTECT, related_name="disposals", db_constraint=False
    )
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disposals",
        db_constraint=False,
    )
    # The lot's position's account and security (verify_books checks they agree); keys checked
    # per statement by the database (``trading.books`` says how).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="disposals", db_constraint=False
    )
    security = models.ForeignKey(
        Security, on_delete=models.PROTECT, related_name="disposals", db_constraint=False
    )
    acquired_on = models.DateField()
    sold_on = models.DateField(db_index=True)
    quantity = quantity_field()
    proceeds = money_field()
    cost_basis = money_field()
    gain = money_field()
    term = models.CharField(max_length=5, choices=Term.choices)

    objects = DisposalQuerySet.as_manager()

    class Meta:
        ordering = ["sold_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="disposal_quantity_positive"),
            models.CheckConstraint(
                condition=Q(gain=F("proceeds") - F("cost_basis")),
                name="disposal_gain_is_difference",
            ),
        ]

    def __str__(self) -> str:
        return f"disposal {self.quantity} of lot {self.lot_id}: {self.gain}"

    @property
    def symbol(self) -> str:
        return self.security.symbol

    def gain_row(self) -> dict[str, Any]:
        """The ``GAIN_COLUMNS`` of this disposal, as stored (dates, Decimals, the term)."""
        return {column: getattr(self, column) for column in self.GAIN_COLUMNS}


class Dividend(models.Model):
    # indexed by one_dividend_per_ex_date (security, ex_date)
    security = models.ForeignKey(
        Security, on_delete=models.PROTECT, related_name="dividends", db_index=False
    )
    ex_date = models.DateField()
    pay_date = models.DateField()
    amount_per_share = models.DecimalField(max_digits=14, decimal_places=6)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pay_date", "security"]
        constraints = [
            models.UniqueConstraint(
                fields=["security", "ex_date"], name="one_dividend_per_ex_date"
            ),
            models.CheckConstraint(condition=Q(amount_per_share__gt=0), name="dividend_positive"),
            models.CheckConstraint(
                condition=Q(pay_date__gte=F("ex_date")), name="pay_after_ex_date"
            ),
        ]

    def __str__(self) -> str:
        # The symbol, not the id: this is what the admin's "was added" message shows.
        return f"{self.security.symbol} {self.amount_per_share} ex {self.ex_date}"


class LedgerKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    DIVIDEND = "dividend", "Dividend"
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    SETTLEMENT = "settlement", "Broker settlement"
    RESIDUE = "residue", "Rounding residue"
    CORRECTION = "correction", "Correction (reversing entry)"


class LedgerEntry(models.Model):
    """One side of a cash movement. Append-only: a database trigger refuses UPDATE and DELETE."""

    # Indexed by ``ledger_account_time`` (account, created_at), which serves lookups by account.
    # Account, intent and dividend: keys checked per statement by the database
    # (``trading.books`` says how).
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
        db_constraint=False,
    )
    amount = money_field(help_text="Signed: positive adds to the account's cash.")
    kind = models.CharField(max_length=12, choices=LedgerKind.choices)
    # Entries of one movement share a reference, e.g. "intent:12" or "window:3:order:40".
    reference = models.CharField(max_length=100)
    # Checked per statement by the database (``trading.books`` says how).
    window = models.ForeignKey(
        TradeWindow,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_constraint=False,
    )
    # Intent and dividend: indexed by ``ledger_intent`` and ``ledger_dividend``, where set
    # (most entries are trades', with neither: their NULLs would cost every insert two index
    # entries nothing reads).
    intent = models.ForeignKey(
        Intent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
        db_constraint=False,
    )
    dividend = models.ForeignKey(
        Dividend,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # The security a trade's or a dividend's entry moved cash for, not a column: set on a page
    # of entries by the activity page.
    symbol: str

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "created_at"], name="ledger_account_time"),
            models.Index(
                fields=["intent"], name="ledger_intent", condition=Q(intent__isnull=False)
            ),
            models.Index(
                fields=["dividend"], name="ledger_dividend", condition=Q(dividend__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference})"

    @property
    def order_id(self) -> int | None:
        """The order a trade's entry settles (its reference is "window:W:order:O")."""
        parts = self.reference.split(":")
        if len(parts) == 4 and parts[0] == "window" and parts[2] == "order" and parts[3].isdigit():
            return int(parts[3])
        return None
