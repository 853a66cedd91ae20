"""Multi-model workflows of the trading app, one transaction each, split by subdomain.

Import from here (``from trading.services import request_deposit``): the split into modules
is an implementation detail. ``available_to_withdraw`` is a read (``trading.valuation``),
exported here too because the withdrawal pages and API show it next to the request.
"""

from __future__ import annotations

from trading.services.dividends import pay_dividend, pay_due_dividends
from trading.services.errors import (
    IdempotencyConflict,
    IntentError,
    IntentNotCancellable,
    RebalanceAlreadyPending,
)
from trading.services.intents import (
    IntentResult,
    cancel_intent,
    request_deposit,
    request_rebalance,
    request_withdrawal,
)
from trading.services.preview import (
    Preview,
    preview_deposit,
    preview_rebalance,
    preview_removal,
    preview_withdrawal,
)
from trading.services.recurring import (
    create_due_deposits,
    create_schedule,
    delete_schedule,
    pause_schedule,
    resume_schedule,
    update_schedule,
)
from trading.services.windows import open_due_windows, windows_to_run
from trading.valuation import available_to_withdraw

__all__ = [
    "IdempotencyConflict",
    "IntentError",
    "IntentNotCancellable",
    "IntentResult",
    "Preview",
    "RebalanceAlreadyPending",
    "available_to_withdraw",
    "cancel_intent",
    "create_due_deposits",
    "create_schedule",
    "delete_schedule",
    "open_due_windows",
    "pause_schedule",
    "pay_dividend",
    "pay_due_dividends",
    "preview_deposit",
    "preview_rebalance",
    "preview_removal",
    "preview_withdrawal",
    "request_deposit",
    "request_rebalance",
    "request_withdrawal",
    "resume_schedule",
    "update_schedule",
    "windows_to_run",
]
