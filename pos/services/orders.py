"""Ringing up a sale: open an order, add lines, take payment, void, refund.

Each function owns its transaction. Lines snapshot the product's name, price
and VAT rate (rules in :mod:`pos.services.money`). An order's totals are the
sums of its lines' gross and VAT, never re-rounded; so a change to one line
changes the totals by exactly that line's change, and they are updated by that
difference (:func:`_add_to_totals`) instead of summing every line again
(:func:`recalculate`, kept to check and to repair).
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum, prefetch_related_objects
from django.utils import timezone

from pos.exceptions import InvalidInput, OrderClosedError, PaymentError, PosError
from pos.models import LineVoid, Order, OrderLine, Payment, Product, Refund, RefundLine, Table
from pos.services.money import MAX_AMOUNT_MINOR, format_money, line_amounts
from pos.services.prepared import Prepared, insert, update

MAX_QUANTITY = 999
"""The most of one item a line can hold: more is a typing slip, not a sale."""
MAX_REASON_LENGTH: int = Order._meta.get_field("void_reason").max_length or 200
MAX_ID = 2**63 - 1

# What the till reads on every tap, compiled once per thread (pos.services.prepared).
_OPEN_ORDER = Prepared(
    lambda pk: Order.objects.select_related("table").filter(pk=pk, status=Order.Status.OPEN).order_by(), pk=int
)
_ORDER_FOR_RECEIPT = Prepared(
    lambda pk: Order.objects.select_related("cashier", "table").filter(pk=pk).order_by(), pk=int
)
_LINES = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id).order_by("pk"), order_id=int)
_FIRST_PAYMENT = Prepared(lambda order_id: Payment.objects.filter(order_id=order_id).order_by("pk")[:1], order_id=int)
_REFUNDS = Prepared(
    lambda order_id: Refund.objects.filter(order_id=order_id).select_related("approved_by"), order_id=int
)
_TO_PAY = Prepared(  # the order, read again under the write lock, and whether it has any line
    lambda pk: (
        Order.objects.select_for_update()
        .filter(pk=pk)
        .order_by()
        .annotate(has_lines=Exists(OrderLine.objects.filter(order_id=OuterRef("pk"))))
    ),
    pk=int,
)


def parse_quantity(text: str | None) -> int:
    """Return a line quantity typed or posted at the till: a whole number from 0 (remove) to MAX_QUANTITY."""
    cleaned = (text or "").strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned.lstrip("0")) > len(str(MAX_QUANTITY)):
        raise InvalidInput(f"Enter a whole number from 0 to {MAX_QUANTITY}.")
    quantity = int(cleaned)
    if quantity > MAX_QUANTITY:
        raise InvalidInput(f"Enter a whole number from 0 to {MAX_QUANTITY}.")
    return quantity


def _require_open(order: Order) -> None:
    if order.status != Order.Status.OPEN:
        raise OrderClosedError(f"Order #{order.pk} is already {order.get_status_display().lower()}.")


def recalculate(order: Order) -> None:
    """Set the order's totals to the sums of its lines (the full recomputation)."""
    totals = order.lines.aggregate(total=Sum("line_total_minor"), vat=Sum("vat_minor"))
    order.total_minor = totals["total"] or 0
    order.vat_minor = totals["vat"] or 0
    order.save(update_fields=["total_minor", "vat_minor"])


