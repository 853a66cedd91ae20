"""The account page's performance chart (a partial, also served alone for htmx) and the
dividend income page with its CSV."""

from __future__ import annotations

import csv
import hashlib
import importlib
import logging
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

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
    snapshots_digest,
)

SECTION_TEMPLATE = "trading/_performance.html"
# What the section is drawn by: a change to any of them (a deploy, an edit) is a new cache key.
_SECTION_SOURCES = [
    *(
        Path(importlib.import_module(name).__file__ or "")
        for name in ("trading.chart", "trading.returns", "trading.performance", __name__)
    ),
    Path(importlib.import_module("pies.templatetags.pies_format").__file__ or ""),
    settings.BASE_DIR / "templates" / SECTION_TEMPLATE,
]
_SECTION_SECONDS = 2 * 24 * 3600  # keys name the day: older ones are never read again
logger = logging.getLogger(__name__)


def _range(request: HttpRequest) -> str:
    key = request.GET.get("range", "").upper()
    return key if key in RANGES else DEFAULT_RANGE


def performance_context(account: Account, key: str, today: date) -> dict[str, Any]:
    """What ``trading/_performance.html`` draws: the range ``key``, its returns and the chart.
    One query."""
    performance = account_performance(account.pk, key, today=today)
    return {
        "account": account,
        "performance": performance,
        "chart": value_chart(performance.points),
        "ranges": [(k, RANGE_LABELS[k]) for k in RANGES],
        "range_label": RANGE_LABELS[key],
    }


def _sources_version() -> str:
    stats = [(path, path.stat()) for path in _SECTION_SOURCES]
    stamps = "|".join(f"{path}:{stat.st_mtime_ns}:{stat.st_size}" for path, stat in stats)
    return hashlib.md5(stamps.encode()).hexdigest()


def performance_section(request: HttpRequest, account: Account) -> str:
    """The performance section as HTML, for the range asked for (``?range=``, else 1Y).

    It changes once a day, when the close's snapshot is taken, and computing and drawing it
    was about a quarter of the account page's time; so it is cached, under a key naming
    everything it is drawn from: the account, the range, the day, a digest of the range's
    snapshots (``snapshots_digest``, one query) and the code. A snapshot written, rewritten
    or deleted, or new code, gives a new key: a stale section is never served. Without the
    cache (Redis down), it is drawn every time. Two queries on a miss, one on a hit."""
    key, today = _range(request), market_date(timezone.now())
    digest = snapshots_digest(account.pk, key, today=today)
    cache_key = f"performance:{account.pk}:{key}:{today}:{digest}:{_sources_version()}"
    try:
        html = cache.get(cache_key)
    except RedisError:
        logger.warning("cache unavailable: the performance section is drawn uncached")
        html = None
    if html is not None:
        return mark_safe(html)  # our own rendering, as it was cached
    # Drawn without the request: nothing of the request or the user may end up in the cache.
    html = render_to_string(SECTION_TEMPLATE, performance_context(account, key, today))
    try:
        cache.set(cache_key, str(html), _SECTION_SECONDS)
    except RedisError:
        logger.warning("cache unavailable: the performance section is not kept")
    return html


@login_required
@require_GET
def performance_chart(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    if not request.htmx:
        url = reverse("account_detail", args=[account.pk])
        return redirect(f"{url}?range={request.GET.get('range', DEFAULT_RANGE)}#performance")
    return HttpResponse(performance_section(request, account))


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
