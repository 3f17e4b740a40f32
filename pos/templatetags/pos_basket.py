"""The basket, drawn in Python.

The basket is drawn again after every tap on the till (the till's script
swaps it in), and as a template it cost more to render than the rest of the
request together: a dozen tags, four ``{% url %}`` reversals, a CSRF token
per form and two forms per row. Here it is a few string formats with the
same markup and the same escaping (``html.escape``, which Django's own
``escape`` uses). Only the manager-approval box, shown while voiding, is still
a template (``pos/_approval.html``): it is rare, and it calls ``managers``.

The till page draws the basket and the open orders with the tags
``{% basket %}`` and ``{% open_orders %}``; the answer to a basket action
(:func:`basket_fragment`) is drawn with the same functions, without the
template engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape

from django import template
from django.contrib import messages as django_messages
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from pos.links import till_url
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

_BASKET = """<aside class="basket" aria-label="Basket" data-here="{here}">
  <header class="basket-head">
    <h2 id="basket-title">{title}</h2>
    {park}
  </header>
  <form method="post" action="{table_url}" class="table-select" data-basket>
    {csrf}<input type="hidden" name="next" value="{here}">
    <label>Table
      <select name="table" aria-label="Table" data-submit-on-change>
        <option value="">— no table —</option>
        {table_options}
      </select>
    </label>
    <noscript><button class="small">Set</button></noscript>
  </form>
  <div class="lines-scroll">
  <table class="lines">
    <tbody>
{rows}    </tbody>
  </table>
  </div>
  <div class="basket-foot">
  <dl class="totals">
    <dt>VAT included</dt><dd id="order-vat">{vat}</dd>
    <dt class="grand">Total</dt><dd class="grand" id="order-total" data-minor="{total_minor}">{total}</dd>
  </dl>
  {foot}
  </div>
</aside>
"""

_PARK = """<form method="post" action="{url}" class="inline">{csrf}
      <button class="small" title="Keep this order open and start a new one">Park</button></form>"""

_NO_LINES = '      <tr><td class="hint" colspan="4">Tap a product or scan a barcode to start.</td></tr>\n'

_VOID_LINE = """<form method="post" action="{url}" class="approve-form" autocomplete="off" data-basket>
    {csrf}<input type="hidden" name="next" value="{here}">
    <h3>Void {quantity} × {name} ({amount})?</h3>
    <input name="reason" placeholder="Reason" aria-label="Void reason" required maxlength="200">
    {approval}
    <div class="pay-buttons"><a class="button" href="{here}">Cancel</a><button class="danger">Void line</button></div>
  </form>"""

_VOID_ORDER = """<form method="post" action="{url}" class="approve-form" autocomplete="off">
    {csrf}
    <h3>Void the whole order #{pk} ({total})?</h3>
    <input name="reason" placeholder="Reason" aria-label="Void reason" maxlength="200">
    {approval}
    <div class="pay-buttons"><a class="button" href="/">Cancel</a><button class="danger">Void order</button></div>
  </form>"""

_PAY = """<form method="post" action="{url}" class="pay" autocomplete="off" data-basket>
    {csrf}
    <div class="tender-row">
      <label for="tendered">Cash tendered</label>
      <input id="tendered" name="tendered" inputmode="decimal" placeholder="0.00">
      <output id="change-due" class="change-due" aria-live="polite"></output>
    </div>
    <div class="quick-cash">
      <button name="quick" value="exact">Exact</button>
      {quick}
    </div>
    <div class="pay-buttons">
      <button name="method" value="cash" class="primary">Pay cash</button>
      <button name="method" value="card" class="primary">Pay card</button>
    </div>
  </form>
  <a class="button small danger void-order" href="?void=order">Void order…</a>"""


def _csrf_input(token: object) -> str:
    """Return the hidden CSRF field, as ``{% csrf_token %}`` writes it (nothing without a token)."""
    if not token or str(token) == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'


def _money(amount_minor: int | None, symbol: str) -> str:
    return escape(format_money(int(amount_minor or 0), symbol))


def _rows(lines, here: str, symbol: str, csrf: str) -> str:
    """Return the ``<tr>`` of each order line: quantity − and + (each a form), name, amount, void."""
    return "".join(
        _ROW.format(
            url=escape(till_url("pos:quantity", line.pk)),
            csrf=csrf,
            less=line.quantity - 1,
            more=line.quantity + 1,
            here=here,
            name=escape(str(line.product_name)),
            quantity=line.quantity,
            amount=_money(line.line_total_minor, symbol),
            pk=int(line.pk),
        )
        for line in lines
    )


def _title(order, pending_table) -> str:
    if order:
        table = order.table
        return f"Order #{int(order.pk)}" + (f" · {escape(str(table.name))}" if table else "")
    if pending_table:
        return f"{escape(str(pending_table.name))} · new tab"
    return "New order"


def _foot(context: Mapping, approval: Callable[[], str], order, lines, here: str, symbol: str, csrf: str) -> str:
    """Return what sits under the totals: a void's approval box, or the payment form, or nothing."""
    line_to_void = context.get("line_to_void")
    if line_to_void:
        return _VOID_LINE.format(
            url=escape(till_url("pos:void_line", line_to_void.pk)),
            csrf=csrf,
            here=here,
            quantity=int(line_to_void.quantity),
            name=escape(str(line_to_void.product_name)),
            amount=_money(line_to_void.line_total_minor, symbol),
            approval=approval(),
        )
    if context.get("confirm_void"):
        return _VOID_ORDER.format(
            url=escape(till_url("pos:void")),
            csrf=csrf,
            pk=int(order.pk) if order else "",
            total=_money(order.total_minor if order else 0, symbol),
            approval=approval(),
        )
    if lines:
        quick = "".join(
            f'<button name="quick" value="{int(note)}"{" disabled" if too_small else ""}>'
            f"{_money(note, symbol)}</button>"
            for note, too_small in context.get("quick_cash") or ()
        )
        return _PAY.format(url=escape(till_url("pos:pay")), csrf=csrf, quick=quick)
    return ""


