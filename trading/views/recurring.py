"""Recurring deposits: the list with a form for a new one, edit, pause or resume, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from pieproject.htmx import HtmxHttpRequest, redirect_to, render_page
from trading import services
from trading.access import get_account_for_user
from trading.forms import RecurringDepositForm
from trading.models import Account, RecurringDeposit
from trading.views.common import form_error_for

FIELDS = ("amount", "frequency", "day", "start_date", "end_date")


def _schedule(request: HtmxHttpRequest, pk: int, schedule_id: int) -> RecurringDeposit:
    account = get_account_for_user(request, pk)
    return get_object_or_404(RecurringDeposit, account=account, pk=schedule_id)


def _back(request: HtmxHttpRequest, account: Account) -> HttpResponse:
    return redirect_to(request, reverse("recurring", args=[account.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def recurring(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    form = RecurringDepositForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.create_schedule(account=account, **form.cleaned_data)
        except services.IntentError as error:
            form_error_for(form, error)
        else:
            messages.success(request, "Recurring deposit scheduled.")
            return _back(request, account)
    context = {
        "account": account,
        "form": form,
        "schedules": RecurringDeposit.objects.filter(account=account),
    }
    status = 400 if request.method == "POST" else 200
    return render_page(request, "trading/recurring.html", context, partial="new", status=status)


@login_required
@require_http_methods(["GET", "POST"])
def recurring_edit(request: HtmxHttpRequest, pk: int, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, pk, schedule_id)
    initial: dict[str, Any] = {name: getattr(schedule, name) for name in FIELDS}
    form = RecurringDepositForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_schedule(schedule=schedule, **form.cleaned_data)
        except services.IntentError as error:
            form_error_for(form, error)
        else:
            messages.success(request, "Recurring deposit saved.")
            return _back(request, schedule.account)
    context = {"account": schedule.account, "schedule": schedule, "form": form}
    status = 400 if request.method == "POST" else 200
    return render_page(
        request, "trading/recurring_edit.html", context, partial="edit", status=status
    )


@login_required
@require_POST
def recurring_pause(request: HtmxHttpRequest, pk: int, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, pk, schedule_id)
    if request.POST.get("paused") == "false":
        services.resume_schedule(schedule=schedule)
        messages.success(request, "Recurring deposit resumed: dates missed meanwhile are skipped.")
    else:
        services.pause_schedule(schedule=schedule)
        messages.success(request, "Recurring deposit paused.")
    return _back(request, schedule.account)


@login_required
@require_POST
def recurring_delete(request: HtmxHttpRequest, pk: int, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, pk, schedule_id)
    services.delete_schedule(schedule=schedule)
    messages.success(request, "Recurring deposit deleted. Deposits it already queued stay pending.")
    return _back(request, schedule.account)
