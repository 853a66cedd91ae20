"""The pie editor: edit the whole tree, validate as you type, save; search securities;
import and export the open pie format.

The rules of a valid pie live in ``pies.services`` (``validate_pie_tree`` for the dry run,
``save_pie_tree`` for the save): the editor only turns rows into a tree and the service's
errors back into messages next to the inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pieproject.htmx import HtmxHttpRequest, redirect_to, render_page
from pies import services
from pies.forms import EditorDataError, PieEditor, PieImportForm
from pies.tree import PortfolioView, load_portfolio
from trading.access import get_account_for_user
from trading.models import Account, Security
from trading.money import ZERO
from trading.ownership import AccountInWindow
from trading.services import IntentError, Preview, preview_removal

SEARCH_LIMIT = 10


def search_securities(query: str) -> list[Security]:
    query = query.strip()[:50]
    if not query:
        return []
    return list(
        Security.objects.filter(active=True)
        .filter(Q(symbol__istartswith=query) | Q(name__icontains=query))
        .order_by("symbol")[:SEARCH_LIMIT]
    )


def _render_editor(
    request: HtmxHttpRequest,
    account: Account,
    editor: PieEditor,
    portfolio: PortfolioView,
    *,
    status: int = 200,
) -> HttpResponse:
    editor.prepare(portfolio)
    context = {
        "account": account,
        "editor": editor,
        "rows": editor.ordered(),
        "results": search_securities(editor.query),
    }
    return render_page(request, "pies/editor.html", context, partial="pie-editor", status=status)


def _check(account: Account, editor: PieEditor) -> None:
    tree, paths = editor.tree()
    editor.apply_errors(services.validate_pie_tree(account=account, tree=tree), paths)


def _removal_previews(account: Account, editor: PieEditor) -> None:
    """The tax impact of the security slices this edit would sell (product.md: before a
    slice removal, the user sees the estimated sells and gains)."""
    for row in editor.rows:
        if row.will_be_sold and not row.is_pie and row.slice_id is not None:
            try:
                row.removal_preview = preview_removal(account=account, slice=row.slice_id)
            except IntentError:
                row.removal_preview = None


def _editor_from_request(request: HttpRequest, portfolio: PortfolioView) -> tuple[PieEditor, bool]:
    """The posted editor, or the stored pie with a message when the post cannot be read."""
    try:
        return PieEditor.from_post(request.POST, portfolio), True
    except EditorDataError:
        editor = PieEditor.from_portfolio(portfolio)
        editor.top_errors.append(
            "The form could not be read, so it shows the saved pie again. Nothing was saved."
        )
        return editor, False


@login_required
@require_http_methods(["GET", "POST"])
def pie_editor(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    portfolio = load_portfolio(account)
    if request.method == "GET":
        return _render_editor(request, account, PieEditor.from_portfolio(portfolio), portfolio)

    editor, readable = _editor_from_request(request, portfolio)
    op = request.POST.get("op", "")
    if not readable:
        return _render_editor(request, account, editor, portfolio, status=400)
    if op != "save":
        editor.apply(op)
        _check(account, editor)
        _removal_previews(account, editor)
        return _render_editor(request, account, editor, portfolio)

    _check(account, editor)
    if editor.has_errors:
        _removal_previews(account, editor)
        return _render_editor(request, account, editor, portfolio, status=400)
    tree, paths = editor.tree()
    try:
        services.save_pie_tree(account=account, tree=tree, version=editor.version)
    except services.StalePieVersion as conflict:
        # Keep everything the user typed; the next save is against the current version.
        editor.conflict = (
            "Someone else saved this pie while you were editing it (it is now at version "
            f"{conflict.current_version}). Your changes are still below and nothing was saved: "
            "check them, then save again to replace the other version."
        )
        editor.version = conflict.current_version
        return _render_editor(request, account, editor, portfolio, status=409)
    except AccountInWindow as busy:
        # Nothing saved, everything the user typed kept: saving again after the window works.
        editor.conflict = f"{busy.message} Your changes are still below; nothing was saved."
        return _render_editor(request, account, editor, portfolio, status=409)
    except services.PieValidationError as error:
        editor.apply_errors(error.errors, paths)
        return _render_editor(request, account, editor, portfolio, status=400)
    messages.success(request, "Pie saved. Trades happen at the next window.")
    return redirect_to(request, reverse("account_detail", args=[account.pk]))


@login_required
@require_POST
def pie_validate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """As-you-type validation: re-render the editor region with totals and errors."""
    account = get_account_for_user(request, pk)
    portfolio = load_portfolio(account)
    editor, readable = _editor_from_request(request, portfolio)
    if readable:
        _check(account, editor)
        _removal_previews(account, editor)
    if not request.htmx or not readable:
        return _render_editor(request, account, editor, portfolio)
    # Only the totals and messages, swapped out of band: the inputs the user is typing in
    # are never replaced, so no keystroke is lost to a late answer.
    editor.prepare(portfolio)
    context = {"account": account, "editor": editor, "rows": editor.ordered()}
    return render(request, "pies/_validate.html", context)


@login_required
@require_GET
def security_search(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    context = {"results": search_securities(query), "editor": {"query": query}}
    if request.htmx:
        return render(request, "pies/editor.html#search-results", context)
    return render(request, "pies/security_search.html", context)


@login_required
@require_GET
def pie_export(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    data = services.export_pie(account=account)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="pie-{account.pk}.json"'
    return response


@dataclass(frozen=True)
class ImportSale:
    """A held security an import would sell at the next window, with its estimated tax."""

    path: str
    quantity: Decimal
    preview: Preview | None


def _import_sales(account: Account, slice_ids: list[int]) -> list[ImportSale]:
    portfolio = load_portfolio(account)
    sales = []
    for view in portfolio.root.pies():
        for slice_ in view.slices:
            if slice_.id not in slice_ids:
                continue
            for leaf in slice_.leaves():  # a sub-pie that goes sells all it holds
                if leaf.quantity <= 0:
                    continue
                try:
                    preview: Preview | None = preview_removal(account=account, slice=leaf.id)
                except IntentError:
                    preview = None
                sales.append(ImportSale(leaf.path, leaf.quantity, preview))
    return sales


@login_required
@require_http_methods(["GET", "POST"])
def pie_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Import the open pie format. An import that would sell held slices is queued only after
    a confirm step with the sales and their estimated tax (like a rebalance)."""
    account = get_account_for_user(request, pk)
    portfolio = load_portfolio(account)
    form = PieImportForm(
        request.POST or None, request.FILES or None, initial={"version": portfolio.version}
    )
    status = 200
    sales: list[ImportSale] = []
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data, version = form.cleaned_data["parsed"], form.cleaned_data["version"]
            confirmed = request.POST.get("confirmed") == "1"
            try:
                if not confirmed:
                    sold = services.slices_an_import_would_sell(
                        account=account, data=data, version=version
                    )
                    sales = _import_sales(account, sold)
                if not sales:
                    services.import_pie(account=account, data=data, version=version)
            except services.StalePieVersion as conflict:
                form.add_error(
                    None,
                    "Someone else saved this pie since you opened this page (it is now at "
                    f"version {conflict.current_version}). Nothing was imported: import again "
                    "to replace it.",
                )
                bound = request.POST.copy()  # what the form was bound to
                bound["version"] = str(conflict.current_version)
                form.data = bound  # type: ignore[assignment]  # the bound data: see PieImportForm
                status = 409
            except AccountInWindow as busy:
                form.add_error(None, f"{busy.message} Nothing was imported.")
                status = 409
            except services.PieValidationError as error:
                for key, problems in error.errors.items():
                    for problem in problems:
                        form.add_error(None, f"{_readable_key(key)}{problem}")
            else:
                if not sales:
                    messages.success(request, "Pie imported. Trades happen at the next window.")
                    return redirect_to(request, reverse("account_detail", args=[account.pk]))
                status = 200
    context: dict[str, Any] = {
        "account": account,
        "form": form,
        "sales": sales,
        "sales_json": json.dumps(form.cleaned_data.get("parsed")) if sales else "",
        "short_term_gain": sum(
            (s.preview.short_term_gain for s in sales if s.preview is not None), ZERO
        ),
        "long_term_gain": sum(
            (s.preview.long_term_gain for s in sales if s.preview is not None), ZERO
        ),
    }
    return render_page(request, "pies/import.html", context, partial="import-form", status=status)


def _readable_key(key: str) -> str:
    if key in ("non_field_errors", "format"):
        return ""
    return f"{key}: "
