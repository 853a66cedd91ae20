"""The staff operations page, included at ``ops/``."""

from __future__ import annotations

from django.urls import path

from trading.views import ops

app_name = "ops"

urlpatterns = [
    path("", ops.ops_page, name="index"),
    path("books/check/", ops.check_books, name="check_books"),
    path("windows/run/", ops.run_window_now, name="run_window"),
    path("windows/<int:window_id>/retry/", ops.retry_window_now, name="retry_window"),
    path("windows/<int:window_id>/abandon/", ops.abandon_window_now, name="abandon_window"),
]
