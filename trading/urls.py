"""Investor pages of the trading app (the staff operations page lives in ops_urls.py)."""

from __future__ import annotations

from django.urls import path

from trading import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("settings/", views.user_settings, name="user_settings"),
    path("settings/token/", views.token_create, name="token_create"),
    path("settings/token/revoke/", views.token_revoke, name="token_revoke"),
    path("account/open/", views.account_open, name="account_open"),
    path("account/<int:pk>/", views.account_detail, name="account_detail"),
    path("account/<int:pk>/pie/<int:pie_id>/", views.account_detail, name="account_pie"),
    path("account/<int:pk>/deposit/", views.deposit, name="deposit"),
    path("account/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("account/<int:pk>/rebalance/", views.rebalance, name="rebalance"),
    path(
        "account/<int:pk>/intents/<int:intent_id>/cancel/",
        views.intent_cancel,
        name="intent_cancel",
    ),
    path("account/<int:pk>/activity/", views.activity, name="activity"),
    path("account/<int:pk>/lots/", views.lots, name="lots"),
    path("account/<int:pk>/realized-gains.csv", views.realized_gains_csv, name="gains_csv"),
    path("account/<int:pk>/settings/", views.account_settings, name="account_settings"),
]
