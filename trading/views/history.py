"""What happened: the activity (requests, orders with their reasons, cash flows), tax lots
and realized gains (a page and a CSV)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractYear
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from pieproject.htmx import HtmxHttpRequest, render_page
from trading.access import get_account_for_user
from trading.models import Disposal, Intent, LedgerEntry, Lot, Order
from trading.money import parse_whole

# --- activity, lots and gains ----------------------------------------------------------------


@login_required
@require_GET
def activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    intents = list(Intent.objects.filter(account=account).select_related("pie", "window")[:100])
    orders = list(
        Order.objects.filter(account=account)
        .select_related("window", "security")
        .order_by("-window__scheduled_at", "-window_id", "id")[:300]
    )
    flows = list(LedgerEntry.objects.filter(account=account).select_related("window")[:200])
    context = {"account": account, "intents": intents, "orders": orders, "flows": flows}
    return render_page(request, "trading/activity.html", context, partial="activity-body")


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
