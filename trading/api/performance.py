"""REST API v1 (api.md): an account's performance over a range, and its dividend income."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from trading import serializers as s
from trading.api.base import ACCOUNT_ID, JSONOrCSV, PiesAPIView, account_for, query
from trading.calendar import market_date
from trading.performance import DEFAULT_RANGE, RANGES, account_performance, dividend_income


class PerformanceQuery(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(RANGES), required=False, default=DEFAULT_RANGE)


class PointOutput(serializers.Serializer):
    date = serializers.DateField(source="day")
    value = s.money_out()
    net_contributions = s.money_out()


class PerformanceOutput(serializers.Serializer):
    range = serializers.CharField()
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    value_start = s.money_out()
    value_end = s.money_out()
    net_contributions = s.money_out()
    gain = s.money_out()
    twr = s.percent_out(allow_null=True, help_text="Time-weighted return of the range, in percent.")
    mwr = s.percent_out(
        allow_null=True,
        help_text="Money-weighted return in percent: of the range, or a year's when "
        "mwr_annualised (ranges over a year).",
    )
    mwr_annualised = serializers.BooleanField()
    points = PointOutput(many=True)


class PerformanceView(PiesAPIView):
    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("range", str, enum=list(RANGES), required=False),
        ],
        responses={200: PerformanceOutput, **s.error_responses(*s.READ_ERRORS)},
        summary="Value, net contributions, gain and returns over a range",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        key = query(PerformanceQuery, request)["range"]
        found = account_performance(account.pk, key, today=market_date(timezone.now()))
        return Response(PerformanceOutput(found).data)


class DividendsQuery(serializers.Serializer):
    year = serializers.IntegerField(
        min_value=1900, max_value=9999, required=False, help_text="Default: every year."
    )


class DividendRowOutput(serializers.Serializer):
    month = serializers.CharField(source="month_key")
    symbol = serializers.CharField()
    amount = s.money_out()


class MonthTotal(serializers.Serializer):
    month = serializers.CharField()
    amount = s.money_out()


class SecurityTotal(serializers.Serializer):
    symbol = serializers.CharField()
    amount = s.money_out()


class YearTotal(serializers.Serializer):
    year = serializers.IntegerField()
    amount = s.money_out()


class DividendsOutput(serializers.Serializer):
    year = serializers.IntegerField(allow_null=True)
    total = s.money_out()
    by_month = MonthTotal(many=True)
    by_security = SecurityTotal(many=True)
    by_year = YearTotal(many=True)
    rows = DividendRowOutput(many=True)


DIVIDEND_CSV_HEADER = ["month", "symbol", "amount"]


class AccountDividendsView(JSONOrCSV, PiesAPIView):
    csv_header = DIVIDEND_CSV_HEADER

    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("year", int, required=False, description="Default: every year."),
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                required=False,
                description="csv: the rows (month, symbol, amount), with a header row.",
            ),
        ],
        responses={
            (200, "application/json"): DividendsOutput,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV rows."),
            **s.error_responses(*s.READ_ERRORS),
        },
        summary="Dividends received, by month, security and year",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        year = query(DividendsQuery, request).get("year")
        income = dividend_income(account.pk, year=year)
        if request.accepted_renderer.format == "csv":
            filename = f"dividends-{account.pk}-{year or 'all'}.csv"
            return Response(
                DividendRowOutput(income.rows, many=True).data,
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        data = {
            "year": income.year,
            "total": income.total,
            "by_month": [{"month": m, "amount": a} for m, a in income.by_month],
            "by_security": [{"symbol": sym, "amount": a} for sym, a in income.by_security],
            "by_year": [{"year": y, "amount": a} for y, a in income.by_year],
            "rows": income.rows,
        }
        return Response(DividendsOutput(data).data)
