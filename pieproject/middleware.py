"""Refuse NUL characters in any query parameter or form field, before a view runs.

PostgreSQL text cannot hold a NUL, and no person types one: a request carrying one is a 400
with a clear message (JSON under ``/api/``, a page elsewhere), never a database error or a
search for it. The API's JSON bodies are checked by its parser (``trading.renderers``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render

NUL = "\x00"
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."


def _has_nul(data: QueryDict) -> bool:
    return any(NUL in key or any(NUL in value for value in data.getlist(key)) for key in data)


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        # Form bodies only (request.POST is empty for JSON): the API reads its own.
        if _has_nul(request.GET) or (
            not api and request.method == "POST" and _has_nul(request.POST)
        ):
            if api:
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return render(request, "bad_input.html", {"message": NUL_MESSAGE}, status=400)
        return self.get_response(request)