def _add_to_totals(order: Order, gross_minor: int, vat_minor: int) -> None:
    """Add one line's change (new amounts minus old) to the order's totals, in the database and on ``order``.

    Exact because the totals are plain sums of the lines (no re-rounding), and
    safe against another till changing the same order: the addition happens in
    the database, and the new totals are read back from it.
    """
    if not gross_minor and not vat_minor:
        return
    if connection.vendor in ("sqlite", "postgresql"):  # one statement: UPDATE … RETURNING
        quote = connection.ops.quote_name
        # concrete integer fields: their column is their name unless db_column says otherwise
        total_col, vat_col = (
            quote(getattr(Order._meta.get_field(n), "column", n)) for n in ("total_minor", "vat_minor")
        )
        table, pk = quote(Order._meta.db_table), quote(Order._meta.pk.column)
        # names from the model's own metadata, quoted; the values are parameters
        sql = f"UPDATE {table} SET {total_col} = {total_col} + %s, {vat_col} = {vat_col} + %s WHERE {pk} = %s"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} RETURNING {total_col}, {vat_col}", [gross_minor, vat_minor, order.pk])
            order.total_minor, order.vat_minor = cursor.fetchone()
    else:
        Order.objects.filter(pk=order.pk).update(
            total_minor=F("total_minor") + gross_minor, vat_minor=F("vat_minor") + vat_minor
        )
        order.refresh_from_db(fields=["total_minor", "vat_minor"])


def open_order(cashier, table: Table | None = None, now: datetime | None = None) -> Order:
    """Start a new, empty order for ``cashier``."""
    order = Order(cashier=cashier, table=table, created_at=now or timezone.now())
    insert(order)  # Order.objects.create(), its INSERT compiled once
    return order


def current_order(cashier) -> Order | None:
    """Return the cashier's most recent open order, if any."""
    return Order.objects.filter(cashier=cashier, status=Order.Status.OPEN).order_by("-created_at", "-pk").first()


def open_order_by_id(pk: int | None) -> Order | None:
    """Return the open order with this id (its table loaded), or None."""
    return _OPEN_ORDER.first(pk=pk) if pk and 0 < pk <= MAX_ID else None


def lines_of(order: Order) -> list[OrderLine]:
    """Return the order's lines, in the order they were rung up."""
    lines = _LINES.all(order_id=order.pk)
    for line in lines:
        OrderLine.order.field.set_cached_value(line, order)  # as order.lines.all() would
    return lines


def for_receipt(pk: int) -> Order | None:
    """Return the order with this id, its cashier and table loaded (any status), or None."""
    return _ORDER_FOR_RECEIPT.first(pk=pk) if 0 < pk <= MAX_ID else None


def first_payment(order: Order) -> Payment | None:
    return _FIRST_PAYMENT.first(order_id=order.pk)


def refunds_of(order: Order) -> list[Refund]:
    """Return the order's refunds, newest first, with their lines and who approved them."""
    refunds = _REFUNDS.all(order_id=order.pk)
    if refunds:
        prefetch_related_objects(refunds, "lines__order_line")
    return refunds


def _keep_related(order: Order, shown: Order) -> None:
    """Give ``order`` (read again) the table and cashier already loaded on ``shown``, the same order."""
    for field in (Order.table.field, Order.cashier.field):
        if field.is_cached(shown) and getattr(shown, field.attname) == getattr(order, field.attname):
            field.set_cached_value(order, field.get_cached_value(shown))


def add_product(order: Order, product: Product, quantity: int = 1) -> OrderLine:
    """Add ``quantity`` of ``product``; the same product at the same price adds to its line."""
    return _add(order, product, quantity)[0]


def add_to_basket(order: Order, product: Product, quantity: int = 1) -> list[OrderLine]:
    """Add like :func:`add_product`; return the order's lines as they now are (what the till shows next)."""
    return _add(order, product, quantity)[1]


@transaction.atomic
def _add(order: Order, product: Product, quantity: int) -> tuple[OrderLine, list[OrderLine]]:
    _require_open(order)
    if not product.active:
        raise PosError(f"{product.name} is not on sale.")
    if quantity < 1:
        raise PosError("Quantity must be at least 1.")
    # Match in Python among this order's few lines: a SQL filter on product_id
    # tempts SQLite into the product index, which spans every sale ever made.
    lines = lines_of(order)
    line = next(
        (ln for ln in lines if ln.product_id == product.pk and ln.unit_price_minor == product.price_minor),
        None,
    )
    if line is None:
        line = OrderLine(
            order=order,
            product=product,
            product_name=product.name,
            unit_price_minor=product.price_minor,
            vat_rate_bp=product.vat_rate.rate_bp,
            quantity=0,
        )
    if line.quantity + quantity > MAX_QUANTITY:
        raise InvalidInput(f"A line holds at most {MAX_QUANTITY} of an item.")
    before_gross, before_vat = line.line_total_minor, line.vat_minor
    line.quantity += quantity
    amounts = line_amounts(line.unit_price_minor, line.quantity, line.vat_rate_bp)
    line.line_total_minor, line.vat_minor = amounts.gross_minor, amounts.vat_minor
    if line.pk is None:
        insert(line)
    else:
        update(line, ("quantity", "line_total_minor", "vat_minor"))
    _add_to_totals(order, line.line_total_minor - before_gross, line.vat_minor - before_vat)
    return line, lines if line in lines else [*lines, line]


