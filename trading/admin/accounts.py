"""Accounts (settings only: cash moves through the ledger), positions and intents; recurring
deposit schedules and trade confirmations (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from trading.admin.base import ReadOnlyAdmin
from trading.models import (
    Account,
    Confirmation,
    Intent,
    IntentStatus,
    Position,
    RecurringDeposit,
)
from trading.services import IntentNotCancellable, cancel_intent

# --- Accounts --------------------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "owner",
        "kind",
        "name",
        "cash",
        "auto_invest",
        "window_preference",
        "lot_method",
        "notify",
        "created_at",
    ]
    list_filter = ["kind", "auto_invest", "window_preference", "lot_method", "notify"]
    list_select_related = ["owner"]
    search_fields = ["owner__username", "owner__email", "name"]
    date_hierarchy = "created_at"
    readonly_fields = ["owner", "kind", "cash", "created_at", "ledger", "pending_intents"]
    fields = [
        "owner",
        "kind",
        "name",
        "cash",
        "auto_invest",
        "min_cash",
        "window_preference",
        "lot_method",
        "notify",
        "created_at",
        "pending_intents",
        "ledger",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Accounts are opened by their owners (with their portfolio pie), not typed in here.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Ledger")
    def ledger(self, obj: Account) -> str:
        url = reverse("admin:trading_ledgerentry_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">Ledger entries of this account</a>', url)

    @admin.display(description="Pending intents")
    def pending_intents(self, obj: Account) -> str:
        count = obj.intents.pending().count()
        url = (
            reverse("admin:trading_intent_changelist")
            + f"?account__id__exact={obj.pk}&status__exact=pending"
        )
        return format_html('<a href="{}">{} pending</a>', url, count)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "security", "slice", "quantity"]
    list_select_related = ["account", "security", "slice"]
    list_filter = ["account__kind"]
    search_fields = ["security__symbol", "account__owner__username"]
    raw_id_fields = ["account", "slice"]


# --- Intents ---------------------------------------------------------------------------------


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "kind",
        "amount",
        "amount_paid",
        "withdraw_all",
        "status",
        "window",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["account", "window"]
    search_fields = ["account__owner__username", "idempotency_key", "=id"]
    date_hierarchy = "created_at"
    actions = ["cancel_pending"]
    raw_id_fields = ["account", "pie", "slice", "window"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission is for the actions; an object's page only shows it.
        return obj is None and super().has_change_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.opts.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Cancel selected pending intents", permissions=["change"])
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Intent]) -> None:
        cancelled, refused = 0, []
        for intent in queryset.filter(status=IntentStatus.PENDING).select_related("account"):
            try:
                cancel_intent(intent=intent)
            except IntentNotCancellable as exc:
                refused.append(f"#{intent.pk}: {exc}")
            else:
                cancelled += 1
        skipped = queryset.exclude(status=IntentStatus.PENDING).count()
        self.message_user(request, f"{cancelled} intent(s) cancelled.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} selected intent(s) were not pending.", messages.WARNING
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)


# --- Recurring deposits and trade confirmations ----------------------------------------------


@admin.register(RecurringDeposit)
class RecurringDepositAdmin(ReadOnlyAdmin):
    """Investors' deposit schedules (they edit them in the app and the API; the tick turns each
    due occurrence into a deposit intent, listed under Intents)."""

    list_display = [
        "id",
        "account",
        "amount",
        "frequency",
        "day",
        "start_date",
        "end_date",
        "next_date",
        "last_occurrence",
        "paused",
    ]
    list_filter = ["frequency", "paused"]
    list_select_related = ["account__owner"]
    search_fields = ["=account__id", "account__owner__username"]
    raw_id_fields = ["account"]


@admin.register(Confirmation)
class ConfirmationAdmin(ReadOnlyAdmin):
    """Trade confirmations: one per owner per done window; ``error`` says why one was not sent
    (the tick retries it)."""

    list_display = ["id", "window", "owner", "queued_at", "sent_at", "attempts", "error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["window", "owner"]
    search_fields = ["=window__id", "owner__username", "owner__email"]
    raw_id_fields = ["window", "owner"]
    show_full_result_count = False
