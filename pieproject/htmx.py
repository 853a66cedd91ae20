"""The htmx glue of both apps, written once: a request type that has ``htmx``, a redirect that
htmx follows as a full page load, and "the partial for htmx, the page otherwise".

Views that answer htmx take an ``HtmxHttpRequest`` (django-htmx's middleware sets
``request.htmx`` on every request; the type says so to mypy).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def redirect_to(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Go to ``url``: a plain redirect, or for htmx an ``HX-Redirect`` (htmx would follow a 302
    itself and swap the whole next page into the target)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def render_page(
    request: HtmxHttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only its inline partial (``{% partialdef partial inline %}``) for an
    htmx request. The partial answers 200 whatever ``status`` says: htmx swaps only 2xx
    answers by default, and the errors are in the partial anyway."""
    if request.htmx:
        return render(request, f"{template}#{partial}", context)
    return render(request, template, context, status=status)
