"""Pie editor pages: edit the whole tree, validate as you type, search securities, import and
export the open pie format."""

from __future__ import annotations

from django.urls import path

from pies import views

urlpatterns = [
    path("account/<int:pk>/pie/edit/", views.pie_editor, name="pie_editor"),
    path("account/<int:pk>/pie/validate/", views.pie_validate, name="pie_validate"),
    path("account/<int:pk>/pie/export/", views.pie_export, name="pie_export"),
    path("account/<int:pk>/pie/import/", views.pie_import, name="pie_import"),
    path("securities/search/", views.security_search, name="security_search"),
]
