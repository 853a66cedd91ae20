"""REST API v1 (api.md): tax lots, realized gains (JSON pages or CSV) and orders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from pies.models import Pie, Slice
from trading import serializers as s
from trading.api.base import (
    ACCOUNT_ID,
    JSONOrCSV,
    PiesListView,
    account_for,
    query,
)
from trading.models import (
    Account,
    Disposal,
    Lot,
    Order,
    Term,
)
from trading.money import ZERO


def leaf_paths(account: Account) -> dict[int | None, str]:
    """Slice id -> leaf path ("Bonds/BND") for every security slice the account ever had
    (removed ones too: old orders and lots still name them). Two queries."""
    pies = {
        pk: (name, parent_pie)
        for pk, name, parent_pie in Pie.objects.filter(account=account).values_list(
            "id", "name", "parent_slice__pie_id"
        )
    }

    def pie_path(pie_id: int) -> str:
        names: list[str] = []
        while pie_id in pies and pies[pie_id][1] is not None:
            names.append(pies[pie_id][0])
            pie_id = pies[pie_id][1]
        return "/".join(reversed(names))

    paths: dict[int | None, str] = {}
    for slice_id, pie_id, symbol in Slice.objects.filter(
        pie__account=account, security__isnull=False
    ).values_list("id", "pie_id", "security__symbol"):
        prefix = pie_path(pie_id)
        paths[slice_id] = f"{prefix}/{symbol}" if prefix else symbol
    return paths


# --- lots, realized gains, orders ------------------------------------------------------------


class LotsView(PiesListView):
    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("status", str, enum=["open", "closed"], required=False),
        ],
        responses={200: s.LotOutput(many=True), **s.error_responses(*s.READ_ERRORS)},
        summary="Tax lots",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        wanted = query(s.LotQuery, request).get("status")
        lots = Lot.objects.filter(position__account=account).select_related("position__security")
        if wanted == "open":
            lots = lots.filter(remaining_quantity__gt=0)
        elif wanted == "closed":
            lots = lots.filter(remaining_quantity=0)
        page = self.page_of(lots.order_by("acquired_on", "id"))
        paths = leaf_paths(account) if page else {}
        rows = [
            {
                "id": lot.pk,
                "path": paths.get(lot.position.slice_id, lot.position.security.symbol),
                "symbol": lot.position.security.symbol,
                "acquired_on": lot.acquired_on,
                "quantity": lot.quantity,
                "remaining_quantity": lot.remaining_quantity,
                "cost_basis": lot.cost_basis,
                "remaining_cost": lot.remaining_cost,
            }
            for lot in page
        ]
        return self.get_paginated_response(s.LotOutput(rows, many=True).data)


GAINS_CSV_HEADER = list(Disposal.GAIN_COLUMNS)


class RealizedGainsView(JSONOrCSV, PiesListView):
    csv_header = GAINS_CSV_HEADER

    @extend_schema(
        parameters=[
            ACCOUNT_ID,
            OpenApiParameter("year", int, required=False, description="Default: every year."),
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                required=False,
                description="csv: every row (no pages), with a header row.",
            ),
        ],
        responses={
            (200, "application/json"): s.RealizedGainsPage,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV rows."),
            **s.error_responses(*s.READ_ERRORS),
        },
        summary="Realized gains (JSON pages, or CSV)",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        year = query(s.GainsQuery, request).get("year")
        disposals = Disposal.objects.of(account, year=year).order_by("sold_on", "id")
        if request.accepted_renderer.format == "csv":
            rows = s.RealizedGainOutput(_gain_rows(disposals), many=True).data
            filename = f"realized-gains-{account.pk}-{year or 'all'}.csv"
            return Response(
                rows, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
            )
        totals = disposals.aggregate(
            short=Coalesce(Sum("gain", filter=Q(term=Term.SHORT)), ZERO),
            long=Coalesce(Sum("gain", filter=Q(term=Term.LONG)), ZERO),
        )
        page = self.page_of(disposals)
        response = self.get_paginated_response(
            s.RealizedGainOutput(_gain_rows(page), many=True).data
        )
        response.data["short_term_gain"] = f"{totals['short']:.2f}"
        response.data["long_term_gain"] = f"{totals['long']:.2f}"
        return response


def _gain_rows(disposals: Iterable[Disposal]) -> list[dict[str, Any]]:
    return [disposal.gain_row() for disposal in disposals]


class OrdersView(PiesListView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: s.OrderOutput(many=True), **s.error_responses(401, 403, 404)},
        summary="Executed and pending orders",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        orders = (
            Order.objects.filter(account=account)
            .select_related("window", "security", "position")
            .order_by("-window_id", "id")
        )
        page = self.page_of(orders)
        paths = leaf_paths(account) if page else {}
        for order in page:
            order.path = paths.get(order.position.slice_id, order.security.symbol)
        return self.get_paginated_response(s.OrderOutput(page, many=True).data)
