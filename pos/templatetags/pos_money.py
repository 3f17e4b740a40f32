from django import template

from pos.services.money import format_money

register = template.Library()


@register.filter
def money(amount_minor: int | None, symbol: str = "£") -> str:
    """Render minor units as money: ``{{ order.total_minor|money:business.currency_symbol }}``."""
    return format_money(int(amount_minor or 0), symbol)


@register.filter
def rate(rate_bp: int | str) -> str:
    """Render a VAT rate in basis points as a percentage: 2000 → ``20%``."""
    return f"{int(rate_bp) / 100:g}%"


@register.filter
def split(text: str, sep: str = " ") -> list[str]:
    """Split a literal list in a template: ``{% for n in "500 1000"|split %}``."""
    return str(text).split(sep)


@register.filter
def sub(amount_minor: int | None, other_minor: int | None) -> int:
    """Subtract minor units in a template: ``{{ gross|sub:refunds|money }}``."""
    return int(amount_minor or 0) - int(other_minor or 0)
