"""Accounts, securities and prices, intents, trade windows and their orders, lots and the ledger.

Database constraints do real work here: they are the last line of defence for the invariants
of product.md ("The books"), whatever code path writes the rows.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from trading.money import ZERO, money_field, price_field, quantity_field


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
    def for_user(self, user: object) -> AccountQuerySet:
        return self.filter(owner=user)

    def investor(self) -> AccountQuerySet:
        return self.filter(kind__in=USER_ACCOUNT_KINDS)


class Account(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
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
    # A cache of the ledger sum, written in the same transaction as the entries;
    # verify_books checks it against the ledger.
    cash = money_field(default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccountQuerySet.as_manager()

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
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="prices")
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
        return f"{self.security_id} {self.price} @ {self.at:%Y-%m-%d %H:%M}"


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


class Intent(models.Model):
    """Something an investor asked for that waits for the next trade window."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="intents")
    kind = models.CharField(max_length=12, choices=IntentKind.choices)
    amount = money_field(null=True, blank=True)
    # A withdrawal of the whole value: sells everything, whatever the value is by then.
    withdraw_all = models.BooleanField(default=False)
    pie = models.ForeignKey(
        "pies.Pie", null=True, blank=True, on_delete=models.PROTECT, related_name="intents"
    )
    slice = models.ForeignKey(
        "pies.Slice", null=True, blank=True, on_delete=models.PROTECT, related_name="intents"
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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = IntentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="intent_status_created")]
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
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


class Session(models.TextChoices):
    MORNING = "morning", "Morning"
    AFTERNOON = "afternoon", "Afternoon"
    ADHOC = "adhoc", "Ad hoc"


class WindowStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    MISSED = "missed", "Missed"


class TradeWindow(models.Model):
    trade_date = models.DateField()
    session = models.CharField(max_length=10, choices=Session.choices)
    scheduled_at = models.DateTimeField(
        help_text="The window's start: it takes intents created before it."
    )
    status = models.CharField(
        max_length=10, choices=WindowStatus.choices, default=WindowStatus.SCHEDULED
    )
    phase = models.CharField(max_length=20, blank=True)
    # Resumable progress: per phase, which chunks are done (so a rerun applies nothing twice).
    progress = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trade_date", "session"],
                condition=~Q(session="adhoc"),
                name="one_window_per_date_and_session",
            ),
        ]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="window_status_time")]

    def __str__(self) -> str:
        return f"{self.trade_date} {self.session} ({self.status})"


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    FILLED = "filled", "Filled"
    WAITING = "waiting", "Waiting for a price"


