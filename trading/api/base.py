"""Plumbing of the REST API views of both apps: base views, ownership, input helpers.

Views are small: check the input with a per-endpoint serializer, load the account through
``account_for`` (someone else's account is a 404), call the same services as the web app,
and render with an output serializer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, generics, permissions, status
from rest_framework.metadata import SimpleMetadata
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pieproject.api_errors import refuse_oversized_body
from trading import serializers as s
from trading.access import get_account_for_user
from trading.models import Account
from trading.renderers import NUL_MESSAGE, CSVRenderer, DecimalJSONParser, contains_nul


def flat_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested DRF errors as api.md's flat {"field": ["message"]}, keyed by JSON path
    ("0.price"), the way the pie services key theirs."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(flat_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list) and detail and all(isinstance(m, str) for m in detail):
        return {prefix or "non_field_errors": [str(m) for m in detail]}
    if isinstance(detail, list):
        flat = {}
        for index, value in enumerate(detail):
            if value:
                flat.update(flat_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


T = TypeVar("T")


class BasicMetadata(SimpleMetadata):
    """OPTIONS: name, description and media types. The OpenAPI schema describes the fields
    (listing them here would need a serializer per method, and a view without one crashed)."""

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        return metadata

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class _Inputs(APIView):
    """JSON bodies with numbers as Decimal; no NUL characters anywhere in the input."""

    parser_classes = [DecimalJSONParser]
    # The stubs type this as an instance (or a settings path); DRF instantiates the class.
    metadata_class = BasicMetadata  # type: ignore[assignment]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_oversized_body(request)
        params = request.query_params
        if contains_nul([*params.keys(), *(v for key in params for v in params.getlist(key))]):
            raise exceptions.ParseError(NUL_MESSAGE)
        if contains_nul(request.headers.get("Idempotency-Key", "")):
            raise exceptions.ParseError(NUL_MESSAGE)


class PiesAPIView(_Inputs, APIView):
    """Every API view: JSON in (numbers as Decimal), JSON out."""


class PiesListView(_Inputs, generics.ListAPIView):
    def page_of(self, rows: QuerySet[Any, T] | Sequence[T]) -> list[T]:
        """One page of ``rows``, a queryset or a list (Django's Paginator takes any sequence;
        the stubs say a queryset). Every list here is paginated (DEFAULT_PAGINATION_CLASS),
        so there always is a page."""
        page = self.paginate_queryset(rows)  # type: ignore[arg-type]
        assert page is not None, "the API's list views need DEFAULT_PAGINATION_CLASS"
        return page


class JSONOrCSV(APIView):
    """Mixed into a view that answers JSON, or its rows as CSV under ``csv_header`` with
    ``?format=csv``. Errors are JSON whatever format was asked for: clients parse them the
    same way."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_header: Sequence[str] = ()

    def get_renderer_context(self) -> dict[str, Any]:
        return {**super().get_renderer_context(), "csv_header": list(self.csv_header)}

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        renderer = getattr(request, "accepted_renderer", None)
        if response.status_code >= 400 and renderer is not None and renderer.format == "csv":
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class StaffOnly(permissions.IsAdminUser):
    """Staff endpoints: 401 without credentials, 403 for a signed-in investor."""


class StaffPermissions(StaffOnly):
    """Staff who hold every Django permission the view names for the request's method, in
    ``staff_permissions = {"POST": ("trading.add_price", ...)}``: 401 without credentials,
    403 for anyone else, exactly as the admin decides. ``is_staff`` alone gives nothing; a
    method the view does not name is refused (a new method must say what it needs)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not super().has_permission(request, view):
            return False
        table: dict[str, tuple[str, ...]] = getattr(view, "staff_permissions", {})
        if not hasattr(view, str(request.method).lower()):
            return True  # a method the view does not take: its 405, not a 403
        if request.method == "OPTIONS":  # describing an endpoint: any of its rights will do
            return any(request.user.has_perms(needed) for needed in table.values())
        needed = table.get("GET" if request.method == "HEAD" else str(request.method))
        return needed is not None and request.user.has_perms(needed)


def account_for(request: Request, pk: int) -> Account:
    """The signed-in user's account ``pk``; anyone else's is a 404, exactly like a missing one.

    The same ownership rule as the web pages: one helper for both.
    """
    return get_account_for_user(request, pk)


def query(serializer_class: type[s.serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def body(serializer_class: type[s.serializers.Serializer], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": 255},
    OpenApiParameter.HEADER,
    description="Same key and body: the first result (200), nothing new. Another body: 409.",
)
ACCOUNT_ID = OpenApiParameter("account_id", int, OpenApiParameter.PATH, description="Account id.")
