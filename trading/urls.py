"""Investor pages of the trading app (the staff operations page lives in ops_urls.py)."""

from __future__ import annotations

from django.urls import path

from trading.views import accounts, history, intents, performance, recurring

urlpatterns = [
    path("", accounts.dashboard, name="dashboard"),
    path("signup/", accounts.signup, name="signup"),
    path("settings/", accounts.user_settings, name="user_settings"),
    path("settings/token/", accounts.token_create, name="token_create"),
    path("settings/token/revoke/", accounts.token_revoke, name="token_revoke"),
    path("account/open/", accounts.account_open, name="account_open"),
    path("account/<int:pk>/", accounts.account_detail, name="account_detail"),
    path("account/<int:pk>/pie/<int:pie_id>/", accounts.account_detail, name="account_pie"),
    path("account/<int:pk>/deposit/", intents.deposit, name="deposit"),
    path("account/<int:pk>/withdraw/", intents.withdraw, name="withdraw"),
    path("account/<int:pk>/rebalance/", intents.rebalance, name="rebalance"),
    path(
        "account/<int:pk>/intents/<int:intent_id>/cancel/",
        intents.intent_cancel,
        name="intent_cancel",
    ),
    path("account/<int:pk>/recurring/", recurring.recurring, name="recurring"),
    path(
        "account/<int:pk>/recurring/<int:schedule_id>/",
        recurring.recurring_edit,
        name="recurring_edit",
    ),
    path(
        "account/<int:pk>/recurring/<int:schedule_id>/pause/",
        recurring.recurring_pause,
        name="recurring_pause",
    ),
    path(
        "account/<int:pk>/recurring/<int:schedule_id>/delete/",
        recurring.recurring_delete,
        name="recurring_delete",
    ),
    path("account/<int:pk>/activity/", history.activity, name="activity"),
    path("account/<int:pk>/lots/", history.lots, name="lots"),
    path("account/<int:pk>/realized-gains.csv", history.realized_gains_csv, name="gains_csv"),
    path("account/<int:pk>/settings/", accounts.account_settings, name="account_settings"),
    path(
        "account/<int:pk>/performance/",
        performance.performance_chart,
        name="performance_chart",
    ),
    path("account/<int:pk>/dividends/", performance.dividends, name="dividends"),
    path("account/<int:pk>/dividends.csv", performance.dividends_csv, name="dividends_csv"),
]
