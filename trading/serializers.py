"""API serializers for the trading app: one input and one output serializer per endpoint.

Output formats are the api.md conventions: money, quantities, prices and percentages are
JSON strings with a fixed number of decimals. Inputs of money, targets and prices are read by
``trading.money`` (one strict reading, exact decimals, never floats). Validation here is about
the shape of a request; the rules of the product live in the services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from trading.models import SecurityKind
from trading.money import (
    MONEY_DIGITS,
    PRICE_DIGITS,
    QUANTITY_DIGITS,
    NumberError,
    parse_amount,
    parse_per_share,
    parse_price,
    parse_target_bp,
    parse_whole,
)
from trading.prices import parse_at

MAX_ID = 2**63 - 1  # bigint: a larger id in a body must be a 400, not a database error


# Output fields (these serializers only render): a field is required in the response schema
# unless it says required=False, so optional keys are documented as optional.


def money_out(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MONEY_DIGITS[0], decimal_places=MONEY_DIGITS[1], **kwargs
    )


def quantity_out(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=QUANTITY_DIGITS[0], decimal_places=QUANTITY_DIGITS[1], **kwargs
    )


def price_out(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=PRICE_DIGITS[0], decimal_places=PRICE_DIGITS[1], **kwargs
    )


def percent_out(**kwargs: Any) -> serializers.DecimalField:
    # Drift can reach -100 and an actual share of a pie 100; 10 digits leave room for more.
    return serializers.DecimalField(max_digits=10, decimal_places=2, **kwargs)


def object_id(**kwargs: Any) -> serializers.IntegerField:
    return WholeNumberField(min_value=1, max_value=MAX_ID, **kwargs)


_AMOUNT_PATTERN = r"^[0-9]{1,16}(\.[0-9]{1,2})?$"
_PERCENT_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,2})?$"
_PRICE_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
_PER_SHARE_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,6})?$"


def _number_schema(pattern: str, example: str, description: str) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string", "pattern": pattern, "example": example},
            {"type": "number", "minimum": 0, "example": float(example)},
        ],
        "description": description,
    }


class StrictNumberField(serializers.Field):
    """A decimal input read by ``trading.money`` (api.md, Conventions), from a string or a
    JSON number (already a Decimal: ``DecimalJSONParser``). Subclasses say which reading."""

    decimals = 2

    def parse(self, data: Any) -> Decimal:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return self.parse(data)
        except NumberError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Decimal) -> str:
        return f"{value:.{self.decimals}f}"


@extend_schema_field(
    _number_schema(
        _AMOUNT_PATTERN,
        "100.00",
        "A decimal amount: ASCII digits, at most 16 before the point and two after, as a "
        "string or a number.",
    )
)
class AmountField(StrictNumberField):
    """A money amount (``trading.money.parse_amount``): above zero, or zero or more."""

    def __init__(
        self, *, maximum: Decimal | None = None, allow_zero: bool = False, **kwargs: Any
    ) -> None:
        self.maximum = maximum
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def parse(self, data: Any) -> Decimal:
        return parse_amount(data, maximum=self.maximum, allow_zero=self.allow_zero)


@extend_schema_field(
    _number_schema(_PERCENT_PATTERN, "33.33", "A percentage, 0 to 100 with two decimals.")
)
class PercentField(StrictNumberField):
    """A target percentage (``trading.money.parse_target_bp``), kept as its Decimal."""

    def parse(self, data: Any) -> Decimal:
        return Decimal(parse_target_bp(data)) / 100


@extend_schema_field(
    _number_schema(_PRICE_PATTERN, "412.1200", "A price above zero with up to 4 decimals.")
)
class PriceValueField(StrictNumberField):
    """A price (``trading.money.parse_price``)."""

    decimals = 4

    def parse(self, data: Any) -> Decimal:
        return parse_price(data)


@extend_schema_field(
    _number_schema(_PER_SHARE_PATTERN, "0.250000", "Cash per share above zero, 6 decimals.")
)
class PerShareField(StrictNumberField):
    """A dividend per share: six decimals, eight digits before the point, above zero."""

    decimals = 6

    def parse(self, data: Any) -> Decimal:
        return parse_per_share(data)


@extend_schema_field({"type": "integer", "minimum": 0})
class WholeNumberField(serializers.IntegerField):
    """An integer input from a JSON integer or plain ASCII digits: DRF's own ``int()`` also
    reads "١٢", " 12 " and "1_2"."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            value = data
        else:
            try:
                value = parse_whole(data if isinstance(data, str) else None)
            except NumberError as exc:
                raise serializers.ValidationError(str(exc)) from None
        self.run_validators(value)
        return value


# --- error bodies (for the schema: every 4xx the API gives is documented) ---------------------

