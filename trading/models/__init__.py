"""Accounts, securities and prices, intents, trade windows and their orders, lots and the ledger.

Database constraints do real work here: they are the last line of defence for the invariants
of product.md ("The books"), whatever code path writes the rows.

Import from here (``from trading.models import Account``): the split into modules by
subdomain is an implementation detail, and the tables keep their names (``trading_account``,
``trading_order``, ...), which the window engine's SQL uses.
"""

from __future__ import annotations

from trading.models.accounts import (
    RETIREMENT_KINDS,
    SYSTEM_ACCOUNT_KINDS,
    USER_ACCOUNT_KINDS,
    Account,
    AccountKind,
    AccountQuerySet,
    LotMethod,
    Position,
    Price,
    Security,
    SecurityKind,
    WindowPreference,
)
from trading.models.books import (
    Disposal,
    Dividend,
    LedgerEntry,
    LedgerKind,
    Lot,
    Term,
)
from trading.models.intents import Intent, IntentKind, IntentQuerySet, IntentStatus
from trading.models.notifications import Confirmation
from trading.models.performance import Snapshot, SnapshotDay
from trading.models.recurring import (
    MAX_SCHEDULES,
    MIN_RECURRING,
    Frequency,
    RecurringDeposit,
    RecurringDepositQuerySet,
)
from trading.models.windows import (
    HOLDS_ACCOUNTS,
    BlockOrder,
    ChunkPhase,
    Fill,
    Order,
    OrderStatus,
    Session,
    Side,
    TradeWindow,
    WindowAccount,
    WindowChunk,
    WindowStatus,
)

__all__ = [
    "HOLDS_ACCOUNTS",
    "MAX_SCHEDULES",
    "MIN_RECURRING",
    "RETIREMENT_KINDS",
    "SYSTEM_ACCOUNT_KINDS",
    "USER_ACCOUNT_KINDS",
    "Account",
    "AccountKind",
    "AccountQuerySet",
    "BlockOrder",
    "ChunkPhase",
    "Confirmation",
    "Disposal",
    "Dividend",
    "Fill",
    "Frequency",
    "Intent",
    "IntentKind",
    "IntentQuerySet",
    "IntentStatus",
    "LedgerEntry",
    "LedgerKind",
    "Lot",
    "LotMethod",
    "Order",
    "OrderStatus",
    "Position",
    "Price",
    "RecurringDeposit",
    "RecurringDepositQuerySet",
    "Security",
    "SecurityKind",
    "Session",
    "Side",
    "Snapshot",
    "SnapshotDay",
    "Term",
    "TradeWindow",
    "WindowAccount",
    "WindowChunk",
    "WindowPreference",
    "WindowStatus",
]
