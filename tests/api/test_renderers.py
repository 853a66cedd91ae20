"""The API's JSON parser (numbers as Decimal, no NUL) and CSV renderer (safe cells)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rest_framework.exceptions import ParseError

from trading.renderers import CSVRenderer, DecimalJSONParser


def parse(text: str):
    return DecimalJSONParser().parse(io.BytesIO(text.encode()), "application/json", {})


def test_numbers_with_a_fraction_parse_as_exact_decimals():
    data = parse('{"a": 0.1, "b": 7, "c": [1.10]}')
    assert data == {"a": Decimal("0.1"), "b": 7, "c": [Decimal("1.10")]}
    assert isinstance(data["a"], Decimal) and str(data["c"][0]) == "1.10"


@pytest.mark.parametrize(
    "text",
    ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": "\\u0000"}', "[" * 100000, "{"],
)
def test_non_json_constants_nul_and_garbage_are_parse_errors(text):
    with pytest.raises(ParseError):
        parse(text)


def test_csv_cells_that_a_spreadsheet_would_execute_are_quoted():
    body = CSVRenderer().render(
        [{"a": "=HYPERLINK(1)", "b": "-1.00"}, {"a": "@x", "b": "-cmd"}],
        renderer_context={"csv_header": ["a", "b"]},
    )
    assert body.decode().splitlines() == ["a,b", "'=HYPERLINK(1),-1.00", "'@x,'-cmd"]
