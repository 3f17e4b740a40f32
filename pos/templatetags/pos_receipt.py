"""The receipt, drawn in Python.

The till's payment is answered with the receipt, so it is drawn once per
sale, and as template tags (a dozen filters, a date format, a loop per table)
it cost as much as the payment itself. Here it is a few string formats with
the same markup and the same escaping (``html.escape``, which Django's own
``escape`` uses). The refunds, shown only on a reprint after a refund, are
still a template (``pos/_receipt_refunds.html``).
"""

from __future__ import annotations

from html import escape

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from pos.services.money import format_money

register = template.Library()

_HEAD = """<article class="receipt" aria-label="Receipt">
  <header>
    <h1>{name}</h1>
    <p class="address">{address}</p>
    {vat_number}
    <p>Receipt #{pk} · {when}</p>
    <p>Served by {cashier}{table}</p>
  </header>
  <table>
{lines}    <tr class="grand"><td>Total</td><td class="amount" id="receipt-total">{total}</td></tr>
{payment}  </table>
  <table class="vat">
    <tr><th>VAT rate</th><th>Net</th><th>VAT</th><th>Gross</th></tr>
{vat}  </table>
  {refunds}
  <p class="status">Status: <span class="status-{status}">{status_display}</span></p>
  <footer>{footer}</footer>
</article>
"""


def _text(value: object) -> str:
    """A value as ``{{ value }}`` shows it: escaped, and nothing for None."""
    return "" if value is None else escape(str(value))


def _when(order) -> str:
    """``order.paid_at|default:order.created_at|date:"d/m/Y H:i"``: the local time of the sale."""
    moment = order.paid_at or order.created_at
    if moment is None:
        return ""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%d/%m/%Y %H:%M")


def _cashier(order) -> str:
    cashier = order.cashier
    return escape(cashier.get_full_name() or cashier.username) if cashier else ""


def _payment_rows(payment, money) -> str:
    if not payment:
        return ""
    shown = payment.tendered_minor if payment.tendered_minor is not None else payment.amount_minor
    rows = (
        f"    <tr><td>Paid by {escape(payment.get_method_display().lower())}</td>"
        f'<td class="amount">{money(shown)}</td></tr>\n'
    )
    if payment.method == "cash":
        rows += (
            '    <tr class="change"><td>Change</td><td class="amount" id="receipt-change">'
            f"{money(payment.change_minor)}</td></tr>\n"
        )
    return rows


def _rate(rate_bp: int) -> str:
    return f"{int(rate_bp) / 100:g}%"


@register.simple_tag(takes_context=True)
def receipt(context) -> SafeString:
    """Return the change-due banner (right after a cash payment) and the receipt of ``order``."""
    business, order = context.get("business"), context["order"]
    symbol = str((business.currency_symbol if business else "") or "£")

    def money(amount_minor: int | None) -> str:
        return escape(format_money(int(amount_minor or 0), symbol))

    change_due = context.get("change_due")
    banner = (
        '<div class="change-banner" role="status">Change due '
        f'<span id="change-due-banner">{money(change_due)}</span></div>\n'
        if change_due is not None
        else ""
    )
    vat_number = getattr(business, "vat_number", "")
    refunds = context.get("refunds")
    html = _HEAD.format(
        name=_text(getattr(business, "name", None)),
        address=linebreaksbr(getattr(business, "address", "") or ""),  # escapes, then <br> per line
        vat_number=f"<p>VAT No. {escape(vat_number)}</p>" if vat_number else "",
        pk=int(order.pk),
        when=_when(order),
        cashier=_cashier(order),
        table=f" · {escape(str(order.table.name))}" if order.table else "",
        lines="".join(
            f"    <tr><td>{int(line.quantity)} × {escape(str(line.product_name))}</td>"
            f'<td class="amount">{money(line.line_total_minor)}</td></tr>\n'
            for line in context.get("lines") or ()
        ),
        total=money(order.total_minor),
        payment=_payment_rows(context.get("payment"), money),
        vat="".join(
            f"    <tr><td>{_rate(rate_bp)}</td><td>{money(int(amounts['gross']) - int(amounts['vat']))}</td>"
            f"<td>{money(amounts['vat'])}</td><td>{money(amounts['gross'])}</td></tr>\n"
            for rate_bp, amounts in (context.get("vat_rates") or {}).items()
        ),
        refunds=(context.template.engine.get_template("pos/_receipt_refunds.html").render(context) if refunds else ""),
        status=_text(order.status),
        status_display=_text(order.get_status_display()),
        footer=_text(getattr(business, "receipt_footer", None)),
    )
    return mark_safe(banner + html)  # noqa: S308 - every value above is escaped or an int
