"""The investor pages: sign up, dashboard, account, cash flows, rebalance, activity, lots,
settings.

Short function views: load through ``get_account_for_user`` (404 for anyone else's account),
validate with a form, call a service, render or redirect. htmx requests get the page's inline
partial instead of the whole page.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractYear
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from rest_framework.authtoken.models import Token

from pies.services import AccountLimitError, open_account
from pies.tree import PortfolioView, load_portfolio
from trading import services
from trading.access import get_account_for_user
from trading.calendar import WindowSlot
from trading.forms import (
    AccountSettingsForm,
    DepositForm,
    RebalanceForm,
    SignupForm,
    WithdrawalForm,
    new_idempotency_key,
)
from trading.models import (
    USER_ACCOUNT_KINDS,
    Account,
    AccountKind,
    Disposal,
    Intent,
    LedgerEntry,
    Lot,
    Order,
)
from trading.money import ZERO
from trading.valuation import invested_values, market_changes, next_window_or_none

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


def _with_new_key(request: HttpRequest) -> Any:
    """The submitted data with a fresh idempotency key (after a conflict on the old one)."""
    data = request.POST.copy()
    data["idempotency_key"] = new_idempotency_key()
    return data


def _live_preview(form: Any, url: str, target: str) -> None:
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


def _form_error_for(form: Any, error: services.IntentError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


# --- sign up and the dashboard ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        open_account(user=user, kind=AccountKind.INDIVIDUAL)
        # Several authentication backends are configured (axes first): name the real one.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your individual account is open: build its pie next.")
        return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form})


@dataclass
class AccountSummary:
    account: Account
    invested: Decimal
    total: Decimal
    change: Decimal
    pending: list[Intent]
    window: WindowSlot | None


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    accounts = list(Account.objects.for_user(request.user).investor())
    ids = [a.pk for a in accounts]
    invested = invested_values(ids, now)
    changes = market_changes(ids, now)
    pending: dict[int, list[Intent]] = {}
    for intent in Intent.objects.pending().filter(account_id__in=ids).order_by("created_at"):
        pending.setdefault(intent.account_id, []).append(intent)
    summaries = []
    for account in accounts:
        total = account.cash + invested.get(account.pk, ZERO)
        summaries.append(
            AccountSummary(
                account=account,
                invested=invested.get(account.pk, ZERO),
                total=total,
                change=changes.get(account.pk, ZERO),
                pending=pending.get(account.pk, []),
                window=window_of(account, total, now),
            )
        )
    owned = {a.kind for a in accounts}
    can_open = [(kind, AccountKind(kind).label) for kind in USER_ACCOUNT_KINDS if kind not in owned]
    return render(
        request,
        "trading/dashboard.html",
        {
            "summaries": summaries,
            "can_open": can_open,
            "grand_total": sum((s.total for s in summaries), ZERO),
        },
    )


@login_required
@require_POST
def account_open(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    try:
        account = open_account(user=request.user, kind=kind)
    except AccountLimitError as error:
        messages.error(request, str(error))
        return redirect("dashboard")
    messages.success(request, f"Your {account.display_name} account is open.")
    return redirect("account_detail", pk=account.pk)


# --- the account page ------------------------------------------------------------------------


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int, pie_id: int | None = None) -> HttpResponse:
    account = get_account_for_user(request, pk)
    portfolio = load_portfolio(account)
    pie = portfolio.root if pie_id is None else portfolio.find_pie(pie_id)
    if pie is None:
        raise Http404("No such pie in this account.")
    pending = list(
        Intent.objects.pending()
        .filter(account=account)
        .select_related("pie")
        .order_by("created_at")
    )
    context = {
        "account": account,
        "portfolio": portfolio,
        "pie": pie,
        "breadcrumb": portfolio.breadcrumb(pie.id),
        "pending": pending,
        "window": window_of(account, portfolio.total_value),
        "donut_slices": [
            {
                "label": s.name,
                "actual_percent": s.actual_percent if pie.exact_value else None,
                "target_percent": s.target_percent,
                "drift_percent": s.drift_percent if pie.exact_value else None,
            }
            for s in pie.slices
        ],
    }
    return render_page(request, "trading/account.html", context, partial="account-body")


# --- cash flows ------------------------------------------------------------------------------


def _next_window(account: Account, portfolio: PortfolioView) -> WindowSlot | None:
    return window_of(account, portfolio.total_value)


@login_required
@require_http_methods(["GET", "POST"])
def deposit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    form = DepositForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.request_deposit(
                account=account,
                amount=form.cleaned_data["amount"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except services.IntentError as error:
            _form_error_for(form, error)
        except services.IdempotencyConflict as error:
            form = DepositForm(_with_new_key(request))
            form.is_valid()
            form.add_error(None, str(error))
        else:
            return _queued(request, account, result, "Deposit")
    portfolio = load_portfolio(account)
    _live_preview(form, reverse("deposit", args=[account.pk]), "#deposit-preview")
    context = {
        "account": account,
        "form": form,
        "window": _next_window(account, portfolio),
        "plan": _deposit_plan(account, portfolio, request),
        "has_slices": bool(portfolio.root.slices),
    }
    status = 400 if request.method == "POST" else 200
    partial = "deposit-form" if request.method == "POST" else "deposit-preview"
    return render_page(request, "trading/deposit.html", context, partial=partial, status=status)


def _deposit_plan(
    account: Account, portfolio: PortfolioView, request: HttpRequest
) -> list[tuple[str, Decimal]]:
    raw = request.GET.get("amount") or request.POST.get("amount")
    if not raw:
        return []
    try:
        return services.preview_deposit(account=account, amount=raw, view=portfolio)
    except services.IntentError:
        return []  # the form says what is wrong with the amount


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    form = WithdrawalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.request_withdrawal(
                account=account,
                amount=form.cleaned_data["amount"],
                withdraw_all=form.cleaned_data["withdraw_all"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except services.IntentError as error:
            _form_error_for(form, error)
        except services.IdempotencyConflict as error:
            form = WithdrawalForm(_with_new_key(request))
            form.is_valid()
            form.add_error(None, str(error))
        else:
            return _queued(request, account, result, "Withdrawal")
    portfolio = load_portfolio(account)
    _live_preview(form, reverse("withdraw", args=[account.pk]), "#withdraw-preview")
    form.fields["withdraw_all"].widget.attrs.update(
        {
            "hx-get": reverse("withdraw", args=[account.pk]),
            "hx-trigger": "change",
            "hx-target": "#withdraw-preview",
            "hx-swap": "outerHTML",
            "hx-include": "this",
        }
    )
    preview, preview_error = None, ""
    raw = request.GET.get("amount") or request.POST.get("amount")
    withdraw_all = bool(request.GET.get("withdraw_all") or request.POST.get("withdraw_all"))
    if raw or withdraw_all:
        try:
            preview = services.preview_withdrawal(
                account=account,
                amount=None if withdraw_all else raw,
                withdraw_all=withdraw_all,
            )
        except services.IntentError as error:
            preview_error = error.message
    context = {
        "account": account,
        "form": form,
        "portfolio": portfolio,
        "window": _next_window(account, portfolio),
        "available": services.available_to_withdraw(account=account),
        "preview": preview,
        "preview_error": preview_error,
    }
    status = 400 if request.method == "POST" else 200
    partial = "withdraw-form" if request.method == "POST" else "withdraw-preview"
    return render_page(request, "trading/withdraw.html", context, partial=partial, status=status)


def _queued(
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


# --- rebalance -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def rebalance(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirm step with the planned orders and tax impact; POST: queue it."""
    account = get_account_for_user(request, pk)
    form = RebalanceForm(request.POST or None, initial={"pie": request.GET.get("pie") or None})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.request_rebalance(
                    account=account,
                    pie=form.cleaned_data["pie"],
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except services.IntentError as error:
                form.add_error(None, error.message)
            except services.IdempotencyConflict as error:
                form.add_error(None, str(error))
            else:
                return _queued(request, account, result, "Rebalance")
        status = 400
    pie_raw = form.data.get("pie") if form.is_bound else request.GET.get("pie")
    try:
        pie_id = int(pie_raw) if pie_raw else None
    except ValueError:
        raise Http404("No such pie.") from None
    portfolio = load_portfolio(account)
    pie = portfolio.root if pie_id is None else portfolio.find_pie(pie_id)
    if pie is None:
        raise Http404("No such pie in this account.")
    try:
        preview = services.preview_rebalance(account=account, pie=pie.id)
    except services.IntentError as error:
        preview = None
        form.add_error(None, error.message)
    context = {
        "account": account,
        "pie": pie,
        "form": form,
        "preview": preview,
        "window": _next_window(account, portfolio),
        "breadcrumb": portfolio.breadcrumb(pie.id),
    }
    return render_page(
        request, "trading/rebalance.html", context, partial="rebalance-body", status=status
    )


@login_required
@require_POST
def intent_cancel(request: HttpRequest, pk: int, intent_id: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    intent = get_object_or_404(Intent, pk=intent_id, account=account)
    try:
        services.cancel_intent(intent=intent)
    except services.IntentNotCancellable as error:
        messages.error(request, f"It cannot be cancelled: {error}")
    else:
        messages.success(request, f"{intent.get_kind_display()} cancelled.")
    url = request.POST.get("next") or reverse("account_detail", args=[account.pk])
    if not url.startswith(f"/account/{account.pk}/"):
        url = reverse("account_detail", args=[account.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- activity, lots and gains ----------------------------------------------------------------


@login_required
@require_GET
def activity(request: HttpRequest, pk: int) -> HttpResponse:
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
    if not raw.isdigit() or not 1900 <= int(raw) <= 2999:
        raise Http404("No such year.")
    return int(raw)


@login_required
@require_GET
def lots(request: HttpRequest, pk: int) -> HttpResponse:
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
    disposals = Disposal.objects.filter(account=account).select_related("security")
    if year is not None:
        disposals = disposals.filter(sold_on__year=year)
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
    rows = Disposal.objects.filter(account=account).select_related("security")
    if year is not None:
        rows = rows.filter(sold_on__year=year)
    name = f"realized-gains-{account.pk}{f'-{year}' if year else ''}.csv"
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        ["symbol", "acquired_on", "sold_on", "quantity", "proceeds", "cost_basis", "gain", "term"]
    )
    for row in rows.order_by("sold_on", "id").iterator():
        writer.writerow(
            [
                row.security.symbol,
                row.acquired_on.isoformat(),
                row.sold_on.isoformat(),
                f"{row.quantity:.6f}",
                f"{row.proceeds:.2f}",
                f"{row.cost_basis:.2f}",
                f"{row.gain:.2f}",
                row.term,
            ]
        )
    return response


# --- settings --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    form = AccountSettingsForm(request.POST or None, instance=account)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            url = reverse("account_detail", args=[account.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        account.refresh_from_db()  # the failed form must not leave edited values on the object
    context = {"account": account, "form": form}
    status = 400 if request.method == "POST" else 200
    return render_page(
        request, "trading/account_settings.html", context, partial="settings-form", status=status
    )


@login_required
@require_GET
def user_settings(request: HttpRequest) -> HttpResponse:
    accounts = list(Account.objects.for_user(request.user).investor())
    token = Token.objects.filter(user=request.user).first()
    return render(
        request,
        "trading/user_settings.html",
        {"accounts": accounts, "token": token, "new_key": request.session.pop("new_token", None)},
    )


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    # DRF's Token model holds one token per user: "create" on an existing one regenerates it
    # (the old key stops working at once).
    Token.objects.filter(user=request.user).delete()
    token = Token.objects.create(user=request.user)
    request.session["new_token"] = token.key
    messages.success(request, "New API token created. Copy it now: it replaces any older one.")
    return redirect("user_settings")


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    deleted, _ = Token.objects.filter(user=request.user).delete()
    if deleted:
        messages.success(request, "API token revoked: it no longer works.")
    return redirect("user_settings")
