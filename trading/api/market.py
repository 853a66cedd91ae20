"""REST API v1 (api.md): the auth token, securities, prices and dividends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth import authenticate
from django.db import IntegrityError
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response

from trading import serializers as s
from trading.api.base import (
    PiesAPIView,
    PiesListView,
    StaffPermissions,
    body,
    flat_errors,
)
from trading.models import Dividend, Security
from trading.prices import PriceRow, import_prices, non_trading_day_warnings
from trading.valuation import latest_prices

if TYPE_CHECKING:
    from rest_framework.permissions import _SupportsHasPermission

MAX_PRICE_ROWS = 10_000


# --- auth ------------------------------------------------------------------------------------


class TokenView(PiesAPIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=s.TokenInput,
        responses={200: s.TokenOutput, **s.error_responses(400, 403, 415, 429)},
        auth=[],
        summary="Exchange a username and password for an API token",
    )
    def post(self, request: Request) -> Response:
        data = body(s.TokenInput, request)
        # The underlying HttpRequest: django-axes counts failures per username and address.
        http_request = request._request
        user = authenticate(http_request, username=data["username"], password=data["password"])
        if getattr(http_request, "axes_locked_out", False):
            # Answer the lockout in the API's JSON; left flagged, axes' middleware would
            # replace this response with its HTML page.
            http_request.axes_locked_out = False  # type: ignore[attr-defined]  # axes' own flag
            raise exceptions.Throttled(detail="Too many failed attempts; try again later.")
        if user is None:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Unable to log in with the given credentials."]}
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# --- securities, prices, dividends ------------------------------------------------------------


class SecuritiesView(PiesListView):
    staff_permissions = {"POST": ("trading.add_security",)}

    def get_permissions(self) -> Sequence[_SupportsHasPermission]:
        if self.request.method == "POST":
            return [StaffPermissions()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[Security]:
        securities = Security.objects.all()
        search = self.request.query_params.get("search", "").strip()[:100]
        if search:
            securities = securities.filter(
                Q(symbol__istartswith=search) | Q(name__icontains=search)
            )
        return securities.order_by("symbol")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.page_of(self.get_queryset())
        prices = latest_prices(security.pk for security in page)
        rows = [
            {
                "symbol": security.symbol,
                "name": security.name,
                "kind": security.kind,
                "price": prices.get(security.pk, (None, None))[0],
                "price_at": prices.get(security.pk, (None, None))[1],
                "active": security.active,
            }
            for security in page
        ]
        return self.get_paginated_response(s.SecurityOutput(rows, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("search", str, description="Symbol prefix or name part.")],
        responses={200: s.SecurityOutput(many=True), **s.error_responses(401, 403, 404)},
        summary="Search securities",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.SecurityInput,
        responses={201: s.SecurityOutput, **s.error_responses(400, 401, 403, 415)},
        summary="Add a security (staff)",
    )
    def post(self, request: Request) -> Response:
        data = body(s.SecurityInput, request)
        if Security.objects.filter(symbol=data["symbol"]).exists():
            raise exceptions.ValidationError({"symbol": [f"{data['symbol']} already exists."]})
        try:
            security = Security.objects.create(**data)
        except IntegrityError:  # a concurrent create of the same symbol
            raise exceptions.ValidationError(
                {"symbol": [f"{data['symbol']} already exists."]}
            ) from None
        row = {**data, "price": None, "price_at": None, "active": security.active}
        return Response(s.SecurityOutput(row).data, status=status.HTTP_201_CREATED)


class PricesView(PiesAPIView):
    permission_classes = [StaffPermissions]
    # An upsert: it adds new prices and corrects existing ones.
    staff_permissions = {"POST": ("trading.add_price", "trading.change_price")}

    @extend_schema(
        request=s.PriceInput(many=True),
        responses={200: s.PriceUpsertOutput, **s.error_responses(400, 401, 403, 415)},
        summary="Upsert prices (staff)",
        description="Bulk upsert on (symbol, at); `at` defaults to now; a time in the future "
        "is a 400. All rows or none. `warnings` flags prices dated on a day the NYSE is closed "
        "(imported anyway).",
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, list) or not request.data:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Send a non-empty list of {symbol, price, at?}."]}
            )
        if len(request.data) > MAX_PRICE_ROWS:
            raise exceptions.ValidationError(
                {"non_field_errors": [f"Send at most {MAX_PRICE_ROWS} prices at a time."]}
            )
        serializer = s.PriceInput(data=request.data, many=True)
        if not serializer.is_valid():
            raise exceptions.ValidationError(flat_errors(serializer.errors))
        errors: dict[str, list[str]] = {}
        now = timezone.now()
        symbols = {row["symbol"].strip().upper() for row in serializer.validated_data}
        ids = dict(Security.objects.filter(symbol__in=symbols).values_list("symbol", "id"))
        rows: dict[tuple[int, Any], PriceRow] = {}
        for index, item in enumerate(serializer.validated_data):
            symbol = item["symbol"].strip().upper()
            if symbol not in ids:
                errors[f"{index}.symbol"] = [f"Unknown symbol {symbol!r}."]
                continue
            at = item.get("at", now)
            if at > now:
                errors[f"{index}.at"] = ["A price cannot be dated in the future."]
                continue
            # The same (symbol, at) twice in one request: the last one wins, as in an upsert.
            rows[(ids[symbol], at)] = PriceRow(index, symbol, ids[symbol], at, item["price"])
        if errors:
            raise exceptions.ValidationError(errors)
        count = import_prices(list(rows.values()))
        out = [{"symbol": r.symbol, "price": r.price, "at": r.at} for r in rows.values()]
        return Response(
            {
                "count": count,
                "prices": s.PriceOutput(out, many=True).data,
                "warnings": non_trading_day_warnings(rows.values()),
            }
        )


class DividendsView(PiesAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"POST": ("trading.add_dividend",)}

    @extend_schema(
        request=s.DividendInput,
        responses={201: s.DividendOutput, **s.error_responses(400, 401, 403, 415)},
        summary="Record a dividend (staff)",
    )
    def post(self, request: Request) -> Response:
        data = body(s.DividendInput, request)
        security = Security.objects.filter(symbol=data.pop("symbol").strip().upper()).first()
        if security is None:
            raise exceptions.ValidationError({"symbol": ["Unknown symbol."]})
        if Dividend.objects.filter(security=security, ex_date=data["ex_date"]).exists():
            raise exceptions.ValidationError(
                {"ex_date": [f"{security.symbol} already has a dividend with this ex-date."]}
            )
        try:
            dividend = Dividend.objects.create(security=security, **data)
        except IntegrityError:
            raise exceptions.ValidationError(
                {"ex_date": [f"{security.symbol} already has a dividend with this ex-date."]}
            ) from None
        return Response(s.DividendOutput(dividend).data, status=status.HTTP_201_CREATED)
