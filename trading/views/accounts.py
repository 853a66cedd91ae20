"""Sign up, the dashboard, opening an account, the account page, settings and API tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.authtoken.models import Token

from pieproject.htmx import HtmxHttpRequest, redirect_to, render_page
from pies.services import AccountLimitError, open_account
from pies.tree import load_portfolio
from trading.access import get_account_for_user, signed_in_user
from trading.calendar import WindowSlot
from trading.forms import AccountSettingsForm, SignupForm
from trading.models import USER_ACCOUNT_KINDS, Account, AccountKind, Intent, RecurringDeposit
from trading.money import ZERO
from trading.valuation import invested_values, market_changes
from trading.views.common import window_of
from trading.views.performance import performance_section

# --- log in, sign up and the dashboard -------------------------------------------------------

# Who sees the Operations link and lands on /ops/: staff who may look at trade windows.
OPERATIONS_PERMISSION = "trading.view_tradewindow"


class LoginView(auth_views.LoginView):
    """Django's login; staff who run the installation and hold no account of their own land
    on the operations page instead of an empty dashboard (a ``next`` still wins)."""

    def get_default_redirect_url(self) -> str:
        user = self.request.user
        if (
            user.is_staff
            and user.has_perm(OPERATIONS_PERMISSION)
            and not Account.objects.for_user(user).investor().exists()
        ):
            return reverse("ops:index")
        return super().get_default_redirect_url()


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
    recurring: list[RecurringDeposit] = field(default_factory=list)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    accounts = list(Account.objects.for_user(request.user).investor())
    ids = [a.pk for a in accounts]
    invested = invested_values(ids, now)
    changes = market_changes(ids, now)
    pending: dict[int, list[Intent]] = {}
    for intent in Intent.objects.pending().filter(account_id__in=ids).described():
        pending.setdefault(intent.account_id, []).append(intent)
    recurring: dict[int, list[RecurringDeposit]] = {}
    for schedule in RecurringDeposit.objects.filter(account_id__in=ids):
        recurring.setdefault(schedule.account_id, []).append(schedule)
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
                recurring=recurring.get(account.pk, []),
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
        account = open_account(user=signed_in_user(request), kind=kind)
    except AccountLimitError as error:
        messages.error(request, str(error))
        return redirect("dashboard")
    messages.success(request, f"Your {account.display_name} account is open.")
    return redirect("account_detail", pk=account.pk)


# --- the account page ------------------------------------------------------------------------


@login_required
@require_GET
def account_detail(request: HtmxHttpRequest, pk: int, pie_id: int | None = None) -> HttpResponse:
    account = get_account_for_user(request, pk)
    portfolio = load_portfolio(account)
    pie = portfolio.root if pie_id is None else portfolio.find_pie(pie_id)
    if pie is None:
        raise Http404("No such pie in this account.")
    pending = Intent.objects.pending_of(account.pk)
    context = {
        "account": account,
        "portfolio": portfolio,
        "pie": pie,
        "breadcrumb": portfolio.breadcrumb(pie.id),
        "pending": pending,
        "recurring": RecurringDeposit.objects.of_account(account.pk),
        "window": window_of(account, portfolio.total_value),
        "donut_slices": [
            {
                "label": s.name,
                "actual_percent": s.actual_percent if pie.exact_value else None,
                "target_percent": s.target_percent,
                "drift_percent": s.drift_percent if pie.exact_value else None,
                "colour": s.colour,
                # A sub-pie's slice drills into it; a security's shows its activity.
                "url": reverse("account_pie", args=[account.pk, s.child.id])
                if s.child is not None
                else f"{reverse('activity', args=[account.pk])}?security={s.symbol}",
            }
            for s in pie.slices
        ],
        # The chart shows on the account's own page only.
        "performance_section": performance_section(request, account) if pie_id is None else "",
    }
    return render_page(request, "trading/account.html", context, partial="account-body")


# --- settings --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    form = AccountSettingsForm(request.POST or None, instance=account)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            return redirect_to(request, reverse("account_detail", args=[account.pk]))
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
    token = Token.objects.filter(user=signed_in_user(request)).first()
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
    user = signed_in_user(request)
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    request.session["new_token"] = token.key
    messages.success(request, "New API token created. Copy it now: it replaces any older one.")
    return redirect("user_settings")


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    deleted, _ = Token.objects.filter(user=signed_in_user(request)).delete()
    if deleted:
        messages.success(request, "API token revoked: it no longer works.")
    return redirect("user_settings")
