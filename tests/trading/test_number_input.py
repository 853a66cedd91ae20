# ruff: noqa: RUF001  (non-ASCII digits are what these tests feed in)
"""The one strict reading of amounts, targets and prices (api.md, Conventions;
``trading.money``), and the web forms' friendlier first step. Pure: no database."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.money import (
    NumberError,
    parse_amount,
    parse_decimal,
    parse_price,
    parse_target_bp,
    parse_whole,
)

API_AMOUNT = re.compile(r"[0-9]{1,16}(\.[0-9]{1,2})?")


@given(st.text(max_size=30))
def test_the_api_takes_exactly_the_published_pattern_and_nothing_else(text):
    """Any text either matches api.md's pattern (after trimming spaces) and reads as its own
    exact decimal, or is refused with a NumberError (never another exception)."""
    trimmed = text.strip(" ")
    try:
        value = parse_amount(text, allow_zero=True)
    except NumberError:
        assert not API_AMOUNT.fullmatch(trimmed)
    else:
        assert API_AMOUNT.fullmatch(trimmed)
        assert value == Decimal(trimmed)


@given(st.text(alphabet="0123456789.,$ -+_eE\t١²", max_size=24))
def test_the_friendly_reading_accepts_only_what_a_separator_rule_turns_into_the_strict_form(text):
    try:
        value = parse_amount(text, friendly=True, allow_zero=True)
    except NumberError:
        return
    plain = text.strip(" \t").removeprefix("$")
    if "," in plain:
        assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,2})?", plain)
    assert value == Decimal(plain.replace(",", ""))


@pytest.mark.parametrize(
    "text,value",
    [
        ("$1,000.50", "1000.50"),
        ("1,000", "1000.00"),
        ("$1000", "1000.00"),
        ("1,234,567.89", "1234567.89"),
        (" 25\t", "25.00"),
    ],
)
def test_the_web_forms_take_a_dollar_sign_and_well_placed_thousands_separators(text, value):
    assert parse_amount(text, friendly=True) == Decimal(value)
    with pytest.raises(NumberError):
        parse_amount(text)  # the API does not


@pytest.mark.parametrize(
    "text,message",
    [
        ("1,00", "every three digits"),
        ("1000,50", "every three digits"),
        ("12,3456", "every three digits"),
        ("$-5", "greater than zero"),
        ("$$5", "currency sign"),
        ("5$", "currency sign"),
        ("١,٠٠٠", "every three digits"),
    ],
)
def test_the_web_forms_still_refuse_the_rest(text, message):
    with pytest.raises(NumberError, match=re.escape(message)):
        parse_amount(text, friendly=True)


def test_a_minimum_cash_says_zero_or_more_not_greater_than_zero():
    for text in ("-5", "-0", "-0.00"):
        with pytest.raises(NumberError, match="must be zero or more"):
            parse_amount(text, allow_zero=True, friendly=True)
    assert parse_amount("0", allow_zero=True) == Decimal("0.00")


def test_json_numbers_are_read_by_their_decimal_text():
    assert parse_amount(Decimal("100.10")) == Decimal("100.10")
    assert parse_amount(7) == Decimal("7.00")
    for number in (Decimal("1E+3"), Decimal("-5"), Decimal("5.001"), -1, Decimal("NaN")):
        with pytest.raises(NumberError):
            parse_amount(number)
    for other in (True, None, [5], {"a": 5}):
        with pytest.raises(NumberError):
            parse_amount(other)


def test_integer_digits_are_limited_before_any_arithmetic():
    assert parse_amount("9" * 16 + ".99") == Decimal("9" * 16 + ".99")
    with pytest.raises(NumberError, match="at most 16 digits"):
        parse_amount("1" * 17)
    with pytest.raises(NumberError, match="at most 16 digits"):
        parse_amount("1" * 5000)
    with pytest.raises(NumberError, match=re.escape("at most 1,000,000.00")):
        parse_amount("1" * 27, maximum=Decimal("1000000.00"))


def test_targets_and_prices_share_the_reading_with_their_own_decimals_and_ranges():
    assert parse_target_bp("33.33") == 3333
    assert parse_target_bp("0") == 0
    assert parse_target_bp(Decimal("100.00")) == 10000
    for bad in ("٤٠", "4_0", "100.01", "-0", "33.333", "+40", "40."):
        with pytest.raises(NumberError):
            parse_target_bp(bad)
    assert parse_price("412.1200") == Decimal("412.1200")
    for bad in ("١٠", "0", "-0", "1.00001", "1e2", "1" * 15):
        with pytest.raises(NumberError):
            parse_price(bad)


def test_whole_numbers_are_ascii_digits_only():
    assert parse_whole("2026") == 2026
    assert parse_whole(12) == 12
    for bad in ("²", "١٢", "１２", "1_2", "12a", "", "-1", "+1", "1.0", None, True):
        with pytest.raises(NumberError):
            parse_whole(bad)
    assert "²".isdigit()  # why isdigit() is not used


def test_every_message_is_specific():
    cases = {
        "1_000": "without underscores",
        "١٠٠": "digits 0 to 9",
        "１００": "digits 0 to 9",
        "+5": "'+' sign",
        "5.": "both sides of the decimal point",
        ".5": "both sides of the decimal point",
        "5\t": "without spaces",
        "1e5": "exponent",
        "NaN": "finite",
        "1,000": "thousands separators",
        "abc": "like 100.00",
    }
    for text, message in cases.items():
        with pytest.raises(NumberError, match=re.escape(message)):
            parse_decimal(text, decimals=2)
