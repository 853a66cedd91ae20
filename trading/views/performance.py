"""The account page's performance chart (a partial, also served alone for htmx) and the
dividend income page with its CSV."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from pieproject.htmx import HtmxHttpRequest
from trading.access import get_account_for_user
from trading.calendar import market_date
from trading.chart import value_chart
from trading.models import Account
from trading.performance import (
    DEFAULT_RANGE,
    RANGE_LABELS,
    RANGES,
    account_performance,
    dividend_income,
)


def performance_context(request: HttpRequest, account: Account) -> dict[str, Any]:
    """What ``trading/_performance.html`` draws: the range asked for (``?range=``, else 1Y),
    its returns and the chart. One query."""
    key = request.GET.get("range", "").upper()
    if key not in RANGES:
        key = DEFAULT_RANGE
    performance = account_performance(account.pk, key, today=market_date(timezone.now()))
    return {
        "performance": performance,
        "chart": value_chart(performance.points),
        "ranges": [(k, RANGE_LABELS[k]) for k in RANGES],
        "range_label": RANGE_LABELS[key],
    }


@login_required
@require_GET
def performance_chart(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    if not request.htmx:
        url = reverse("account_detail", args=[account.pk])
        return redirect(f"{url}?range={request.GET.get('range', DEFAULT_RANGE)}#performance")
    context = {"account": account, **performance_context(request, account)}
    return render(request, "trading/_performance.html", context)


def _year(request: HttpRequest) -> int | None:
    raw = request.GET.get("year", "")
    if not raw:
        return None
    if not raw.isdigit() or not 1900 <= int(raw) <= 2999:
        raise Http404("No such year.")
    return int(raw)


@login_required
@require_GET
def dividends(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    income = dividend_income(account.pk, year=_year(request))
    return render(request, "trading/dividends.html", {"account": account, "income": income})


@login_required
@require_GET
def dividends_csv(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    year = _year(request)
    income = dividend_income(account.pk, year=year)
    name = f"dividends-{account.pk}{f'-{year}' if year else ''}.csv"
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(["month", "symbol", "amount"])
    for row in income.rows:
        writer.writerow([row.month_key, row.symbol, f"{row.amount:f}"])
    return response
