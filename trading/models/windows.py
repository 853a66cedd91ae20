"""Trade windows and what they hand from phase to phase: the accounts a window serves, the
orders per account, the block orders per security, the broker's fills."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from trading.models.accounts import Account, Position, Security
from trading.models.intents import Intent
from trading.money import ZERO, money_field, price_field, quantity_field


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
    ABANDONED = "abandoned", "Abandoned"


# A window owns the accounts it froze until it is done (product.md, Trade windows): while it
# runs, and while it is failed (the tick or staff retry it, or staff abandon it). Done and
# abandoned windows release them; scheduled and missed windows never froze any.
HOLDS_ACCOUNTS = (WindowStatus.RUNNING, WindowStatus.FAILED)


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
    # When its trade confirmations were created (trading.services.confirmations): set once,
    # for done windows, in the transaction that creates them.
    confirmations_at = models.DateTimeField(null=True, blank=True)
    # Who abandoned it and why (status abandoned): its effects were reversed, never deleted.
    abandon_reason = models.TextField(blank=True)
    abandoned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="abandoned_windows",
    )

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        permissions = [
            ("run_window", "Can run a trade window now and retry a failed one"),
            ("abandon_window", "Can abandon a failed trade window that has no fill"),
        ]
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
    CANCELLED = "cancelled", "Cancelled (window abandoned)"


class Order(models.Model):
    """One account's order for one position in one window, with the reason it was planned."""

    # Indexed by ``order_window_account`` (window, account), which serves a window's orders and
    # a chunk's. Every key is checked per statement by the database (``trading.books`` says
    # how); verify_books checks that account and security are the position's.
    window = models.ForeignKey(
        TradeWindow,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    # Indexed by ``order_account_window`` (account, window), which serves lookups by account.
    # The position's account (verify_books checks they agree).
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    position = models.ForeignKey(
        Position, on_delete=models.PROTECT, related_name="orders", db_constraint=False
    )
    # The position's security (verify_books checks they agree).
    security = models.ForeignKey(
        Security, on_delete=models.PROTECT, related_name="orders", db_constraint=False
    )
    intent = models.ForeignKey(
        Intent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_constraint=False,
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

    # The leaf path of its slice ("Bonds/BND"), not a column: set on a page of orders by the
    # API (trading.api.history.leaf_paths).
    path: str

    class Meta:
        ordering = ["-window_id", "id"]
        indexes = [
            models.Index(fields=["account", "window"], name="order_account_window"),
            models.Index(fields=["window", "account"], name="order_window_account"),
        ]
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
    """All accounts' orders for one security in one window, crossed at the window price; the
    net goes to the broker (allocation.md, Execution).

    The row holds everything an account's result is computed from, so post chunks stay
    independent: the side, w, the sell shares S, the buy amounts, and the broker's shares and
    cash. A net buy (planned buy shares > S) sends N dollars and gets ``net_quantity`` = q
    shares for ``settlement_amount`` = c; a net sell sends ``net_quantity`` = S - buyer shares
    as a limit order at ``limit_price`` and receives ``-settlement_amount`` = P.
    """

    # indexed by one_block_per_window_security (window, security)
    window = models.ForeignKey(
        TradeWindow, on_delete=models.PROTECT, related_name="blocks", db_index=False
    )
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="blocks")
    # Planned buy shares: sum of floor6(amount / w) over the buys.
    buy_quantity = quantity_field(default=ZERO)
    buy_amount = money_field(default=ZERO, help_text="Sum of the planned buy amounts.")
    sell_quantity = quantity_field(default=ZERO)  # S: the planned sell quantities
    crossed_quantity = quantity_field(default=ZERO)
    net_side = models.CharField(max_length=4, choices=Side.choices, blank=True)
    net_quantity = quantity_field(default=ZERO)  # shares the broker bought or sold
    window_price = price_field()
    limit_price = price_field(null=True, blank=True, help_text="A net sell's limit price.")
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
    The row also owns the account for the window until it is done (``HOLDS_ACCOUNTS``), and
    keeps the settings the window uses, copied at the freeze: a settings change saved while the
    window runs waits for the next window. (Null only in rows of windows done before the
    settings were copied: nothing reads them again.)
    """

    # indexed by one_row_per_window_account (window, account); both keys checked per statement
    # by the database (``trading.books`` says how)
    window = models.ForeignKey(
        TradeWindow,
        on_delete=models.PROTECT,
        related_name="accounts",
        db_index=False,
        db_constraint=False,
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="windows", db_constraint=False
    )
    chunk = models.PositiveIntegerField()
    auto_invest = models.BooleanField(null=True)
    min_cash = money_field(null=True)
    lot_method = models.CharField(max_length=10, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["window", "account"], name="one_row_per_window_account")
        ]
        indexes = [models.Index(fields=["window", "chunk"], name="window_account_chunk")]

    def __str__(self) -> str:
        return f"window {self.window_id}: account {self.account_id} (chunk {self.chunk})"


class ChunkPhase(models.TextChoices):
    PLAN = "plan", "Plan"
    POST = "post", "Post"


class WindowChunk(models.Model):
    """One chunk of a window's plan or post phase: the progress row of the work a worker does.

    Rows are created with the freeze (both phases), one per chunk of ``WindowAccount``. A chunk
    is claimed by locking its row (``FOR UPDATE SKIP LOCKED``) in the transaction that does
    it, and that transaction marks it done (``done_at``) with the chunk's effects, so any number
    of workers can take chunks, a crashed one leaves its chunk to the next claimer, and none is
    applied twice. ``stats`` holds the chunk's counts for the window's report, ``seconds`` its
    time per part (the whole chunk took ``done_at - claimed_at``), ``worker`` who did it.
    """

    # indexed by one_row_per_window_chunk (window, phase, number)
    window = models.ForeignKey(
        TradeWindow, on_delete=models.PROTECT, related_name="chunks", db_index=False
    )
    phase = models.CharField(max_length=4, choices=ChunkPhase.choices)
    number = models.PositiveIntegerField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    seconds = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["window", "phase", "number"], name="one_row_per_window_chunk"
            )
        ]

    def __str__(self) -> str:
        return f"window {self.window_id}: {self.phase} chunk {self.number}"


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
