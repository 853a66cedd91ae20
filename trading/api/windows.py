"""REST API v1 (api.md): the next trade window; for staff, the windows and running one now."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from trading import serializers as s
from trading.api.base import PiesAPIView, PiesListView, StaffOnly
from trading.calendar import next_window
from trading.models import (
    BlockOrder,
    Intent,
    Order,
    TradeWindow,
)
from trading.window import open_adhoc_window, run_window

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
    permission_classes = [StaffOnly]
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
    permission_classes = [StaffOnly]

    @extend_schema(
        request=None,
        responses={200: s.WindowRunOutput, **s.error_responses(401, 403)},
        summary="Run an ad-hoc trade window now (staff); returns its report",
        description="A window that fails is answered too: `status` is `failed` and `error` "
        "says why; its intents stay pending for a retry (product.md).",
    )
    def post(self, request: Request) -> Response:
        window = open_adhoc_window(timezone.now())
        try:
            report = run_window(window.pk)
        except Exception:
            # The engine has recorded the failure on the window; the answer shows it.
            logger.exception("ad-hoc window %s failed", window.pk)
            report = None
        window = windows_with_counts().get(pk=window.pk)
        data = s.WindowRunOutput(window).data
        data["report"] = report if report is not None else window.report
        return Response(data)