@transaction.atomic
def set_quantity(order: Order, line_id: int, quantity: int) -> None:
    """Change a line's quantity; zero removes the line.

    Setting a quantity is idempotent, so a double tap does no harm: removing a
    line that is already gone says so and changes nothing.
    """
    _require_open(order)
    if not 0 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"Enter a whole number from 0 to {MAX_QUANTITY}.")
    line = order.lines.filter(pk=line_id).first() if 0 < line_id < 2**63 else None
    if line is None:
        if quantity == 0:
            raise PosError("That item was already taken off the order.")
        raise PosError("That item is no longer on the order.")
    before_gross, before_vat = line.line_total_minor, line.vat_minor
    if quantity == 0:
        line.delete()
        _add_to_totals(order, -before_gross, -before_vat)
    else:
        amounts = line_amounts(line.unit_price_minor, quantity, line.vat_rate_bp)
        line.quantity, line.line_total_minor, line.vat_minor = quantity, amounts.gross_minor, amounts.vat_minor
        line.save()
        _add_to_totals(order, line.line_total_minor - before_gross, line.vat_minor - before_vat)


@transaction.atomic
def assign_table(order: Order, table: Table | None) -> None:
    _require_open(order)
    order.table = table
    order.save(update_fields=["table"])


@transaction.atomic
def pay(
    order: Order, method: str, *, taken_by, tendered_minor: int | None = None, now: datetime | None = None
) -> Payment:
    """Take full payment for the order and close it.

    Cash: ``tendered_minor`` must cover the total; the change is recorded.
    Card: the total is charged.
    """
    shown = order
    order = _TO_PAY.first(pk=order.pk) or Order.objects.select_for_update().get(pk=order.pk)  # get: DoesNotExist
    _require_open(order)
    if not order.has_lines:  # type: ignore[attr-defined]  # the annotation
        raise PaymentError("The basket is empty.")
    _keep_related(order, shown)
    symbol = _symbol()
    if method == Payment.Method.CASH:
        if tendered_minor is None:
            raise PaymentError("Enter the cash handed over.")
        if not 0 <= tendered_minor <= MAX_AMOUNT_MINOR:
            raise PaymentError(f"Enter an amount up to {format_money(MAX_AMOUNT_MINOR, symbol)}.")
        if tendered_minor < order.total_minor:
            raise PaymentError(
                f"Cash tendered {format_money(tendered_minor, symbol)} is less than the total "
                f"{format_money(order.total_minor, symbol)}."
            )
        change = tendered_minor - order.total_minor
    elif method == Payment.Method.CARD:
        tendered_minor, change = None, 0
    else:
        raise PaymentError("Choose cash or card.")
    now = now or timezone.now()
    payment = Payment(
        order=order,
        method=method,
        amount_minor=order.total_minor,
        tendered_minor=tendered_minor,
        change_minor=change,
        created_at=now,
        taken_by=taken_by,
    )
    insert(payment)
    order.status, order.paid_at = Order.Status.PAID, now
    update(order, ("status", "paid_at"))
    return payment


