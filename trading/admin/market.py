"""Securities, their prices (with a CSV import) and dividends: what staff steer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from trading import money, prices
from trading.calendar import CalendarRangeError, is_trading_day, market_date
from trading.forms import NumberField
from trading.models import (
    Dividend,
    LedgerEntry,
    Price,
    Security,
)

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


class PriceForm(forms.ModelForm):
    price = NumberField(reader=money.parse_price, help_text="Up to 4 decimals, e.g. 412.1200.")

    class Meta:
        model = Price
        fields = ["security", "at", "price"]

    def clean_at(self) -> Any:
        at = self.cleaned_data["at"]
        if at is not None and at > timezone.now():
            raise forms.ValidationError(
                "A price cannot be dated in the future: it would become the latest price "
                "before its time."
            )
        return at

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        at = data.get("at")
        if at is not None and not self.errors:
            try:
                closed = not is_trading_day(market_date(at))
            except CalendarRangeError:
                closed = False
            if closed:
                self.closed_day_warning = (
                    f"{market_date(at)} is not a NYSE trading day (a weekend or a holiday): "
                    "the price was saved; check its date."
                )
        return data


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    form = PriceForm
    list_display = ["security", "at", "price"]
    list_filter = ["security__kind"]
    list_select_related = ["security"]
    search_fields = ["security__symbol"]
    date_hierarchy = "at"
    autocomplete_fields = ["security"]
    # A year of daily closes for hundreds of securities: counting them all on every page
    # view is the slowest query of the changelist and tells staff nothing.
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Price, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warning = getattr(form, "closed_day_warning", None)
        if warning:
            self.message_user(request, warning, messages.WARNING)

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
                    for warning in prices.non_trading_day_warnings(rows):
                        self.message_user(request, warning, messages.WARNING)
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


class DividendForm(forms.ModelForm):
    amount_per_share = NumberField(reader=money.parse_per_share, help_text="Up to 6 decimals.")

    class Meta:
        model = Dividend
        fields = ["security", "ex_date", "pay_date", "amount_per_share"]


@admin.register(Dividend)
class DividendAdmin(admin.ModelAdmin):
    form = DividendForm

    class Media:
        css = {"all": ["css/admin.css"]}  # its tables' styles: no inline style (CSP)

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
            '<tr><td><a href="{}">{} · {}</a></td><td class="pies-numeric">{}</td></tr>',
            rows,
        )
        return format_html(
            "<table><thead><tr><th>Account</th><th>Amount</th></tr></thead>"
            "<tbody>{}</tbody><tfoot><tr><th>{} account(s)</th>"
            '<th class="pies-numeric">{}</th></tr>'
            '<tr><td>House residue</td><td class="pies-numeric">{}</td></tr></tfoot></table>',
            body,
            len(rows),
            total,
            residue or Decimal("0.00"),
        )
