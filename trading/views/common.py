"""What the investor pages share: the next window, form plumbing, "queued" answers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib import messages
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone

from pieproject.htmx import HtmxHttpRequest, redirect_to
from trading import services
from trading.calendar import WindowSlot
from trading.forms import new_idempotency_key
from trading.models import Account
from trading.valuation import next_window_or_none


def window_of(account: Account, value: Decimal, now: datetime | None = None) -> WindowSlot | None:
    """The next window ``account`` trades in, judged by a value the page already has."""
    return next_window_or_none(account, value, now or timezone.now())


def with_new_key(request: HttpRequest) -> QueryDict:
    """The submitted data with a fresh idempotency key (after a conflict on the old one)."""
    data = request.POST.copy()
    data["idempotency_key"] = new_idempotency_key()
    return data


def form_error_for(form: BaseForm, error: services.IntentError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def queued(
    request: HtmxHttpRequest, account: Account, result: services.IntentResult, what: str
) -> HttpResponse:
    """Back to the account page, saying when the request will be served."""
    when = result.window
    text = f"{when.starts_at:%a %H:%M} ET" if when else "the next window"
    if result.created:
        messages.success(request, f"{what} queued for the {text} trade window.")
    else:
        messages.info(request, f"This {what.lower()} was already queued; nothing new was created.")
    return redirect_to(request, reverse("account_detail", args=[account.pk]))