@transaction.atomic
def void_order(order: Order, by, reason: str = "", now: datetime | None = None) -> None:
    """Cancel an open order; it stays in the records as void."""
    _require_open(order)
    if len(reason.strip()) > MAX_REASON_LENGTH:
        raise InvalidInput(f"Keep the reason to {MAX_REASON_LENGTH} characters.")
    if not reason.isprintable():
        raise InvalidInput("Type the reason as plain text.")
    order.status, order.voided_by, order.voided_at = Order.Status.VOID, by, now or timezone.now()
    order.void_reason = reason.strip() or "Voided at the till"
    order.save(update_fields=["status", "voided_by", "voided_at", "void_reason"])


def _clean_reason(reason: str | None, *, required: str = "") -> str:
    """Return a typed reason, stripped; ``required`` is the message when it must not be empty."""
    reason = (reason or "").strip()
    if required and not reason:
        raise PosError(required)
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"Keep the reason to {MAX_REASON_LENGTH} characters.")
    if not reason.isprintable():
        raise InvalidInput("Type the reason as plain text.")
    return reason


def refunded_quantities(order: Order) -> dict[int, int]:
    """Return, per order line id, how many of it were already refunded."""
    rows = RefundLine.objects.filter(refund__order=order).values("order_line_id").annotate(n=Sum("quantity"))
    return {row["order_line_id"]: row["n"] or 0 for row in rows}


def refundable_lines(order: Order) -> list[tuple[OrderLine, int]]:
    """Return each line of the order with the quantity that can still be refunded."""
    done = refunded_quantities(order)
    return [(line, line.quantity - done.get(line.pk, 0)) for line in order.lines.all()]


@transaction.atomic
def refund_lines(
    order: Order,
    quantities: dict[int, int],
    *,
    method: str,
    reason: str,
    by,
    approved_by=None,
    now: datetime | None = None,
) -> Refund:
    """Refund some of a paid order's lines: ``quantities`` maps order line id to how many to give back.

    Amounts are exact: refunding a line in parts gives back, in total, exactly
    the line's gross and VAT (each part is the difference of the cumulative
    amounts). When nothing is left to refund the order becomes ``refunded``.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Order.Status.PAID:
        raise OrderClosedError(f"Only a paid order can be refunded; order #{order.pk} is {order.status}.")
    reason = _clean_reason(reason, required="Give a reason for the refund.")
    if method not in Payment.Method.values:
        raise PaymentError("Choose cash or card for the refund.")
    lines = {line.pk: line for line in order.lines.all()}
    done = refunded_quantities(order)
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise PosError("Choose what to refund: at least one item.")
    refund = Refund(
        order=order,
        amount_minor=0,
        vat_minor=0,
        method=method,
        reason=reason,
        refunded_by=by,
        approved_by=approved_by,
        created_at=now or timezone.now(),
    )
    parts: list[RefundLine] = []
    for line_id, qty in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise PosError("That item is not on this order.")
        before = done.get(line_id, 0)
        if not 0 < qty <= line.quantity - before:
            left = line.quantity - before
            raise InvalidInput(
                f"{line.product_name}: at most {left} can be refunded."
                if left
                else f"{line.product_name} was already refunded."
            )
        already = line_amounts(line.unit_price_minor, before, line.vat_rate_bp)
        after = line_amounts(line.unit_price_minor, before + qty, line.vat_rate_bp)
        part = RefundLine(
            order_line=line,
            quantity=qty,
            amount_minor=after.gross_minor - already.gross_minor,
            vat_minor=after.vat_minor - already.vat_minor,
        )
        refund.amount_minor += part.amount_minor
        refund.vat_minor += part.vat_minor
        done[line_id] = before + qty
        parts.append(part)
    refund.save()
    for part in parts:
        part.refund = refund
    RefundLine.objects.bulk_create(parts)
    if all(done.get(line.pk, 0) >= line.quantity for line in lines.values()):
        order.status = Order.Status.REFUNDED
        order.save(update_fields=["status"])
    return refund


def refund_order(
    order: Order, by, reason: str, now: datetime | None = None, *, method: str | None = None, approved_by=None
) -> Refund:
    """Refund everything not yet refunded on a paid order (by the method it was paid with, unless told)."""
    order = Order.objects.get(pk=order.pk)
    if order.status != Order.Status.PAID:
        raise OrderClosedError(f"Only a paid order can be refunded; order #{order.pk} is {order.status}.")
    _clean_reason(reason, required="Give a reason for the refund.")
    if method is None:
        payment = order.payments.first()
        method = payment.method if payment else Payment.Method.CASH
    remaining = {line.pk: left for line, left in refundable_lines(order) if left > 0}
    return refund_lines(order, remaining, method=method, reason=reason, by=by, approved_by=approved_by, now=now)


@transaction.atomic
def void_line(order: Order, line_id: int, *, by, approved_by, reason: str, now: datetime | None = None) -> LineVoid:
    """Take one whole line off an open order, keeping a record of it and of the manager who approved."""
    _require_open(order)
    reason = _clean_reason(reason, required="Give a reason for the void.")
    line = order.lines.filter(pk=line_id).first() if 0 < line_id < 2**63 else None
    if line is None:
        raise PosError("That item was already taken off the order.")
    record = LineVoid.objects.create(
        order=order,
        product_name=line.product_name,
        quantity=line.quantity,
        amount_minor=line.line_total_minor,
        reason=reason,
        requested_by=by,
        approved_by=approved_by,
        created_at=now or timezone.now(),
    )
    line.delete()
    _add_to_totals(order, -record.amount_minor, -line.vat_minor)
    return record


# --- several open orders: parked orders and table tabs -----------------------


def open_orders() -> QuerySet[Order]:
    """Return every open order that has something on it (parked orders and table tabs), oldest first."""
    return (
        Order.objects.filter(status=Order.Status.OPEN, lines__isnull=False)
        .distinct()
        .select_related("table", "cashier")
        .order_by("created_at", "pk")
    )


_OPEN_ORDERS = Prepared(open_orders)


def open_orders_list() -> list[Order]:
    """Return :func:`open_orders` as a list (a prepared query: the till shows them after every tap)."""
    return _OPEN_ORDERS.all()


def tab_for(table: Table) -> Order | None:
    """Return the table's open tab, if it has one."""
    return (
        Order.objects.filter(status=Order.Status.OPEN, table=table, lines__isnull=False)
        .order_by("created_at", "pk")
        .first()
    )


