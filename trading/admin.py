"""The staff admin for trading: securities, prices, dividends, accounts, intents and windows
(steerable), and the books (orders, blocks, fills, lots, disposals, ledger: read-only).

Staff never edit balances or history here: cash moves only through services that write the
ledger, and corrections are reversing entries, never edits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from trading import prices
from trading.models import (
    Account,
    BlockOrder,
    Disposal,
    Dividend,
    Fill,
    Intent,
    IntentStatus,
    LedgerEntry,
    Lot,
    Order,
    Position,
    Price,
    Security,
    TradeWindow,
    WindowAccount,
    WindowStatus,
)
from trading.ops import retry_window, run_adhoc_window, window_summary

admin.site.site_header = "Pies administration"
admin.site.site_title = "Pies admin"
admin.site.index_title = "Staff tools"


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the window engine and the services, never by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    return f"{(end - start).total_seconds():.2f} s"


# --- Securities and prices -------------------------------------------------------------------


@admin.register(Security)
class SecurityAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "kind", "active", "latest_price", "latest_price_at"]
    list_filter = ["kind", "active"]
    search_fields = ["symbol", "name"]
    actions = ["activate", "deactivate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Security]:
        # One backward index scan per row of the page, not a query per cell.
        latest = Price.objects.filter(security=OuterRef("pk")).order_by("-at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_price=Subquery(latest.values("price")[:1]),
                latest_price_at=Subquery(latest.values("at")[:1]),
            )
        )

    @admin.display(description="Latest price", ordering="latest_price")
    def latest_price(self, obj: Security) -> Any:
        return getattr(obj, "latest_price", None)

    @admin.display(description="Price at", ordering="latest_price_at")
    def latest_price_at(self, obj: Security) -> Any:
        return getattr(obj, "latest_price_at", None)

    def get_readonly_fields(self, request: HttpRequest, obj: Security | None = None) -> list[str]:
        # Slices, orders and price files refer to the symbol: renaming it would rewrite history.
        return ["symbol"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Activate selected securities", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Security]) -> None:
        count = queryset.update(active=True)
        self.message_user(request, f"{count} securities activated.", messages.SUCCESS)

    @admin.action(
        description="Deactivate selected securities (no new slices; holdings stay)",
        permissions=["change"],
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Security]) -> None:
        count = queryset.update(active=False)
        self.message_user(request, f"{count} securities deactivated.", messages.SUCCESS)


class PriceImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Header symbol,at,price. A bare date (2026-03-02) means that day's NYSE "
        "close, 16:00 New York time; a datetime without an offset is New York time.",
    )


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["security", "at", "price"]
    list_filter = ["security__kind"]
    list_select_related = ["security"]
    search_fields = ["security__symbol"]
    date_hierarchy = "at"
    autocomplete_fields = ["security"]
    # A year of daily closes for hundreds of securities: counting them all on every page
    # view is the slowest query of the changelist and tells staff nothing.
    show_full_result_count = False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="trading_price_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        errors: list[str] = []
        if request.method == "POST":
            form = PriceImportForm(request.POST, request.FILES)
            if form.is_valid():
                rows, errors = prices.parse_price_csv(form.cleaned_data["file"].file)
                if not errors:
                    count = prices.import_prices(rows)
                    self.message_user(request, f"Imported {count} price(s).", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:trading_price_changelist"))
        else:
            form = PriceImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Import prices",
            "opts": self.opts,
            "form": form,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/trading/price/import.html", context)


# --- Dividends -------------------------------------------------------------------------------


@admin.register(Dividend)
class DividendAdmin(admin.ModelAdmin):
    list_display = ["security", "ex_date", "pay_date", "amount_per_share", "paid_at"]
    list_filter = ["pay_date", ("paid_at", admin.EmptyFieldListFilter)]
    list_select_related = ["security"]
    search_fields = ["security__symbol"]
    date_hierarchy = "pay_date"
    autocomplete_fields = ["security"]

    def get_readonly_fields(self, request: HttpRequest, obj: Dividend | None = None) -> list[str]:
        return ["paid_at", "payments"]

    def has_change_permission(self, request: HttpRequest, obj: Dividend | None = None) -> bool:
        if obj is not None and obj.paid_at is not None:
            return False  # paid: the ledger holds its entries; a change would disagree
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Dividend | None = None) -> bool:
        if obj is not None and obj.paid_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Paid to")
    def payments(self, obj: Dividend) -> str:
        if obj.pk is None:
            return "—"
        entries = (
            LedgerEntry.objects.filter(dividend=obj, amount__gt=0)
            .exclude(account__owner__isnull=True)
            .select_related("account__owner")
            .order_by("account_id")
        )
        rows = [
            (
                reverse("admin:trading_account_change", args=[entry.account_id]),
                entry.account.owner,
                entry.account,
                entry.amount,
            )
            for entry in entries
        ]
        if not rows:
            return "Not paid yet." if obj.paid_at is None else "Paid, but no account held shares."
        total = sum((amount for *_, amount in rows), Decimal("0.00"))
        residue = LedgerEntry.objects.filter(
            dividend=obj, account__kind="house", amount__gt=0
        ).aggregate(total=Sum("amount"))["total"]
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{} · {}</a></td><td style="text-align:right">{}</td></tr>',
            rows,
        )
        return format_html(
            "<table><thead><tr><th>Account</th><th>Amount</th></tr></thead>"
            "<tbody>{}</tbody><tfoot><tr><th>{} account(s)</th>"
            '<th style="text-align:right">{}</th></tr>'
            '<tr><td>House residue</td><td style="text-align:right">{}</td></tr></tfoot></table>',
            body,
            len(rows),
            total,
            residue or Decimal("0.00"),
        )


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
        "created_at",
    ]
    list_filter = ["kind", "auto_invest", "window_preference", "lot_method"]
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
        from trading.services import IntentNotCancellable, cancel_intent

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


# --- Trade windows and their books -----------------------------------------------------------


@admin.register(TradeWindow)
class TradeWindowAdmin(admin.ModelAdmin):
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
    actions = ["retry_failed"]
    fieldsets = [
        (
            None,
            {
                "fields": [
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
                ]
            },
        ),
        ("Report", {"fields": ["readable_report"]}),
        ("Raw data", {"classes": ["collapse"], "fields": ["report", "timings", "progress"]}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

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
        extra_context = {**(extra_context or {}), "can_run": self.has_change_permission(request)}
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
            '<tr><td>{}</td><td style="text-align:right">{}</td></tr>',
            ((name, f"{seconds:.3f} s") for name, seconds in summary.phases),
        )
        counts = format_html_join(
            "",
            '<tr><td>{}</td><td style="text-align:right">{}</td></tr>',
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
        if not self.has_change_permission(request):
            raise PermissionDenied
        outcome = run_adhoc_window()
        self.message_user(request, outcome.message, outcome.level)
        if outcome.window_id is not None:
            return HttpResponseRedirect(
                reverse("admin:trading_tradewindow_change", args=[outcome.window_id])
            )
        return HttpResponseRedirect(reverse("admin:trading_tradewindow_changelist"))

    @admin.action(description="Retry selected failed windows", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[TradeWindow]) -> None:
        for window in queryset.order_by("scheduled_at"):
            if window.status != WindowStatus.FAILED:
                self.message_user(
                    request, f"Window {window} is not failed; left alone.", messages.WARNING
                )
                continue
            outcome = retry_window(window.pk)
            self.message_user(request, outcome.message, outcome.level)


@admin.register(WindowAccount)
class WindowAccountAdmin(ReadOnlyAdmin):
    """Which accounts a window serves, and in which chunk (fixed when the window froze)."""

    list_display = ["id", "window", "account", "chunk"]
    list_select_related = ["window", "account"]
    search_fields = ["=window__id", "=account__id", "account__owner__username"]
    raw_id_fields = ["window", "account"]
    show_full_result_count = False


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
        "sell_quantity",
        "crossed_quantity",
        "net_side",
        "net_quantity",
        "window_price",
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