_FIELD_ERRORS = {
    "type": "object",
    "description": 'Field errors {"field": ["message"]}, or {"detail": "message"}.',
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}
_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_CONFLICT = {
    "type": "object",
    "description": "A conflict; a stale pie version also gives the current ``version``.",
    "properties": {"detail": {"type": "string"}, "version": {"type": "integer"}},
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    400: "Invalid input: field errors.",
    401: "No credentials (WWW-Authenticate: Token).",
    403: "Not allowed: staff only, or a session request without a CSRF token.",
    404: "Not found (someone else's objects are not found either).",
    409: "Conflict.",
    415: "The body is not JSON.",
    429: "Too many failed attempts (login lockout).",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an endpoint can answer. Every endpoint can answer
    400: a NUL character in any query parameter is refused before the view runs."""
    schemas = {400: _FIELD_ERRORS, 409: _CONFLICT}
    return {
        code: OpenApiResponse(response=schemas.get(code, _DETAIL), description=_DESCRIPTIONS[code])
        for code in sorted({400, *codes})
    }


# Reading needs authentication; every path with an id can be a 404; a query parameter a 400.
READ_ERRORS = (400, 401, 403, 404)
# Writing adds CSRF failures (403) for sessions and non-JSON bodies (415).
WRITE_ERRORS = (400, 401, 403, 404, 415)


# --- auth ----------------------------------------------------------------------------------


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


# --- securities, prices, dividends -----------------------------------------------------------


class SecurityOutput(serializers.Serializer):
    symbol = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=SecurityKind.choices)
    price = price_out(allow_null=True)
    price_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()


class SecurityInput(serializers.Serializer):
    symbol = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9.\-]{0,11}$",
        max_length=12,
        error_messages={"invalid": "Use 1 to 12 letters, digits, dots or dashes, from a letter."},
    )
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=SecurityKind.choices)

    def validate_symbol(self, value: str) -> str:
        return value.upper()


@extend_schema_field(
    {
        "type": "string",
        "example": "2026-03-02T16:00:00-05:00",
        "description": "ISO datetime (without an offset: New York time) or a bare date "
        "(that day's close, 16:00 New York time).",
    }
)
class PriceTimeField(serializers.Field):
    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str) or len(data) > 40:
            raise serializers.ValidationError("Enter a date or an ISO datetime.")
        try:
            value = parse_at(data)
            value.astimezone(UTC)  # years near 1 or 9999 overflow here, not in the database
        except (ValueError, OverflowError):
            raise serializers.ValidationError("Enter a date or an ISO datetime.") from None
        return value

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class PriceInput(serializers.Serializer):
    symbol = serializers.CharField(max_length=12)
    price = PriceValueField()
    at = PriceTimeField(required=False, help_text="Default: now.")


class PriceOutput(serializers.Serializer):
    symbol = serializers.CharField()
    price = price_out()
    at = serializers.DateTimeField()


class PriceUpsertOutput(serializers.Serializer):
    count = serializers.IntegerField()
    prices = PriceOutput(many=True)
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Prices dated on a day the NYSE is closed (imported anyway).",
    )


class DividendInput(serializers.Serializer):
    symbol = serializers.CharField(max_length=12)
    ex_date = serializers.DateField()
    pay_date = serializers.DateField()
    amount_per_share = PerShareField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["pay_date"] < attrs["ex_date"]:
            raise serializers.ValidationError({"pay_date": ["The pay date is on or after ex."]})
        return attrs


class DividendOutput(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField(source="security.symbol")
    ex_date = serializers.DateField()
    pay_date = serializers.DateField()
    amount_per_share = serializers.DecimalField(max_digits=14, decimal_places=6)
    paid_at = serializers.DateTimeField(allow_null=True)


# --- intents ---------------------------------------------------------------------------------


class IntentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = money_out(allow_null=True)
    amount_paid = money_out(
        allow_null=True,
        help_text="What a done withdrawal paid out: its amount, unless it had to sell every "
        "share (then what they raised; the reason says so).",
    )
    withdraw_all = serializers.BooleanField()
    pie = serializers.IntegerField(source="pie_id", allow_null=True)
    schedule = serializers.IntegerField(
        source="schedule_id",
        allow_null=True,
        help_text="The recurring deposit that queued it (none once that schedule is deleted).",
    )
    occurrence_date = serializers.DateField(
        allow_null=True, help_text="A recurring deposit's date (New York)."
    )
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    window = serializers.IntegerField(
        source="window_id", allow_null=True, help_text="The trade window that took it, if any."
    )
    failure_reason = serializers.CharField()


class DepositInput(serializers.Serializer):
    # The services check the range; the field only makes sure it is an exact decimal.
    amount = AmountField()


class WithdrawalInput(serializers.Serializer):
    amount = AmountField(required=False, allow_null=True)
    withdraw_all = serializers.BooleanField(
        required=False, default=False, help_text="Withdraw the whole value (leave amount out)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("withdraw_all") and attrs.get("amount") is None:
            raise serializers.ValidationError({"amount": ["Enter an amount."]})
        return attrs


class RebalanceInput(serializers.Serializer):
    pie = object_id(required=False, allow_null=True, help_text="Default: the portfolio pie.")


class PiePreviewQuery(serializers.Serializer):
    pie = object_id(required=False, help_text="Default: the portfolio pie.")


class WithdrawalPreviewQuery(serializers.Serializer):
    amount = AmountField(required=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("all") and attrs.get("amount") is None:
            raise serializers.ValidationError({"amount": ["Enter an amount."]})
        return attrs


class PlannedOrderOutput(serializers.Serializer):
    path = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    amount = money_out()
    quantity = quantity_out(required=False, help_text="Sells only.")


class LotUseOutput(serializers.Serializer):
    path = serializers.CharField()
    symbol = serializers.CharField()
    acquired_on = serializers.DateField()
    quantity = quantity_out()
    cost_basis = money_out()
    proceeds = money_out()
    gain = money_out()
    term = serializers.ChoiceField(choices=["short", "long"])


class TaxImpactOutput(serializers.Serializer):
    taxable = serializers.BooleanField()
    note = serializers.CharField(required=False, help_text="Retirement accounts only.")
    short_term_gain = money_out(allow_null=True)
    long_term_gain = money_out(allow_null=True)
    lots = LotUseOutput(many=True)


class PreviewOutput(serializers.Serializer):
    orders = PlannedOrderOutput(many=True)
    tax = TaxImpactOutput()
    sold_on = serializers.DateField(help_text="The trade date of the window that would run it.")
    missing_prices = serializers.ListField(child=serializers.CharField())


# --- lots, gains, orders -------------------------------------------------------------------


class LotQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "closed"], required=False)


class LotOutput(serializers.Serializer):
    id = serializers.IntegerField()
    path = serializers.CharField()
    symbol = serializers.CharField()
    acquired_on = serializers.DateField()
    quantity = quantity_out()
    remaining_quantity = quantity_out()
    cost_basis = money_out()
    remaining_cost = money_out()


class GainsQuery(serializers.Serializer):
    year = WholeNumberField(
        min_value=1900, max_value=9999, required=False, help_text="Default: every year."
    )


class RealizedGainOutput(serializers.Serializer):
    symbol = serializers.CharField()
    acquired_on = serializers.DateField()
    sold_on = serializers.DateField()
    quantity = quantity_out()
    proceeds = money_out()
    cost_basis = money_out()
    gain = money_out()
    term = serializers.ChoiceField(choices=["short", "long"])


@extend_schema_serializer(many=False)  # already a page: not a list to paginate again
class RealizedGainsPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RealizedGainOutput(many=True)
    short_term_gain = money_out()
    long_term_gain = money_out()


class OrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    window = serializers.IntegerField(source="window_id")
    trade_date = serializers.DateField(source="window.trade_date")
    session = serializers.CharField(source="window.session")
    path = serializers.CharField()
    symbol = serializers.CharField(source="security.symbol")
    side = serializers.CharField()
    status = serializers.CharField()
    amount = money_out()
    quantity = quantity_out(allow_null=True)
    price = price_out(allow_null=True)
    filled_amount = money_out(allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


# --- trade windows ---------------------------------------------------------------------------


class NextWindowOutput(serializers.Serializer):
    trade_date = serializers.DateField()
    session = serializers.CharField()
    starts_at = serializers.DateTimeField()


class WindowCounts(serializers.Serializer):
    intents = serializers.IntegerField()
    orders = serializers.IntegerField()
    blocks = serializers.IntegerField()


class TradeWindowOutput(serializers.Serializer):
    id = serializers.IntegerField()
    trade_date = serializers.DateField()
    session = serializers.CharField()
    scheduled_at = serializers.DateTimeField()
    status = serializers.CharField()
    phase = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    error = serializers.CharField()
    timings = serializers.JSONField()
    counts = serializers.SerializerMethodField()
    abandon_reason = serializers.CharField(help_text="Why staff abandoned it (status abandoned).")
    abandoned_by = serializers.CharField(
        source="abandoned_by.username", allow_null=True, default=None
    )

    @extend_schema_field(WindowCounts)
    def get_counts(self, window: Any) -> dict[str, int]:
        return {
            "intents": window.intent_count or 0,
            "orders": window.order_count or 0,
            "blocks": window.block_count or 0,
        }


class WindowRunOutput(TradeWindowOutput):
    report = serializers.JSONField()


class AbandonWindowInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, help_text="Why the window is abandoned (kept on the window)."
    )