def discard_if_empty(order: Order | None) -> bool:
    """Delete an open order that has no lines (and no history): no empty orders left behind."""
    if order is None or order.pk is None:
        return False
    empty = Order.objects.filter(pk=order.pk, status=Order.Status.OPEN, lines__isnull=True)
    # every line voided with approval: the order stays in the records, as void
    empty.filter(line_voids__isnull=False).update(
        status=Order.Status.VOID, voided_at=timezone.now(), void_reason="Every item was voided"
    )
    deleted, _ = empty.filter(line_voids__isnull=True).delete()
    return bool(deleted)


def discard_empty_orders(cashier) -> int:
    """Delete the cashier's open orders that have nothing on them (left by an older version or a crash)."""
    empty = Order.objects.filter(cashier=cashier, status=Order.Status.OPEN, lines__isnull=True, line_voids__isnull=True)
    deleted, _ = empty.delete()
    return deleted


def find_by_code(code: str) -> Product | None:
    """Return the active product with this barcode or SKU (what a scanner types)."""
    from pos.services import catalogue

    return catalogue.current().find_by_code(code)


def search_products(query: str) -> QuerySet[Product]:
    query = query.strip()
    products = Product.objects.filter(active=True).select_related("vat_rate", "category")
    if not query:
        return products.none()
    return products.filter(Q(name__icontains=query) | Q(barcode=query) | Q(sku__iexact=query))[:40]


def has_open_sale() -> bool:
    """Return True while any order with lines is still open (an update must wait)."""
    return Order.objects.filter(status=Order.Status.OPEN, lines__isnull=False).exists()


def _symbol() -> str:
    from pos.services import catalogue

    business = catalogue.current().business
    return business.currency_symbol if business else "£"
