"""Money arithmetic: integer minor units, VAT-inclusive prices.

The rounding rule (written down once, tested in tests/pos/test_money.py):

* A line's gross is ``unit price × quantity`` — exact, no rounding.
* A line's VAT is extracted from its gross: ``gross × rate / (10000 + rate)``
  with ``rate`` in basis points, rounded half up to the minor unit
  (HMRC allows rounding per line; half-up is the usual till rule).
* An order's total is the sum of its lines' gross; its VAT is the sum of the
  lines' VAT. Totals never re-round, so a receipt always adds up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pos.exceptions import InvalidInput


def vat_in_gross(gross_minor: int, rate_bp: int) -> int:
    """Return the VAT contained in a VAT-inclusive amount, rounded half up."""
    if rate_bp == 0 or gross_minor == 0:
        return 0
    exact = Decimal(gross_minor) * Decimal(rate_bp) / Decimal(10000 + rate_bp)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LineAmounts:
    gross_minor: int
    vat_minor: int

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.vat_minor


def line_amounts(unit_price_minor: int, quantity: int, rate_bp: int) -> LineAmounts:
    """Return the gross and VAT of one order line."""
    gross = unit_price_minor * quantity
    return LineAmounts(gross_minor=gross, vat_minor=vat_in_gross(gross, rate_bp))


def format_money(amount_minor: int, symbol: str = "£") -> str:
    """Return ``amount_minor`` as the till shows it, e.g. ``£12.50`` or ``-£0.99``."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{sign}{symbol}{whole:,}.{cents:02d}"


MAX_AMOUNT_MINOR = 100_000_000
"""The largest amount the till takes in one entry: £1,000,000.00 (any currency: 1,000,000 major units)."""

_AMOUNT_RE = re.compile(r"(?P<whole>[0-9]*)(?:[.,](?P<fraction>[0-9]{1,2}))?")
_SYMBOLS = "£$€¥"


def parse_money(text: str | None, symbol: str = "") -> int:
    """Return minor units for an amount typed at the till or in the back office.

    This is the one place typed money is read (docs/design.md: money is integer
    minor units, never float). The rules:

    * digits with at most one decimal separator, which may be ``.`` or ``,``
      (so ``9.50`` and ``9,50`` are both 950), and at most two decimals;
    * an optional currency symbol in front (``£9.50``) and spaces around;
    * no thousands separators, no signs, no exponents: ``1,234`` (three
      decimals), ``1,234.50`` (two separators), ``1 000``, ``-1``, ``1e3``,
      ``nan`` are refused, since each can be read two ways or none;
    * at most :data:`MAX_AMOUNT_MINOR` (£1,000,000.00).

    Raises :class:`pos.exceptions.InvalidInput` (a ``ValueError``) with a
    message for the cashier.
    """
    cleaned = (text or "").strip()
    for sign in (symbol, *_SYMBOLS):
        if sign and cleaned.startswith(sign):
            cleaned = cleaned[len(sign) :].strip()
            break
    if not cleaned:
        raise InvalidInput("Enter an amount.")
    shown = cleaned if len(cleaned) <= 20 else cleaned[:20] + "…"
    match = _AMOUNT_RE.fullmatch(cleaned)
    if match is None or not (match["whole"] or match["fraction"]):
        if cleaned.count(".") + cleaned.count(",") > 1:
            raise InvalidInput(f"“{shown}” is not an amount: use one decimal point and no thousands separators.")
        if re.fullmatch(r"[0-9]*[.,][0-9]{3,}", cleaned):
            raise InvalidInput(f"“{shown}” is not an amount: at most two decimals, no thousands separators.")
        raise InvalidInput(f"“{shown}” is not an amount. Type it like 9.50 or 9,50.")
    whole = match["whole"].lstrip("0")
    if len(whole) > len(str(MAX_AMOUNT_MINOR // 100)):
        raise InvalidInput(f"Enter an amount up to {format_money(MAX_AMOUNT_MINOR, symbol or '£')}.")
    amount = int(whole or "0") * 100 + int((match["fraction"] or "").ljust(2, "0"))
    if amount > MAX_AMOUNT_MINOR:
        raise InvalidInput(f"Enter an amount up to {format_money(MAX_AMOUNT_MINOR, symbol or '£')}.")
    return amount
