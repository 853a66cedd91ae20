"""REST API v1 (api.md): deposits, withdrawals, rebalances, their previews, and intents.

Services raise domain errors; ``_service_errors`` maps them onto the api.md statuses in one
place. Intent-creating POSTs take an ``Idempotency-Key`` header.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from pies.models import Pie
from trading import serializers as s
from trading.api.base import (
    ACCOUNT_ID,
    IDEMPOTENCY_HEADER,
    Conflict,
    PiesAPIView,
    PiesListView,
    account_for,
    body,
    query,
)
from trading.models import Account, Intent
from trading.ownership import AccountInWindow
from trading.services import (
    IdempotencyConflict,
    IntentError,
    IntentNotCancellable,
    RebalanceAlreadyPending,
    cancel_intent,
    preview_rebalance,
    preview_withdrawal,
    request_deposit,
    request_rebalance,
    request_withdrawal,
)


@contextmanager
def _service_errors() -> Iterator[None]:
    """Domain errors of the services, as api.md statuses."""
    try:
        yield
    except RebalanceAlreadyPending as exc:
        raise Conflict(exc.message) from None
    except IntentError as exc:
        raise exceptions.ValidationError(exc.errors) from None
    except (IdempotencyConflict, IntentNotCancellable) as exc:
        raise Conflict(str(exc)) from None
    except AccountInWindow as exc:
        raise Conflict(exc.message) from None


def fingerprint(request: Request) -> str:
    """sha256 of the canonical JSON body: same key with another body is a conflict."""
    data = request.data if isinstance(request.data, (dict, list)) else {}
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"number:{value}"
    raise TypeError(type(value).__name__)


def _idempotency_key(request: Request) -> str | None:
    return request.headers.get("Idempotency-Key") or None


def _intent_response(result: Any) -> Response:
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(s.IntentOutput(result.intent).data, status=code)


# --- intents and previews --------------------------------------------------------------------


class DepositsView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID, IDEMPOTENCY_HEADER],
        request=s.DepositInput,
        responses={
            201: s.IntentOutput,
            200: OpenApiResponse(s.IntentOutput, description="Replay of an Idempotency-Key."),
            **s.error_responses(*s.WRITE_ERRORS, 409),
        },
        summary="Deposit cash (at the next window)",
    )
    def post(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = body(s.DepositInput, request)
        with _service_errors():
            result = request_deposit(
                account=account,
                amount=data["amount"],
                idempotency_key=_idempotency_key(request),
                fingerprint=fingerprint(request),
            )
        return _intent_response(result)


class WithdrawalsView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID, IDEMPOTENCY_HEADER],
        request=s.WithdrawalInput,
        responses={
            201: s.IntentOutput,
            200: OpenApiResponse(s.IntentOutput, description="Replay of an Idempotency-Key."),
            **s.error_responses(*s.WRITE_ERRORS, 409),
        },
        summary="Withdraw cash (sells at the next window when needed)",
    )
    def post(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = body(s.WithdrawalInput, request)
        with _service_errors():
            result = request_withdrawal(
                account=account,
                amount=data.get("amount"),
                withdraw_all=data["withdraw_all"],
                idempotency_key=_idempotency_key(request),
                fingerprint=fingerprint(request),
            )
        return _intent_response(result)


class WithdrawalPreviewView(PiesAPIView):
    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("amount", str, required=False, description='e.g. "250.00"'),
            OpenApiParameter("all", bool, required=False, description="Withdraw everything."),
        ],
        responses={200: s.PreviewOutput, **s.error_responses(*s.READ_ERRORS)},
        summary="Orders and tax impact of a withdrawal",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = query(s.WithdrawalPreviewQuery, request)
        with _service_errors():
            preview = preview_withdrawal(
                account=account, amount=data.get("amount"), withdraw_all=data["all"]
            )
        return Response(preview.as_dict())


class RebalancePreviewView(PiesAPIView):
    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("pie", int, required=False, description="Default: the portfolio."),
        ],
        responses={200: s.PreviewOutput, **s.error_responses(*s.READ_ERRORS)},
        summary="Orders and tax impact of a rebalance",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = query(s.PiePreviewQuery, request)
        with _service_errors():
            preview = preview_rebalance(account=account, pie=_own_pie(account, data.get("pie")))
        return Response(preview.as_dict())


def _own_pie(account: Account, pie_id: int | None) -> Pie | None:
    if pie_id is None:
        return None
    found = Pie.objects.filter(account=account, pk=pie_id).first()
    if found is None:
        # Someone else's pie reads exactly like one that does not exist (the service's words).
        raise exceptions.ValidationError({"pie": ["Choose one of this account's pies."]})
    return found


class RebalanceView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID, IDEMPOTENCY_HEADER],
        request=s.RebalanceInput,
        responses={
            201: s.IntentOutput,
            200: OpenApiResponse(s.IntentOutput, description="Replay of an Idempotency-Key."),
            **s.error_responses(*s.WRITE_ERRORS, 409),
        },
        summary="Rebalance a pie (at the next window)",
    )
    def post(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        # No body at all means the portfolio pie; any body must be a valid object.
        no_body = isinstance(request.data, dict) and not request.data
        data = {} if no_body else body(s.RebalanceInput, request)
        with _service_errors():
            result = request_rebalance(
                account=account,
                pie=_own_pie(account, data.get("pie")),
                idempotency_key=_idempotency_key(request),
                fingerprint=fingerprint(request),
            )
        return _intent_response(result)


class IntentsView(PiesListView):
    serializer_class = s.IntentOutput

    def get_queryset(self) -> QuerySet[Intent]:
        account = account_for(self.request, self.kwargs["account_id"])
        return Intent.objects.filter(account=account).order_by("-created_at", "-id")

    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: s.IntentOutput(many=True), **s.error_responses(401, 403, 404)},
        summary="Pending and past intents",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class IntentDetailView(PiesAPIView):
    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("intent_id", int, OpenApiParameter.PATH, description="Intent id."),
        ],
        responses={204: None, **s.error_responses(401, 403, 404, 409)},
        summary="Cancel a pending intent (409 once its window has started)",
    )
    def delete(self, request: Request, account_id: int, intent_id: int) -> Response:
        account = account_for(request, account_id)
        intent = get_object_or_404(Intent, account=account, pk=intent_id)
        with _service_errors():
            cancel_intent(intent=intent)
        return Response(status=status.HTTP_204_NO_CONTENT)
