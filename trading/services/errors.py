"""The errors of the trading services, and turning a typed amount into one of them.

Its own module so that every service (requests, previews) and every caller (pages, API)
shares them without importing one service from another.
"""

from __future__ import annotations

from decimal import Decimal

from trading.models import Intent
from trading.money import parse_amount


class IntentError(ValueError):
    """Bad input for an intent: ``field`` names the offending input (a form or API field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    @property
    def errors(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


class RebalanceAlreadyPending(IntentError):
    """A second pending rebalance of one pie (the API answers 409)."""

    def __init__(self, message: str = "A rebalance of this pie is already pending.") -> None:
        super().__init__("pie", message)


class IdempotencyConflict(Exception):
    """The idempotency key was already used for this account with a different request."""

    def __init__(self, intent: Intent) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request; "
            "send a new key for a new request."
        )
        self.intent = intent


class IntentNotCancellable(Exception):
    """The intent is no longer pending, or its window has already taken it."""


def intent_amount(raw: object, *, maximum: Decimal | None = None) -> Decimal:
    """A typed amount (``trading.money.parse_amount``), or an ``IntentError`` on "amount"."""
    try:
        return parse_amount(raw, maximum=maximum)
    except ValueError as error:
        raise IntentError("amount", str(error)) from None
