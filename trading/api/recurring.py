"""REST API v1: recurring deposits (api.md; product.md, Recurring deposits).

``GET, POST /accounts/{id}/recurring-deposits/`` and ``GET, PATCH, DELETE .../{schedule_id}/``.
Someone else's account or schedule is a 404; the rules live in ``trading.services.recurring``.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from trading import serializers as s
from trading.api.base import ACCOUNT_ID, PiesAPIView, account_for, body
from trading.models import Account, Frequency, RecurringDeposit
from trading.services import IntentError, create_schedule, delete_schedule, update_schedule

SCHEDULE_ID = OpenApiParameter(
    "schedule_id", int, OpenApiParameter.PATH, description="Recurring deposit id."
)


class RecurringDepositOutput(serializers.Serializer):
    id = serializers.IntegerField()
    amount = s.money_out()
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    day = serializers.IntegerField(
        allow_null=True, help_text="Monthly schedules: the day of the month (1..28)."
    )
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    paused = serializers.BooleanField()
    next_date = serializers.DateField(
        source="upcoming",
        allow_null=True,
        help_text="The next occurrence (a New York date): its deposit is queued that day, for "
        "the next trading day's window when it is a weekend or holiday. None while paused or "
        "once the end date has passed.",
    )


class RecurringDepositInput(serializers.Serializer):
    amount = s.AmountField(help_text="1.00 to 1,000,000.00.")
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    day = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-(2**31),
        max_value=2**31 - 1,
        help_text="Monthly only: 1..28.",
    )
    start_date = serializers.DateField(
        help_text="Weekly and biweekly schedules fall on its weekday (biweekly counted from it)."
    )
    end_date = serializers.DateField(required=False, allow_null=True)
    paused = serializers.BooleanField(required=False)


class RecurringDepositPatch(RecurringDepositInput):
    """Every field optional: only the ones sent change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


def _schedule(account: Account, schedule_id: int) -> RecurringDeposit:
    return get_object_or_404(RecurringDeposit, account=account, pk=schedule_id)


def _invalid(error: IntentError) -> exceptions.ValidationError:
    return exceptions.ValidationError(error.errors)


class RecurringDepositsView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: RecurringDepositOutput(many=True), **s.error_responses(*s.READ_ERRORS)},
        summary="The account's recurring deposits (at most 5)",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        schedules = RecurringDeposit.objects.filter(account=account).order_by("created_at", "id")
        return Response(RecurringDepositOutput(schedules, many=True).data)

    @extend_schema(
        parameters=[ACCOUNT_ID],
        request=RecurringDepositInput,
        responses={201: RecurringDepositOutput, **s.error_responses(*s.WRITE_ERRORS)},
        summary="Schedule a recurring deposit",
    )
    def post(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = body(RecurringDepositInput, request)
        paused = data.pop("paused", False)
        try:
            schedule = create_schedule(account=account, **data)
            if paused:
                schedule = update_schedule(schedule=schedule, paused=True)
        except IntentError as error:
            raise _invalid(error) from None
        return Response(RecurringDepositOutput(schedule).data, status=status.HTTP_201_CREATED)


class RecurringDepositView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID, SCHEDULE_ID],
        responses={200: RecurringDepositOutput, **s.error_responses(*s.READ_ERRORS)},
        summary="One recurring deposit",
    )
    def get(self, request: Request, account_id: int, schedule_id: int) -> Response:
        schedule = _schedule(account_for(request, account_id), schedule_id)
        return Response(RecurringDepositOutput(schedule).data)

    @extend_schema(
        parameters=[ACCOUNT_ID, SCHEDULE_ID],
        request=RecurringDepositPatch,
        responses={200: RecurringDepositOutput, **s.error_responses(*s.WRITE_ERRORS)},
        summary="Change, pause or resume a recurring deposit (no backlog is created)",
    )
    def patch(self, request: Request, account_id: int, schedule_id: int) -> Response:
        schedule = _schedule(account_for(request, account_id), schedule_id)
        data = body(RecurringDepositPatch, request)
        try:
            schedule = update_schedule(schedule=schedule, **data)
        except IntentError as error:
            raise _invalid(error) from None
        return Response(RecurringDepositOutput(schedule).data)

    @extend_schema(
        parameters=[ACCOUNT_ID, SCHEDULE_ID],
        responses={204: None, **s.error_responses(*s.READ_ERRORS)},
        summary="Delete a recurring deposit (deposits it queued stay pending)",
    )
    def delete(self, request: Request, account_id: int, schedule_id: int) -> Response:
        schedule = _schedule(account_for(request, account_id), schedule_id)
        delete_schedule(schedule=schedule)
        return Response(status=status.HTTP_204_NO_CONTENT)