def _symbol(context: Mapping) -> str:
    """``business.currency_symbol|default:"£"``."""
    business = context.get("business")
    return str((business.currency_symbol if business else "") or "£")


def render_basket(context: Mapping, csrf_token: object, approval: Callable[[], str]) -> str:
    """Return the basket (the right-hand side of the till) for the context ``_basket_context`` gives.

    ``approval`` draws the manager-approval box, asked for only while voiding.
    """
    symbol = _symbol(context)
    order, lines = context.get("order"), context.get("lines")
    here = escape(str(context.get("here", "")))
    csrf = _csrf_input(csrf_token)
    html = _BASKET.format(
        here=here,
        title=_title(order, context.get("pending_table")),
        park=_PARK.format(url=escape(till_url("pos:park")), csrf=csrf) if order else "",
        table_url=escape(till_url("pos:table")),
        csrf=csrf,
        table_options=conditional_escape(context.get("table_options", "")),  # built (escaped) by the view
        rows=_rows(lines, here, symbol, csrf) if lines else _NO_LINES,
        vat=_money(order.vat_minor if order else 0, symbol),
        total_minor=int((order.total_minor if order else 0) or 0),
        total=_money(order.total_minor if order else 0, symbol),
        foot=_foot(context, approval, order, lines, here, symbol, csrf),
    )
    return html  # every value above is escaped, an int, or built escaped by the view


_CHIP = """    <form method="post" action="{url}" class="inline">{csrf}
      <input type="hidden" name="order" value="{pk}">
      <button class="chip" data-order="{pk}">#{pk} · {label} · {total}</button>
    </form>
"""


_NONE_PARKED = '    <span class="hint">none parked</span>'


def _chip_label(order) -> str:
    """The table's name, or who opened the order and when (``first_name|default:username`` ``H:i``)."""
    if order.table:
        return escape(str(order.table.name))
    cashier = order.cashier
    when = order.created_at
    if when is not None and timezone.is_aware(when):
        when = timezone.localtime(when)
    return f"{escape(str(cashier.first_name or cashier.username))} {when.strftime('%H:%M') if when else ''}"


def render_open_orders(context: Mapping, csrf_token: object) -> str:
    """Return the chips of the other open orders (parked and table tabs), each a form that resumes it."""
    symbol, found = _symbol(context), context.get("open_orders") or []
    csrf = _csrf_input(csrf_token)
    chips = "".join(
        _CHIP.format(
            url=escape(till_url("pos:resume")),
            csrf=csrf,
            pk=int(order.pk),
            label=_chip_label(order),
            total=_money(order.total_minor, symbol),
        )
        for order in found
    )
    count = f" ({len(found)})" if found else ""
    return (
        '  <nav class="open-orders" aria-label="Open orders">\n'
        f'    <span class="label">Open orders{count}:</span>\n'
        f"{chips or _NONE_PARKED}\n"
        "  </nav>\n"
    )


def _approval_in(context) -> Callable[[], str]:
    """Draw ``pos/_approval.html`` in the template context the tag was called in."""
    return lambda: context.template.engine.get_template("pos/_approval.html").render(context)


@register.simple_tag(takes_context=True)
def basket(context) -> SafeString:
    """``{% basket %}``: the basket on the till page (:func:`render_basket`)."""
    html = render_basket(context, context.get("csrf_token"), _approval_in(context))
    return mark_safe(html)  # noqa: S308 - escaped where it is built


@register.simple_tag(takes_context=True)
def open_orders(context) -> SafeString:
    """``{% open_orders %}``: the open orders above the products (:func:`render_open_orders`)."""
    return mark_safe(render_open_orders(context, context.get("csrf_token")))  # noqa: S308 - escaped where built


def basket_fragment(request: HttpRequest, context: Mapping) -> str:
    """Return what a basket action answers to the till's script: the messages, the open orders, the basket.

    The same markup as the till page's, drawn without the template engine (no
    context processors, no template nodes): it is the answer to every tap.
    """
    items = "".join(
        f'<li class="msg-{conditional_escape(str(message.tags))}">{conditional_escape(str(message))}</li>'
        for message in django_messages.get_messages(request)
    )
    token = get_token(request)

    def approval() -> str:
        return render_to_string("pos/_approval.html", dict(context), request=request)

    return (
        f'<ul class="messages" role="status">{items}</ul>\n'
        f"{render_open_orders(context, token)}"
        f"{render_basket(context, token, approval)}"
    )
