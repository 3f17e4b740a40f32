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

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


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


def parse_money(text: str) -> int:
    """Return minor units for a typed amount like ``12.5`` or ``£12.50``.

    Raises ``ValueError`` for anything that is not a non-negative amount with
    at most two decimals.
    """
    cleaned = text.strip().lstrip("£$€").replace(",", "")
    if not cleaned:
        raise ValueError("Enter an amount.")
    try:
        value = Decimal(cleaned)
    except ArithmeticError as err:
        raise ValueError(f"{text!r} is not an amount.") from err
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{text!r} is not an amount.")
    return int(value * 100)
