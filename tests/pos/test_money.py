"""VAT and totals: integer minor units, VAT extracted per line, rounded half up."""

from __future__ import annotations

import re

import pytest

from pos.exceptions import InvalidInput
from pos.services.money import MAX_AMOUNT_MINOR, format_money, line_amounts, parse_money, vat_in_gross


@pytest.mark.parametrize(
    ("gross", "rate_bp", "vat"),
    [
        (120, 2000, 20),  # 1.20 at 20 %: exactly 0.20
        (100, 2000, 17),  # 16.67 → 17
        (340, 2000, 57),  # 56.67 → 57
        (105, 500, 5),  # 5.00 exactly at 5 %
        (63, 2000, 11),  # 10.5 → 11 (half up, not banker's 10)
        (3, 2000, 1),  # 0.5 → 1
        (999, 0, 0),  # zero-rated
        (0, 2000, 0),
    ],
)
def test_vat_is_extracted_from_the_gross_and_rounded_half_up(gross, rate_bp, vat):
    assert vat_in_gross(gross, rate_bp) == vat


def test_line_vat_is_computed_on_the_line_total_not_per_unit():
    # 3 × £0.21 at 20 %: per unit 0.035 → 0.04 × 3 = 0.12; on the line 0.105 → 0.11
    amounts = line_amounts(21, 3, 2000)
    assert (amounts.gross_minor, amounts.vat_minor, amounts.net_minor) == (63, 11, 52)


def test_multi_rate_basket_totals_add_up():
    lines = [line_amounts(340, 2, 2000), line_amounts(899, 1, 0), line_amounts(450, 3, 500)]
    total = sum(line.gross_minor for line in lines)
    vat = sum(line.vat_minor for line in lines)
    assert total == 680 + 899 + 1350 == 2929
    assert vat == 113 + 0 + 64 == 177
    assert format_money(total) == "£29.29"


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("12.5", 1250),
        ("£20", 2000),
        ("0.05", 5),
        ("9.50", 950),
        ("9,50", 950),  # the shop's decimal comma: £9.50, never £950
        ("9,5", 950),
        ("£ 9,50 ", 950),
        ("€7", 700),
        (",50", 50),
        ("0", 0),
        ("1000", 100000),
        ("1000000", MAX_AMOUNT_MINOR),
    ],
)
def test_typed_amounts_become_minor_units(text, minor):
    amount = parse_money(text)
    assert amount == minor and type(amount) is int


def test_the_shops_own_symbol_is_accepted():
    assert parse_money("kr 12,50", symbol="kr") == 1250


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Enter an amount."),
        ("£", "Enter an amount."),
        ("abc", "is not an amount"),
        ("-1", "is not an amount"),
        ("+1", "is not an amount"),
        ("nan", "is not an amount"),
        ("inf", "is not an amount"),
        ("1e999999", "is not an amount"),
        ("1e3", "is not an amount"),
        ("1 000", "is not an amount"),
        ("9.", "is not an amount"),
        ("٣", "is not an amount"),  # digits the till's keypad never types
        ("1.234", "at most two decimals"),
        ("1,234", "at most two decimals"),  # thousands or three decimals? refused, not guessed
        ("1,234.50", "one decimal point"),
        ("1.234,50", "one decimal point"),
        ("1,000.00", "one decimal point"),
        ("9" * 29, "up to £1,000,000.00"),
        ("1000000.01", "up to £1,000,000.00"),
    ],
)
def test_bad_amounts_are_refused_with_a_message(text, says):
    with pytest.raises(InvalidInput, match=re.escape(says)):
        parse_money(text)
    with pytest.raises(ValueError, match=re.escape(says)):  # still a ValueError for callers that catch that
        parse_money(text)


def test_a_long_entry_is_not_echoed_whole():
    with pytest.raises(InvalidInput) as err:
        parse_money("x" * 10_000)
    assert len(err.value.message) < 100


def test_money_formatting():
    assert format_money(123456) == "£1,234.56"
    assert format_money(-99) == "-£0.99"
    assert format_money(5, "€") == "€0.05"
