"""The basket's rows, drawn in Python.

The basket is drawn again after every tap on the till, and as template tags
each of its rows (two forms, a CSRF token each, a dozen lookups) cost about as
much to render as the rest of the basket together. Here a row is one string
format: the same markup, the same escaping (``html.escape``, which Django's
own ``escape`` uses).
"""

from __future__ import annotations

from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from pos.services.money import format_money

register = template.Library()

_ROW = """      <tr class="line">
        <td class="qty">
          <form method="post" action="{url}" class="inline" data-basket>{csrf}
            <input type="hidden" name="quantity" value="{less}"><input type="hidden" name="next" value="{here}">
            <button class="small" aria-label="One less {name}">−</button></form>
          <span>{quantity}</span>
          <form method="post" action="{url}" class="inline" data-basket>{csrf}
            <input type="hidden" name="quantity" value="{more}"><input type="hidden" name="next" value="{here}">
            <button class="small" aria-label="One more {name}">+</button></form>
        </td>
        <td class="desc">{name}</td>
        <td class="amount">{amount}</td>
        <td class="void-cell"><a class="button small void-line" href="?void_line={pk}" aria-label="Void {name}" \
title="Void this line (manager)">✕</a></td>
      </tr>
"""


@register.simple_tag(takes_context=True)
def basket_rows(context, lines, here: str, symbol: str) -> SafeString:
    """Return the ``<tr>`` of each order line: quantity − and + (each a form), name, amount, void."""
    token = context.get("csrf_token")
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'
        if token and str(token) != "NOTPROVIDED"
        else ""
    )
    here = escape(str(here))
    rows = []
    for line in lines:
        rows.append(
            _ROW.format(
                url=escape(reverse("pos:quantity", args=[line.pk])),
                csrf=csrf,
                less=line.quantity - 1,
                more=line.quantity + 1,
                here=here,
                name=escape(str(line.product_name)),
                quantity=line.quantity,
                amount=escape(format_money(int(line.line_total_minor or 0), symbol)),
                pk=int(line.pk),
            )
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped or an int
