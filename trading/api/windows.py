"""REST API v1 (api.md): the next trade window; for staff, the windows and running one now."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from trading import serializers as s
from trading.api.base import Conflict, PiesAPIView, PiesListView, StaffPermissions, body
from trading.calendar import next_window
from trading.models import (
    BlockOrder,
    Intent,
    Order,
    TradeWindow,
    WindowStatus,
)
from trading.services import pay_due_dividends
from trading.tasks import confirm_window, send_adhoc_window
from trading.window import CannotAbandon, abandon_window, run_window

# --- trade windows ---------------------------------------------------------------------------


logger = logging.getLogger(__name__)


class NextWindowView(PiesAPIView):
    @extend_schema(
        responses={200: s.NextWindowOutput, **s.error_responses(401, 403)},
        summary="The next scheduled trade window",
    )
    def get(self, request: Request) -> Response:
        slot = next_window(timezone.now())
        return Response(s.NextWindowOutput(slot).data)


def _count(model: type[Model], **filters: Any) -> Subquery:
    rows = (
        model._default_manager.filter(window=OuterRef("pk"), **filters)
        .order_by()
        .values("window")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Subquery(rows, output_field=IntegerField())


def windows_with_counts() -> QuerySet[TradeWindow]:
    return TradeWindow.objects.annotate(
        intent_count=_count(Intent), order_count=_count(Order), block_count=_count(BlockOrder)
    )


class TradeWindowsView(PiesListView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"GET": ("trading.view_tradewindow",)}
    serializer_class = s.TradeWindowOutput

    def get_queryset(self) -> QuerySet[TradeWindow]:
        return windows_with_counts().order_by("-scheduled_at", "-id")

    @extend_schema(
        responses={200: s.TradeWindowOutput(many=True), **s.error_responses(401, 403, 404)},
        summary="Trade windows with status, phase timings and counts (staff)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RunWindowView(PiesAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"POST": ("trading.run_window",)}

    @extend_schema(
        request=None,
        responses={202: s.WindowRunOutput, **s.error_responses(401, 403)},
        summary="Open an ad-hoc trade window now and run it on a worker (staff)",
        description="Answers at once with the window (`id`, status `scheduled`); a Celery "
        "worker runs it. `GET /api/v1/trade-windows/{id}/` gives its status and report; a "
        "window that fails says why in `error`, and its intents stay pending for a retry "
        "(product.md).",
    )
    def post(self, request: Request) -> Response:
        pay_due_dividends()  # due today: paid first, so the window invests them (as /ops/)
        window = send_adhoc_window()
        data = s.WindowRunOutput(windows_with_counts().get(pk=window.pk)).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


def _window_or_404(window_id: int) -> TradeWindow:
    window = windows_with_counts().filter(pk=window_id).first()
    if window is None:
        raise NotFound("No such trade window.")
    return window


WINDOW_ID = OpenApiParameter("window_id", int, OpenApiParameter.PATH, description="Window id.")


class TradeWindowView(PiesAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"GET": ("trading.view_tradewindow",)}

    @extend_schema(
        parameters=[WINDOW_ID],
        responses={200: s.WindowRunOutput, **s.error_responses(401, 403, 404)},
        summary="One trade window with its status, counts and report (staff)",
    )
    def get(self, request: Request, window_id: int) -> Response:
        window = _window_or_404(window_id)
        return Response(s.WindowRunOutput(window).data)


class RetryWindowView(PiesAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"POST": ("trading.run_window",)}

    @extend_schema(
        parameters=[WINDOW_ID],
        request=None,
        responses={200: s.WindowRunOutput, **s.error_responses(401, 403, 404, 409)},
        summary="Retry a failed trade window (staff, permission run_window)",
        description="Runs it again in this request: the engine resumes from its checkpoints "
        "and applies nothing twice. The answer shows the outcome (`done`, or `failed` again "
        "with its `error`). 409 unless the window is failed.",
    )
    def post(self, request: Request, window_id: int) -> Response:
        window = _window_or_404(window_id)
        if window.status != WindowStatus.FAILED:
            raise Conflict(f"Window {window.pk} is {window.status}: only a failed one is retried.")
        try:
            report = run_window(window.pk)
        except Exception:
            logger.exception("retry of window %s failed", window.pk)
            report = None
        confirm_window(window.pk)
        window = _window_or_404(window_id)
        data = s.WindowRunOutput(window).data
        data["report"] = report if report is not None else window.report
        return Response(data)


class AbandonWindowView(PiesAPIView):
    permission_classes = [StaffPermissions]
    staff_permissions = {"POST": ("trading.abandon_window",)}

    @extend_schema(
        parameters=[WINDOW_ID],
        request=s.AbandonWindowInput,
        responses={200: s.TradeWindowOutput, **s.error_responses(*s.WRITE_ERRORS, 409)},
        summary="Abandon a failed trade window with no fill (staff, permission abandon_window)",
        description="Compensating ledger entries reverse its deposit credits, its orders are "
        "cancelled and its intents are pending again for the next window (product.md, Trade "
        "windows). 409 unless it is failed and has recorded no fill (then it can only be "
        "retried).",
    )
    def post(self, request: Request, window_id: int) -> Response:
        _window_or_404(window_id)
        data = body(s.AbandonWindowInput, request)
        try:
            abandon_window(window_id=window_id, reason=data["reason"], user=request.user)
        except CannotAbandon as exc:
            raise Conflict(str(exc)) from None
        return Response(s.TradeWindowOutput(_window_or_404(window_id)).data)
