"""Multi-model workflows of the trading app, one transaction each, split by subdomain.

Import from here (``from trading.services import request_deposit``): the split into modules
is an implementation detail.
"""

from __future__ import annotations

from trading.services.dividends import pay_dividend, pay_due_dividends
from trading.services.intents import (
    IdempotencyConflict,
    IntentError,
    IntentNotCancellable,
    IntentResult,
    RebalanceAlreadyPending,
    account_value,
    available_to_withdraw,
    cancel_intent,
    request_deposit,
    request_rebalance,
    request_withdrawal,
)
from trading.services.preview import (
    Preview,
    preview_rebalance,
    preview_removal,
    preview_withdrawal,
)
from trading.services.windows import open_due_windows

__all__ = [
    "IdempotencyConflict",
    "IntentError",
    "IntentNotCancellable",
    "IntentResult",
    "Preview",
    "RebalanceAlreadyPending",
    "account_value",
    "available_to_withdraw",
    "cancel_intent",
    "open_due_windows",
    "pay_dividend",
    "pay_due_dividends",
    "preview_rebalance",
    "preview_removal",
    "preview_withdrawal",
    "request_deposit",
    "request_rebalance",
    "request_withdrawal",
]
