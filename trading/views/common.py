"""What the investor pages share: the partial-or-page renderer, the next window, form
plumbing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from trading import services
from trading.calendar import WindowSlot
from trading.forms import (
    new_idempotency_key,
)
from trading.models import (
    Account,
)
from trading.valuation import next_window_or_none

# --- helpers ---------------------------------------------------------------------------------


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str, status: int = 200
) -> HttpResponse:
    """The whole page, or only its inline partial for an htmx request."""
    if request.htmx:
        # htmx swaps only 2xx answers by default; the errors are in the partial anyway.
        return render(request, f"{template}#{partial}", context)
    return render(request, template, context, status=status)


def window_of(account: Account, value: Decimal, now: datetime | None = None) -> WindowSlot | None:
    """The next window ``account`` trades in, judged by a value the page already has."""
    return next_window_or_none(account, value, now or timezone.now())


def with_new_key(request: HttpRequest) -> Any:
    """The submitted data with a fresh idempotency key (after a conflict on the old one)."""
    data = request.POST.copy()
    data["idempotency_key"] = new_idempotency_key()
    return data


def live_preview(form: Any, url: str, target: str) -> None:
    """Typing an amount asks for the preview of the next window (htmx GET of the same page,
    which answers with the preview partial only); the form itself still posts normally."""
    form.fields["amount"].widget.attrs.update(
        {
            "hx-get": url,
            "hx-trigger": "input changed delay:300ms",
            "hx-target": target,
            "hx-swap": "outerHTML",
            "hx-include": "this",
        }
    )


def form_error_for(form: Any, error: services.IntentError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def queued(
    request: HttpRequest, account: Account, result: services.IntentResult, what: str
) -> HttpResponse:
    when = result.window
    text = f"{when.starts_at:%a %H:%M} ET" if when else "the next window"
    if result.created:
        messages.success(request, f"{what} queued for the {text} trade window.")
    else:
        messages.info(request, f"This {what.lower()} was already queued; nothing new was created.")
    url = reverse("account_detail", args=[account.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
