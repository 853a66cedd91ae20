"""Content handling for the API: JSON numbers read as Decimal, and a CSV renderer.

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


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's json accepts them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON.")


class DecimalJSONParser(JSONParser):
    """JSON with every non-integer number as ``Decimal`` (never a float)."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            data = json.load(decoded, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, UnicodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            # Absurdly deep nesting must be a 400, not a crash.
            raise ParseError("JSON parse error - nested too deeply.") from None
        if contains_nul(data):
            raise ParseError(NUL_MESSAGE)
        return data


NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."


def contains_nul(data: Any) -> bool:
    """Whether any string in ``data`` holds a NUL: PostgreSQL text cannot store one, so it
    must be a 400 here rather than a database error later. Iterative: data may nest deeply."""
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
