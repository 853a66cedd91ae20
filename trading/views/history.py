"""What happened: the activity (requests, orders with their reasons, cash flows), tax lots
and realized gains (a page and a CSV)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import CharField, Count, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat, ExtractYear
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from pieproject.htmx import HtmxHttpRequest, render_page
from trading.access import get_account_for_user
from trading.forms import ActivityFilterForm
from trading.models import (
    Account,
    Disposal,
    Intent,
    IntentKind,
    LedgerEntry,
    Lot,
    Order,
    Security,
)
from trading.money import parse_whole

# --- activity, lots and gains ----------------------------------------------------------------


PER_PAGE = 50


@login_required
@require_GET
def activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Requests, orders by window and cash movements, 50 per page each, filtered by kind,
    security and dates (product.md, the web app: activity)."""
    account = get_account_for_user(request, pk)
    symbols = list(
        Security.objects.filter(positions__account=account)
        .distinct()
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )
    form = ActivityFilterForm(request.GET or None, symbols=symbols)
    wanted = form.cleaned_data if form.is_bound and form.is_valid() else {}
    flows = Paginator(_flows(account, wanted), PER_PAGE).get_page(request.GET.get("cash_page"))
    _name_securities(list(flows))
    context = {
        "account": account,
        "form": form,
        "filtered": bool(wanted and any(wanted.values())),
        "intents": Paginator(_intents(account, wanted), PER_PAGE).get_page(
            request.GET.get("requests_page")
        ),
        "orders": Paginator(_orders(account, wanted), PER_PAGE).get_page(
            request.GET.get("orders_page")
        ),
        "flows": flows,
    }
    return render_page(request, "trading/activity.html", context, partial="activity-body")


def _intents(account: Account, wanted: dict[str, Any]) -> QuerySet[Intent]:
    rows = Intent.objects.filter(account=account).select_related(
        "pie", "window", "slice__security", "slice__child_pie"
    )
    kind = wanted.get("kind")
    if kind:
        rows = rows.filter(kind=kind) if kind in IntentKind.values else rows.none()
    if wanted.get("security"):
        rows = rows.filter(slice__security__symbol=wanted["security"])
    if wanted.get("start"):
        rows = rows.filter(created_at__date__gte=wanted["start"])
    if wanted.get("end"):
        rows = rows.filter(created_at__date__lte=wanted["end"])
    return rows.order_by("-created_at", "-id")


def _orders(account: Account, wanted: dict[str, Any]) -> QuerySet[Order]:
    rows = Order.objects.filter(account=account).select_related("window", "security")
    kind = wanted.get("kind")
    if kind in ("buy", "sell"):
        rows = rows.filter(side=kind)
    elif kind:
        rows = rows.filter(reason=kind)  # the rule that planned it: deposit, rebalance, ...
    if wanted.get("security"):
        rows = rows.filter(security__symbol=wanted["security"])
    if wanted.get("start"):
        rows = rows.filter(window__trade_date__gte=wanted["start"])
    if wanted.get("end"):
        rows = rows.filter(window__trade_date__lte=wanted["end"])
    return rows.order_by("-window__scheduled_at", "-window_id", "id")


def _order_references(orders: QuerySet[Order]) -> QuerySet[Any]:
    """The ledger references of these orders' trades ("window:W:order:O"), as a subquery."""
    return orders.annotate(
        ref=Concat(
            Value("window:"), Cast("window_id", CharField()), Value(":order:"),
            Cast("id", CharField()), output_field=CharField(),
        )
    ).values("ref")  # fmt: skip


def _flows(account: Account, wanted: dict[str, Any]) -> QuerySet[LedgerEntry]:
    rows = LedgerEntry.objects.filter(account=account).select_related(
        "window", "intent", "dividend__security"
    )
    mine = Order.objects.filter(account=account)
    kind = wanted.get("kind")
    if kind in ("rebalance", "removal"):
        rows = rows.filter(reference__in=_order_references(mine.filter(reason=kind)))
    elif kind:
        rows = rows.filter(kind=kind)
    symbol = wanted.get("security")
    if symbol:
        trades = _order_references(mine.filter(security__symbol=symbol))
        rows = rows.filter(Q(reference__in=trades) | Q(dividend__security__symbol=symbol))
    if wanted.get("start"):
        rows = rows.filter(created_at__date__gte=wanted["start"])
    if wanted.get("end"):
        rows = rows.filter(created_at__date__lte=wanted["end"])
    return rows.order_by("-created_at", "-id")


def _name_securities(entries: list[LedgerEntry]) -> None:
    """Set ``symbol`` on each entry that moved cash for a security (one query a page)."""
    order_ids = {entry.order_id for entry in entries if entry.order_id is not None}
    symbols = dict(Order.objects.filter(pk__in=order_ids).values_list("id", "security__symbol"))
    for entry in entries:
        if entry.order_id is not None:
            entry.symbol = symbols.get(entry.order_id, "")
        elif entry.dividend is not None:
            entry.symbol = entry.dividend.security.symbol
        else:
            entry.symbol = ""


def _year(request: HttpRequest) -> int | None:
    raw = request.GET.get("year", "")
    if not raw:
        return None
    try:
        year = parse_whole(raw, digits=4, noun="year")
    except ValueError:
        raise Http404("No such year.") from None
    if not 1900 <= year <= 2999:
        raise Http404("No such year.")
    return year


@login_required
@require_GET
def lots(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    year = _year(request)
    all_lots = Lot.objects.filter(position__account=account).select_related("position__security")
    open_lots = list(all_lots.filter(remaining_quantity__gt=0))
    closed_lots = list(all_lots.filter(remaining_quantity=0).order_by("-acquired_on", "-id")[:200])
    years = list(
        Disposal.objects.filter(account=account)
        .annotate(year=ExtractYear("sold_on"))
        .values("year")
        .annotate(
            short=Sum("gain", filter=Q(term="short")),
            long=Sum("gain", filter=Q(term="long")),
            total=Sum("gain"),
            count=Count("id"),
        )
        .order_by("-year")
    )
    disposals = Disposal.objects.of(account, year=year)
    context = {
        "account": account,
        "open_lots": open_lots,
        "closed_lots": closed_lots,
        "years": years,
        "year": year,
        "disposals": list(disposals.order_by("-sold_on", "-id")[:300]),
    }
    return render_page(request, "trading/lots.html", context, partial="lots-body")


@login_required
@require_GET
def realized_gains_csv(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    year = _year(request)
    rows = Disposal.objects.of(account, year=year)
    name = f"realized-gains-{account.pk}{f'-{year}' if year else ''}.csv"
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(Disposal.GAIN_COLUMNS)
    for row in rows.order_by("sold_on", "id").iterator():
        writer.writerow([_csv_text(value) for value in row.gain_row().values()])
    return response


def _csv_text(value: object) -> str:
    # Decimals as stored: 6 places for quantities, 2 for money (the columns' scales).
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)
