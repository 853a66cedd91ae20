"""REST API v1 (api.md), pies side: accounts, the pie tree, export/import and holdings.

The same services as the web app do the work (``open_account``, ``save_pie_tree``,
``export_pie``, ``import_pie``); the read side is ``pies.tree`` (one tree load, a constant
number of queries).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from pies import serializers as ps
from pies.services import (
    AccountLimitError,
    PieValidationError,
    StalePieVersion,
    export_pie,
    import_pie,
    open_account,
    save_pie_tree,
)
from pies.tree import load_portfolio
from trading import serializers as s
from trading.access import signed_in_user
from trading.api.base import ACCOUNT_ID, PiesAPIView, PiesListView, account_for, body
from trading.models import Account
from trading.ownership import AccountInWindow
from trading.valuation import with_values


def _saved(call: Any) -> Response | None:
    """Run a pie save; a stale version is 409 with the current version, so is a save while a
    trade window owns the account (nothing saved); errors are 400."""
    try:
        call()
    except StalePieVersion as exc:
        return Response(
            {"detail": str(exc), "version": exc.current_version}, status=status.HTTP_409_CONFLICT
        )
    except AccountInWindow as exc:
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    except PieValidationError as exc:
        raise exceptions.ValidationError(exc.errors) from None
    return None


class AccountsView(PiesListView):
    def get_queryset(self) -> QuerySet[Account]:
        return Account.objects.for_user(self.request.user).investor().order_by("id")

    @extend_schema(
        responses={200: ps.AccountOutput(many=True), **s.error_responses(401, 403, 404)},
        summary="Your accounts",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.page_of(self.get_queryset())
        return self.get_paginated_response(
            ps.AccountOutput(with_values(list(page)), many=True).data
        )

    @extend_schema(
        request=ps.AccountCreateInput,
        responses={201: ps.AccountOutput, **s.error_responses(400, 401, 403, 415)},
        summary="Open an account (one of each kind)",
    )
    def post(self, request: Request) -> Response:
        data = body(ps.AccountCreateInput, request)
        try:
            account = open_account(
                user=signed_in_user(request), kind=data["kind"], name=data["name"]
            )
        except AccountLimitError as exc:
            raise exceptions.ValidationError({"kind": [str(exc)]}) from None
        return Response(
            ps.AccountOutput(with_values([account])[0]).data, status=status.HTTP_201_CREATED
        )


class AccountDetailView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: ps.AccountOutput, **s.error_responses(401, 403, 404)},
        summary="One account",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        return Response(ps.AccountOutput(with_values([account])[0]).data)

    @extend_schema(
        parameters=[ACCOUNT_ID],
        request=ps.AccountSettingsInput,
        responses={200: ps.AccountOutput, **s.error_responses(*s.WRITE_ERRORS)},
        summary="Change an account's settings",
    )
    def patch(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        changes = body(ps.AccountSettingsInput, request)
        if changes:
            for field, value in changes.items():
                setattr(account, field, value)
            account.save(update_fields=list(changes))
        return Response(ps.AccountOutput(with_values([account])[0]).data)


class PieView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: ps.PieTreeOutput, **s.error_responses(401, 403, 404)},
        summary="The portfolio pie tree with values and drift",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        return Response(ps.pie_tree_data(load_portfolio(account)))

    @extend_schema(
        parameters=[ACCOUNT_ID],
        request=ps.PieTreeInput,
        responses={200: ps.PieTreeOutput, **s.error_responses(*s.WRITE_ERRORS, 409)},
        summary="Replace the pie tree (409 on a stale version, or while a window runs for it)",
        description="Slices match existing ones by id, then symbol within the same pie, then "
        "sub-pie name, so moves and renames trade nothing. A slice that disappears or gets "
        "target 0 while holding shares becomes `removing`.",
    )
    def put(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise exceptions.ValidationError({"non_field_errors": ["Expected a pie object."]})
        # save_pie_tree validates the whole shape itself, with errors keyed by JSON path.
        conflict = _saved(
            lambda: save_pie_tree(account=account, tree=data, version=data.get("version"))
        )
        if conflict is not None:
            return conflict
        return Response(ps.pie_tree_data(load_portfolio(account)))


class PieExportView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: ps.OpenPieOutput, **s.error_responses(401, 403, 404)},
        summary="Export the pie in the open pie format",
    )
    def get(self, request: Request, account_id: int) -> Response:
        return Response(export_pie(account=account_for(request, account_id)))


class PieImportView(PiesAPIView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        request=ps.OpenPieImportInput,
        responses={200: ps.PieTreeOutput, **s.error_responses(*s.WRITE_ERRORS, 409)},
        summary="Import the open pie format (a PUT of the whole tree)",
    )
    def post(self, request: Request, account_id: int) -> Response:
        account = account_for(request, account_id)
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise exceptions.ValidationError({"non_field_errors": ["Expected a pie object."]})
        conflict = _saved(
            lambda: import_pie(account=account, data=data, version=data.get("version"))
        )
        if conflict is not None:
            return conflict
        return Response(ps.pie_tree_data(load_portfolio(account)))


class HoldingsView(PiesListView):
    @extend_schema(
        parameters=[ACCOUNT_ID],
        responses={200: ps.HoldingOutput(many=True), **s.error_responses(401, 403, 404)},
        summary="Holdings per leaf, with portfolio-wide target and actual percentages",
    )
    def get(self, request: Request, account_id: int) -> Response:
        portfolio = load_portfolio(account_for(request, account_id))
        page = self.page_of(portfolio.leaves)
        return self.get_paginated_response(ps.HoldingOutput(page, many=True).data)
