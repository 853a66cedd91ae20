"""The staff operations page (/ops/): the next window and what waits for it, the last
windows, the books and the queue; run an ad-hoc window, check the books."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from trading import calendar
from trading.models import TradeWindow, WindowStatus
from trading.ops import (
    LAST_WINDOWS,
    books_status,
    chunk_progress,
    last_tick,
    pending_by_kind,
    retry_window,
    window_summary,
    worker_alive,
)
from trading.tasks import confirm_window, run_now
from trading.window import CannotAbandon, abandon_window


def staff_with(*perms: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Staff holding every Django permission in ``perms``, as the admin and the API decide:
    anonymous visitors go to the login page; anyone else signed in gets a plain 403 (sending
    them to a login form they already passed would only confuse). ``is_staff`` alone gives
    nothing."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not (
                request.user.is_staff and request.user.has_perms(perms)
            ):
                raise PermissionDenied
            return staff_member_required(view)(request, *args, **kwargs)

        return wrapper

    return decorate


@staff_with("trading.view_tradewindow")
def ops_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    next_slot = calendar.next_window(now)
    windows = list(TradeWindow.objects.select_related("abandoned_by")[:LAST_WINDOWS])
    # Failed windows own their accounts until retried or abandoned: always listed here.
    windows += TradeWindow.objects.filter(status=WindowStatus.FAILED).exclude(
        pk__in=[window.pk for window in windows]
    )
    tick = last_tick()
    chunks = chunk_progress([window.pk for window in windows])
    context = {
        "title": "Operations",
        "now": now,
        "next_slot": next_slot,
        "market_tz": calendar.MARKET_TZ,
        "pending": pending_by_kind(),
        "windows": [(window, window_summary(window, chunks.get(window.pk))) for window in windows],
        "running": TradeWindow.objects.filter(status=WindowStatus.RUNNING).count(),
        "failed": TradeWindow.objects.filter(status=WindowStatus.FAILED).count(),
        "books": books_status(),
        "worker_alive": worker_alive(),
        "last_tick": tick,
        "tick_age": (now - tick).total_seconds() if tick else None,
        "can_run": request.user.has_perm("trading.run_window"),
        "can_retry": request.user.has_perm("trading.run_window"),
        "can_abandon": request.user.has_perm("trading.abandon_window"),
    }
    return render(request, "trading/ops.html", context)


@staff_with("trading.view_tradewindow", "trading.view_ledgerentry")
@require_POST
def check_books(request: HttpRequest) -> HttpResponse:
    status = books_status(refresh=True)
    if status["ok"]:
        messages.success(request, "The books balance.")
    else:
        messages.error(request, f"{len(status['violations'])} violation(s) in the books.")
    return redirect("ops:index")


@staff_with("trading.run_window")
@require_POST
def run_window_now(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("trading.change_tradewindow"):
        raise PermissionDenied
    outcome = run_now()
    messages.add_message(request, outcome.level, outcome.message)
    return redirect("ops:index")


@staff_with("trading.run_window")
@require_POST
def retry_window_now(request: HttpRequest, window_id: int) -> HttpResponse:
    window = get_object_or_404(TradeWindow, pk=window_id)
    if window.status != WindowStatus.FAILED:
        messages.warning(request, f"Window {window.pk} is {window.status}: only a failed one.")
        return redirect("ops:index")
    outcome = retry_window(window.pk)
    confirm_window(window.pk)
    messages.add_message(request, outcome.level, outcome.message)
    return redirect("ops:index")


@staff_with("trading.abandon_window")
@require_POST
def abandon_window_now(request: HttpRequest, window_id: int) -> HttpResponse:
    window = get_object_or_404(TradeWindow, pk=window_id)
    try:
        outcome = abandon_window(
            window_id=window.pk, reason=request.POST.get("reason", ""), user=request.user
        )
    except CannotAbandon as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, outcome.message)
    return redirect("ops:index")