class Order(models.Model):
    """One account's order for one position in one window, with the reason it was planned."""

    window = models.ForeignKey(TradeWindow, on_delete=models.PROTECT, related_name="orders")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="orders")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="orders")
    intent = models.ForeignKey(
        Intent, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    side = models.CharField(max_length=4, choices=Side.choices)
    status = models.CharField(
        max_length=10, choices=OrderStatus.choices, default=OrderStatus.PLANNED
    )
    amount = money_field(help_text="Planned cash amount (buys: paid; sells: to raise).")
    quantity = quantity_field(
        null=True, blank=True, help_text="Shares filled (or planned for sells)."
    )
    price = price_field(null=True, blank=True)
    filled_amount = money_field(null=True, blank=True, help_text="Cash paid or received.")
    reason = models.CharField(max_length=20)
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-window_id", "id"]
        indexes = [models.Index(fields=["account", "window"], name="order_account_window")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gte=0),
                name="order_quantity_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.security_id} {self.amount}"

    def explain(self) -> str:
        """A sentence for "why did VTI get $400?" from the order's recorded explanation."""
        data = self.explanation or {}
        rule = str(data.get("rule") or self.reason or "")
        label = RULE_TEXT.get(rule, rule.replace("_", " ").capitalize() or "Order")
        verb = "got" if self.side == "buy" else "gave"
        amount = f"${self.amount:,.2f}"
        if rule == "rebalance":
            text = f"{label}: {self.security} {verb} {amount} to bring it back to its target."
        elif self.side == "buy":
            text = f"{label}: {self.security} {verb} {amount} as one of the most underweight slices"
        else:
            text = f"{label}: {self.security} {verb} {amount} as one of the most overweight slices"
        if rule != "rebalance":
            ratio = _ratio(data.get("rho_before"), data.get("level"))
            # rho / level is the child's value before the trade over its value after it: how
            # far below its share it was (allocation.md: the lowest are raised first).
            text += (
                f" (before, it stood at {ratio} of its target share after the trade)."
                if ratio
                else "."
            )
        dropped = data.get("dropped") or []
        if dropped:
            text += " Below the $1.00 minimum, so skipped: " + ", ".join(map(str, dropped)) + "."
        return text


# How an order's rule reads in its explanation (Order.explain).
RULE_TEXT = {
    "deposit": "Deposit",
    "dividend": "Dividend reinvested",
    "auto_invest": "Auto-invest",
    "auto-invest": "Auto-invest",
    "withdrawal": "Withdrawal",
    "removal": "Slice removal",
    "rebalance": "Rebalance",
}


def _ratio(rho: object, level: object) -> str:
    try:
        before, after = Decimal(str(rho)), Decimal(str(level))
    except ArithmeticError:
        return ""
    if not before.is_finite() or not after.is_finite() or after <= 0:
        return ""
    return f"{(before / after * 100).quantize(Decimal(1))}%"


class BlockOrder(models.Model):
    """All accounts' orders for one security in one window, netted; the net goes to the broker."""

    window = models.ForeignKey(TradeWindow, on_delete=models.PROTECT, related_name="blocks")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="blocks")
    buy_quantity = quantity_field(default=ZERO)
    sell_quantity = quantity_field(default=ZERO)
    crossed_quantity = quantity_field(default=ZERO)
    net_side = models.CharField(max_length=4, choices=Side.choices, blank=True)
    net_quantity = quantity_field(default=ZERO)
    window_price = price_field()
    fill_price = price_field(null=True, blank=True)
    # Shares of this block that no account got (fractions lost to rounding): the house's.
    house_quantity = quantity_field(default=ZERO)
    # Cash paid to the broker for the net (negative: received from it), and the cash residue
    # the house took: sum(buys paid) - sum(sells received) = settlement_amount + house_cash.
    settlement_amount = money_field(default=ZERO)
    house_cash = money_field(default=ZERO)

    class Meta:
        ordering = ["window", "security"]
        constraints = [
            models.UniqueConstraint(
                fields=["window", "security"], name="one_block_per_window_security"
            ),
            models.CheckConstraint(condition=Q(net_quantity__gte=0), name="block_net_not_negative"),
        ]

    def __str__(self) -> str:
        return f"block {self.window_id}:{self.security_id}"


class WindowAccount(models.Model):
    """An account a window serves, fixed when the window freezes, with the chunk it is in.

    Freezing the set makes a resumed run see exactly the accounts of the first run (cash may
    have changed in between), and the chunk number is what plan and post progress is counted in.
    """

    window = models.ForeignKey(TradeWindow, on_delete=models.PROTECT, related_name="accounts")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="windows")
    chunk = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["window", "account"], name="one_row_per_window_account")
        ]
        indexes = [models.Index(fields=["window", "chunk"], name="window_account_chunk")]

    def __str__(self) -> str:
        return f"window {self.window_id}: account {self.account_id} (chunk {self.chunk})"


class Fill(models.Model):
    block = models.ForeignKey(BlockOrder, on_delete=models.PROTECT, related_name="fills")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = quantity_field()
    price = price_field()
    broker_reference = models.CharField(max_length=100, blank=True)
    executed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
        ]

    def __str__(self) -> str:
        return f"fill {self.side} {self.quantity} @ {self.price}"


class Lot(models.Model):
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="lots")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="lots"
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
            )
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


class Disposal(models.Model):
    """A realized gain row: one lot (or part of it) consumed by one sell."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="disposals")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="disposals"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="disposals")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="disposals")
    acquired_on = models.DateField()
    sold_on = models.DateField(db_index=True)
    quantity = quantity_field()
    proceeds = money_field()
    cost_basis = money_field()
    gain = money_field()
    term = models.CharField(max_length=5, choices=Term.choices)

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


class Dividend(models.Model):
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="dividends")
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
        return f"{self.security_id} {self.amount_per_share} ex {self.ex_date}"


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

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = money_field(help_text="Signed: positive adds to the account's cash.")
    kind = models.CharField(max_length=12, choices=LedgerKind.choices)
    # Entries of one movement share a reference, e.g. "intent:12" or "window:3:order:40".
    reference = models.CharField(max_length=100)
    window = models.ForeignKey(
        TradeWindow, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    intent = models.ForeignKey(
        Intent, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    dividend = models.ForeignKey(
        Dividend, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "created_at"], name="ledger_account_time")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference})"
