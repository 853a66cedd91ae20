"""Requests that wait for a trade window: deposit and withdraw (with live previews),
rebalance (with its tax impact) and cancel."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from pieproject.htmx import HtmxHttpRequest, redirect_to, render_page
from pies.tree import PortfolioView, load_portfolio
from trading import services
from trading.access import get_account_for_user
from trading.forms import DepositForm, RebalanceForm, WithdrawalForm
from trading.models import Account, Intent
from trading.money import parse_amount, parse_whole
from trading.ownership import AccountInWindow
from trading.views.common import form_error_for, queued, window_of, with_new_key

# --- cash flows ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def deposit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
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
            form_error_for(form, error)
        except services.IdempotencyConflict as error:
            form = DepositForm(with_new_key(request))
            form.is_valid()
            form.add_error(None, str(error))
        else:
            return queued(request, account, result, "Deposit")
    portfolio = load_portfolio(account)
    context = {
        "account": account,
        "form": form,
        "window": window_of(account, portfolio.total_value),
        "plan": _deposit_plan(account, portfolio, request),
        "has_slices": bool(portfolio.root.slices),
    }
    status = 400 if request.method == "POST" else 200
    partial = "deposit-form" if request.method == "POST" else "deposit-preview"
    return render_page(request, "trading/deposit.html", context, partial=partial, status=status)


def _typed(raw: str | None) -> str | Decimal | None:
    """An amount typed in a form, read the friendly way ("$1,000.50") for the previews; when
    it does not read, the service says why next to the field."""
    try:
        return parse_amount(raw, friendly=True) if raw else raw
    except ValueError:
        return raw


def _deposit_plan(
    account: Account, portfolio: PortfolioView, request: HttpRequest
) -> list[tuple[str, Decimal]]:
    raw = _typed(request.GET.get("amount") or request.POST.get("amount"))
    if not raw:
        return []
    try:
        return services.preview_deposit(account=account, amount=raw, view=portfolio)
    except services.IntentError:
        return []  # the form says what is wrong with the amount


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    form = WithdrawalForm(request.POST or None)
    status = 400 if request.method == "POST" else 200
    # Withdrawing everything sells every holding: like a rebalance, it is queued only after
    # a confirm step that shows the sales and the estimated tax.
    confirming = False
    if (
        request.method == "POST"
        and form.is_valid()
        and form.cleaned_data["withdraw_all"]
        and request.POST.get("confirmed") != "1"
    ):
        confirming, status = True, 200
    elif request.method == "POST" and form.is_valid():
        try:
            result = services.request_withdrawal(
                account=account,
                amount=form.cleaned_data["amount"],
                withdraw_all=form.cleaned_data["withdraw_all"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except services.IntentError as error:
            form_error_for(form, error)
        except AccountInWindow as busy:
            form.add_error(None, busy.message)  # the amount typed stays in the form
            status = 409
        except services.IdempotencyConflict as error:
            form = WithdrawalForm(with_new_key(request))
            form.is_valid()
            form.add_error(None, str(error))
        else:
            return queued(request, account, result, "Withdrawal")
    portfolio = load_portfolio(account)
    preview, preview_error = None, ""
    raw = _typed(request.GET.get("amount") or request.POST.get("amount"))
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
        "window": window_of(account, portfolio.total_value),
        "available": services.available_to_withdraw(account=account),
        "preview": preview,
        "preview_error": preview_error,
        "confirming": confirming,
    }
    partial = "withdraw-form" if request.method == "POST" else "withdraw-preview"
    return render_page(request, "trading/withdraw.html", context, partial=partial, status=status)


# --- rebalance -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def rebalance(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirm step with the planned orders and tax impact; POST: queue it."""
    account = get_account_for_user(request, pk)
    form = RebalanceForm(request.POST or None, initial={"pie": request.GET.get("pie") or None})
    status = 200
    if request.method == "POST":
        status = 400
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
            except AccountInWindow as busy:
                form.add_error(None, busy.message)
                status = 409
            else:
                return queued(request, account, result, "Rebalance")
    pie_raw = form.data.get("pie") if form.is_bound else request.GET.get("pie")
    try:
        pie_id = parse_whole(pie_raw) if pie_raw else None
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
        "window": window_of(account, portfolio.total_value),
        "breadcrumb": portfolio.breadcrumb(pie.id),
    }
    return render_page(
        request, "trading/rebalance.html", context, partial="rebalance-body", status=status
    )


@login_required
@require_POST
def intent_cancel(request: HtmxHttpRequest, pk: int, intent_id: int) -> HttpResponse:
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
    return redirect_to(request, url)
