"""Trade windows (run one now, retry a failed one) and what they hand from phase to phase:
the accounts served, the orders, the block orders, the fills. All read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from trading.admin.base import ReadOnlyAdmin, duration
from trading.models import (
    BlockOrder,
    Fill,
    Order,
    TradeWindow,
    WindowAccount,
    WindowChunk,
    WindowStatus,
)
from trading.ops import retry_window, window_summary
from trading.tasks import confirm_window, run_now
from trading.window import CannotAbandon, abandon_window

# --- Trade windows and their books -----------------------------------------------------------


WINDOW_FIELDS = (
    "trade_date",
    "session",
    "scheduled_at",
    "status",
    "phase",
    "attempts",
    "claimed_by",
    "heartbeat_at",
    "started_at",
    "finished_at",
    "run_time",
    "error",
    "abandon_reason",
    "abandoned_by",
)
RAW_FIELDS = ("report", "timings", "progress")


@admin.register(TradeWindow)
class TradeWindowAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin.css"]}  # its tables' styles: no inline style (CSP)

    list_display = [
        "id",
        "trade_date",
        "session",
        "scheduled_at",
        "status",
        "phase",
        "run_time",
        "accounts",
        "orders",
        "blocks",
        "attempts",
    ]
    list_filter = ["status", "session"]
    date_hierarchy = "scheduled_at"
    search_fields = ["=id", "error"]
    actions = ["retry_failed", "abandon_failed"]
    fieldsets = [
        (None, {"fields": WINDOW_FIELDS}),
        ("Report", {"fields": ("readable_report",)}),
        ("Raw data", {"classes": ["collapse"], "fields": RAW_FIELDS}),
    ]
    readonly_fields = (*WINDOW_FIELDS, "readable_report", *RAW_FIELDS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission is for the actions; an object's page only shows it.
        return obj is None and super().has_change_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "run-now/",
                self.admin_site.admin_view(require_POST(self.run_now_view)),
                name="trading_tradewindow_run_now",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_run": self.has_run_window_permission(request),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="Run time")
    def run_time(self, obj: TradeWindow) -> str:
        return duration(obj.started_at, obj.finished_at)

    @admin.display(description="Accounts")
    def accounts(self, obj: TradeWindow) -> Any:
        return window_summary(obj).accounts

    @admin.display(description="Orders")
    def orders(self, obj: TradeWindow) -> Any:
        return window_summary(obj).orders

    @admin.display(description="Blocks")
    def blocks(self, obj: TradeWindow) -> Any:
        return window_summary(obj).blocks

    @admin.display(description="Report")
    def readable_report(self, obj: TradeWindow) -> str:
        summary = window_summary(obj)
        phases = format_html_join(
            "",
            '<tr><td>{}</td><td class="pies-numeric">{}</td></tr>',
            ((name, f"{seconds:.3f} s") for name, seconds in summary.phases),
        )
        counts = format_html_join(
            "",
            '<tr><td>{}</td><td class="pies-numeric">{}</td></tr>',
            summary.figures,
        )
        skipped = format_html_join(
            "", "<li>{}</li>", ((item,) for item in summary.skipped)
        ) or mark_safe("<li>none</li>")
        return format_html(
            "<table><thead><tr><th>Phase</th><th>Duration</th></tr></thead><tbody>{}</tbody>"
            "</table><table><thead><tr><th>Figure</th><th>Value</th></tr></thead>"
            "<tbody>{}</tbody></table><p>Skipped:</p><ul>{}</ul>",
            phases or mark_safe("<tr><td colspan=2>no phase recorded</td></tr>"),
            counts or mark_safe("<tr><td colspan=2>no figures recorded</td></tr>"),
            skipped,
        )

    def run_now_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_run_window_permission(request):
            raise PermissionDenied
        outcome = run_now()
        self.message_user(request, outcome.message, outcome.level)
        return HttpResponseRedirect(
            reverse("admin:trading_tradewindow_change", args=[outcome.window_id])
        )

    def has_run_window_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("trading.run_window")

    @admin.action(description="Retry selected failed windows", permissions=["run_window"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[TradeWindow]) -> None:
        for window in queryset.order_by("scheduled_at"):
            if window.status != WindowStatus.FAILED:
                self.message_user(
                    request, f"Window {window} is not failed; left alone.", messages.WARNING
                )
                continue
            outcome = retry_window(window.pk)
            confirm_window(window.pk)
            self.message_user(request, outcome.message, outcome.level)

    def has_abandon_window_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("trading.abandon_window")

    @admin.action(
        description="Abandon selected failed windows (no fill yet)…",
        permissions=["abandon_window"],
    )
    def abandon_failed(
        self, request: HttpRequest, queryset: QuerySet[TradeWindow]
    ) -> HttpResponse | None:
        """Ask for the reason on a confirmation page, then abandon each window: its deposit
        credits reversed, its orders cancelled, its intents pending again (product.md)."""
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("confirm") == "yes" and reason:
            for window in queryset.order_by("scheduled_at"):
                try:
                    outcome = abandon_window(window_id=window.pk, reason=reason, user=request.user)
                except CannotAbandon as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    self.message_user(request, outcome.message, messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/trading/tradewindow/abandon.html",
            {
                **self.admin_site.each_context(request),
                "title": "Abandon failed trade windows",
                "opts": self.model._meta,
                "windows": queryset.order_by("scheduled_at"),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "missing_reason": request.POST.get("confirm") == "yes",
            },
        )


@admin.register(WindowAccount)
class WindowAccountAdmin(ReadOnlyAdmin):
    """Which accounts a window serves, and in which chunk (fixed when the window froze)."""

    list_display = ["id", "window", "account", "chunk"]
    list_select_related = ["window", "account"]
    search_fields = ["=window__id", "=account__id", "account__owner__username"]
    raw_id_fields = ["window", "account"]
    show_full_result_count = False


@admin.register(WindowChunk)
class WindowChunkAdmin(ReadOnlyAdmin):
    """A window's plan and post chunks: which process did each, when, in how long (the progress
    a running window makes; trading.window.chunks)."""

    list_display = ["id", "window", "phase", "number", "done_at", "took", "worker"]
    list_filter = ["phase"]
    list_select_related = ["window"]
    search_fields = ["=window__id", "worker"]
    raw_id_fields = ["window"]
    show_full_result_count = False

    @admin.display(description="took")
    def took(self, chunk: WindowChunk) -> str:
        return duration(chunk.claimed_at, chunk.done_at)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "window",
        "account",
        "security",
        "side",
        "status",
        "amount",
        "quantity",
        "price",
        "filled_amount",
        "reason",
    ]
    list_filter = ["side", "status", "reason"]
    list_select_related = ["window", "account", "security"]
    search_fields = ["security__symbol", "account__owner__username", "=window__id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["window", "account", "position", "security", "intent"]
    show_full_result_count = False


@admin.register(BlockOrder)
class BlockOrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "window",
        "security",
        "buy_quantity",
        "buy_amount",
        "sell_quantity",
        "crossed_quantity",
        "net_side",
        "net_quantity",
        "window_price",
        "limit_price",
        "fill_price",
        "house_quantity",
        "settlement_amount",
        "house_cash",
    ]
    list_filter = ["net_side"]
    list_select_related = ["window", "security"]
    search_fields = ["security__symbol", "=window__id"]
    raw_id_fields = ["window", "security"]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ["id", "block", "side", "quantity", "price", "broker_reference", "executed_at"]
    list_filter = ["side"]
    list_select_related = ["block__security", "block__window"]
    search_fields = ["block__security__symbol", "broker_reference"]
    date_hierarchy = "executed_at"
    raw_id_fields = ["block"]
