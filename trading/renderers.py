"""Content handling for the API: strict JSON (numbers as Decimal), and a CSV renderer.

The JSON parser matters for money: a client that sends ``{"amount": 100.10}`` must get
100.10, not the nearest binary float, so numbers with a fraction are parsed as ``Decimal``
before any code sees them.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer

MAX_JSON_DEPTH = 64  # a pie 5 levels deep nests 16 containers; past 64 nothing is a pie
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's json accepts them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return data


def loads(text: str) -> Any:
    """JSON from people and programs we do not trust: every non-integer number a ``Decimal``
    (never a float), no NaN or Infinity, no key twice in one object (Python keeps the last one
    silently), at most ``MAX_JSON_DEPTH`` levels, no NUL in any string. ``ValueError`` says
    what is wrong; the API's parser and the web's pie import both read JSON here."""
    try:
        data = json.loads(
            text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_object
        )
    except RecursionError:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    problem = _problem(data)
    if problem:
        raise ValueError(problem)
    return data


def _problem(data: Any) -> str:
    """Too deep, or a NUL in a string (PostgreSQL text cannot store one, so it must be a 400
    here, not a database error later). Iterative: the data may nest deeply."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_MESSAGE
        elif isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                return f"nested more than {MAX_JSON_DEPTH} levels deep"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return ""


class DecimalJSONParser(JSONParser):
    """The API's parser (DEFAULT_PARSER_CLASSES): JSON read by ``loads``."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except LookupError:
            raise ParseError(f"Unknown charset {encoding!r}.") from None
        except ValueError as exc:  # UnicodeDecodeError is one
            raise ParseError(f"JSON parse error - {exc}.") from None
        try:
            return loads(text)
        except ValueError as exc:
            if str(exc) == NUL_MESSAGE:
                raise ParseError(NUL_MESSAGE) from None
            raise ParseError(f"JSON parse error - {exc}.") from None


def contains_nul(data: Any) -> bool:
    """Whether any string in ``data`` (a query string's keys and values) holds a NUL."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class CSVRenderer(BaseRenderer):
    """Rows (a list of flat dicts) as CSV with a header row; selected by ``?format=csv``.

    The view sets ``csv_header`` in the renderer context (``get_renderer_context``) so that an
    empty result still has its header. Error responses are not CSV: the view switches them back
    to JSON (``RealizedGainsView.finalize_response``).
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        renderer_context = renderer_context or {}
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        rows = data if isinstance(data, list) else []
        header = list(renderer_context.get("csv_header") or (rows[0].keys() if rows else []))
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in header])
        return out.getvalue().encode(self.charset)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets execute cells starting with these characters (CSV injection).
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
