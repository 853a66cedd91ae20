"""URLs of the REST API v1 (api.md), included at ``api/v1/``."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from pies import api as pies_api
from trading.api import history, intents, market, performance, recurring, windows


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
def not_found(request: Request, rest: str = "") -> Response:
    # Anything else under /api/v1/ (e.g. /accounts/abc/) is a JSON 404 like the API's own,
    # not Django's HTML page.
    raise exceptions.NotFound()


urlpatterns = [
    path("auth/token/", market.TokenView.as_view(), name="api-token"),
    path("securities/", market.SecuritiesView.as_view(), name="api-securities"),
    path("prices/", market.PricesView.as_view(), name="api-prices"),
    path("dividends/", market.DividendsView.as_view(), name="api-dividends"),
    path("trade-windows/", windows.TradeWindowsView.as_view(), name="api-windows"),
    path("trade-windows/next/", windows.NextWindowView.as_view(), name="api-window-next"),
    path("trade-windows/run/", windows.RunWindowView.as_view(), name="api-window-run"),
    path("trade-windows/<int:window_id>/", windows.TradeWindowView.as_view(), name="api-window"),
    path(
        "trade-windows/<int:window_id>/retry/",
        windows.RetryWindowView.as_view(),
        name="api-window-retry",
    ),
    path(
        "trade-windows/<int:window_id>/abandon/",
        windows.AbandonWindowView.as_view(),
        name="api-window-abandon",
    ),
    path("accounts/", pies_api.AccountsView.as_view(), name="api-accounts"),
    path("accounts/<int:account_id>/", pies_api.AccountDetailView.as_view(), name="api-account"),
    path("accounts/<int:account_id>/pie/", pies_api.PieView.as_view(), name="api-pie"),
    path(
        "accounts/<int:account_id>/pie/export/",
        pies_api.PieExportView.as_view(),
        name="api-pie-export",
    ),
    path(
        "accounts/<int:account_id>/pie/import/",
        pies_api.PieImportView.as_view(),
        name="api-pie-import",
    ),
    path(
        "accounts/<int:account_id>/holdings/", pies_api.HoldingsView.as_view(), name="api-holdings"
    ),
    path(
        "accounts/<int:account_id>/deposits/",
        intents.DepositsView.as_view(),
        name="api-deposits",
    ),
    path(
        "accounts/<int:account_id>/withdrawals/",
        intents.WithdrawalsView.as_view(),
        name="api-withdrawals",
    ),
    path(
        "accounts/<int:account_id>/withdrawals/preview/",
        intents.WithdrawalPreviewView.as_view(),
        name="api-withdrawal-preview",
    ),
    path(
        "accounts/<int:account_id>/rebalance/",
        intents.RebalanceView.as_view(),
        name="api-rebalance",
    ),
    path(
        "accounts/<int:account_id>/rebalance/preview/",
        intents.RebalancePreviewView.as_view(),
        name="api-rebalance-preview",
    ),
    path("accounts/<int:account_id>/intents/", intents.IntentsView.as_view(), name="api-intents"),
    path(
        "accounts/<int:account_id>/intents/<int:intent_id>/",
        intents.IntentDetailView.as_view(),
        name="api-intent",
    ),
    path(
        "accounts/<int:account_id>/recurring-deposits/",
        recurring.RecurringDepositsView.as_view(),
        name="api-recurring-deposits",
    ),
    path(
        "accounts/<int:account_id>/recurring-deposits/<int:schedule_id>/",
        recurring.RecurringDepositView.as_view(),
        name="api-recurring-deposit",
    ),
    path("accounts/<int:account_id>/lots/", history.LotsView.as_view(), name="api-lots"),
    path(
        "accounts/<int:account_id>/realized-gains/",
        history.RealizedGainsView.as_view(),
        name="api-realized-gains",
    ),
    path("accounts/<int:account_id>/orders/", history.OrdersView.as_view(), name="api-orders"),
    path(
        "accounts/<int:account_id>/performance/",
        performance.PerformanceView.as_view(),
        name="api-performance",
    ),
    path(
        "accounts/<int:account_id>/dividends/",
        performance.AccountDividendsView.as_view(),
        name="api-account-dividends",
    ),
    re_path(r"^(?P<rest>.*)$", not_found, name="api-not-found"),
]
