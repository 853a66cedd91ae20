"""API error shape: 400 {field: [msg]} or {detail}; never a 500 for bad input.

Every error under ``/api/`` is JSON: DRF answers the errors its views raise; Django's own
error handlers (``handler404`` and friends in ``pieproject.urls``) answer the rest (an unknown
path outside ``/api/v1/``, a crash, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``) in the same
``{"detail": ...}`` shape for ``/api/`` paths and with Django's HTML pages everywhere else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    return drf_exception_handler(exc, context)


def refuse_oversized_body(request: Request) -> None:
    """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 before anything reads it.

    Django checks that limit only in ``HttpRequest.body`` and form parsing; DRF's JSON parser
    reads the stream and would take a body of any size."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise exceptions.ParseError("Bad Content-Length.") from None
    if limit is not None and length > limit:
        raise PayloadTooLarge()


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(detail: str, status_code: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status_code)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return _json(PayloadTooLarge.default_detail, 413)
        return _json("Bad request.", 400)
    if isinstance(exception, RequestDataTooBig):
        response = defaults.bad_request(request, exception)
        response.status_code = 413
        return response
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json("You do not have permission to perform this action.", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json("Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return _json("Server error: it has been logged.", 500)
    return defaults.server_error(request)
