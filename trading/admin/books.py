"""The books, read-only: lots, disposals (realized gains) and the append-only ledger."""

from __future__ import annotations

from django.contrib import admin

from trading.admin.base import ReadOnlyAdmin
from trading.models import (
    Disposal,
    LedgerEntry,
    Lot,
)


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "position",
        "acquired_on",
        "quantity",
        "remaining_quantity",
        "cost_basis",
        "remaining_cost",
    ]
    list_select_related = ["position"]
    search_fields = ["position__security__symbol", "position__account__owner__username"]
    date_hierarchy = "acquired_on"
    raw_id_fields = ["position", "order"]
    show_full_result_count = False


@admin.register(Disposal)
class DisposalAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "security",
        "acquired_on",
        "sold_on",
        "quantity",
        "proceeds",
        "cost_basis",
        "gain",
        "term",
    ]
    list_filter = ["term"]
    list_select_related = ["account", "security"]
    search_fields = ["security__symbol", "account__owner__username"]
    date_hierarchy = "sold_on"
    raw_id_fields = ["lot", "order", "account", "security"]
    show_full_result_count = False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Strictly read-only, for superusers too: the database refuses updates and deletes
    anyway, and the admin should not offer a button that can only fail."""

    list_display = ["id", "created_at", "account", "kind", "amount", "reference", "window"]
    list_filter = ["kind", "account__kind"]
    list_select_related = ["account", "window"]
    search_fields = ["reference", "account__owner__username", "=account__id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["account", "window", "intent", "dividend"]
    show_full_result_count = False
    actions = None
