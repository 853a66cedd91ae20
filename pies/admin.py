"""Pies and slices in the admin: read-only. Pies change only through ``save_pie_tree``, which
keeps targets summing to 100 %, bumps the tree's version and queues removals."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pies.models import Pie, Slice


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


SLICE_FIELDS = ("security", "child_pie", "target_bp", "status", "order", "created_at")


class SliceInline(ReadOnly, admin.TabularInline):
    model = Slice
    fk_name = "pie"
    fields = SLICE_FIELDS
    readonly_fields = SLICE_FIELDS
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("security", "child_pie")


@admin.register(Pie)
class PieAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "name", "account", "is_root", "version", "created_at"]
    list_filter = ["is_root"]
    list_select_related = ["account__owner"]
    search_fields = ["name", "account__owner__username"]
    date_hierarchy = "created_at"
    inlines = [SliceInline]


@admin.register(Slice)
class SliceAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "pie", "security", "child_pie", "target_percent", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["pie", "security", "child_pie"]
    search_fields = ["security__symbol", "pie__name", "pie__account__owner__username"]
    date_hierarchy = "created_at"
