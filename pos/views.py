"""Till views: parse the request, call one service, render. No business rules here."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from pos.decorators import till_user_required
from pos.exceptions import PosError
from pos.links import till_url
from pos.models import Business, Order, OrderLine, Payment, Product, Refund, StaffProfile, Table, ZReport
from pos.services import catalogue, orders, pins, reports
from pos.services.money import MAX_AMOUNT_MINOR, format_money, parse_money
from pos.templatetags.pos_basket import basket_fragment

MAX_ID = 2**63 - 1  # SQLite's largest integer: a bigger id in a query is an OverflowError, not "not found"


def _business() -> Business | None:
    return catalogue.current().business


def _id(value: object) -> int | None:
    """Return a posted or routed database id, or None for anything that cannot be one ("abc", "", 10**30)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


CURRENT = "pos_order"
"""Session key: the order on the till's screen (others stay open as parked orders and table tabs)."""
PENDING_TABLE = "pos_table"
"""Session key: a table chosen with an empty basket; its tab opens with the first item (no empty orders)."""
JUST_PAID = "pos_paid"


def _current(request: HttpRequest) -> Order | None:
    """Return the open order on this till's screen, if any."""
    order = orders.open_order_by_id(_id(request.session.get(CURRENT)))
    if order is None and CURRENT in request.session:
        del request.session[CURRENT]
    return order


def _pending_table(request: HttpRequest) -> Table | None:
    return catalogue.current().table(_id(request.session.get(PENDING_TABLE)))


def _show(request: HttpRequest, order: Order | None) -> None:
    """Put ``order`` on the screen (or nothing)."""
    request.session.pop(PENDING_TABLE, None)
    if order is None:
        request.session.pop(CURRENT, None)
    else:
        request.session[CURRENT] = order.pk


def _put_aside(request: HttpRequest) -> Order | None:
    """Take the current order off the screen: parked if it has lines, deleted if empty. Return it if parked."""
    order = _current(request)
    _show(request, None)
    if order is None or orders.discard_if_empty(order):
        return None
    order.refresh_from_db()
    return order if order.status == Order.Status.OPEN else None


def _order_for(request: HttpRequest) -> Order:
    """Return the order on the screen, opening one (on the chosen table, if any) for the first item."""
    order = _current(request)
    if order is None:
        table = _pending_table(request)
        order = (orders.tab_for(table) if table else None) or orders.open_order(request.user, table=table)
        _show(request, order)
    return order


def _approver(request: HttpRequest):
    """Return the manager (a user) whose PIN was typed on the page, or raise PosError saying what is wrong."""
    try:
        return pins.approve(_id(request.POST.get("approver")), request.POST.get("approver_pin", "")).user
    except PosError as err:
        raise PosError(f"Manager approval: {err.message}") from err


def signin(request: HttpRequest) -> HttpResponse:
    staff = StaffProfile.objects.select_related("user").filter(user__is_active=True)
    chosen = None
    if request.method == "POST":
        staff_id = _id(request.POST.get("staff"))
        profile = staff.filter(pk=staff_id).first() if staff_id else None
        pin = request.POST.get("pin", "")
        if profile is None:
            messages.error(request, "Choose your name first.")
        elif not pin.strip():
            chosen = profile.pk
            messages.error(request, "Type your PIN, then press Sign in.")  # not a guess: not counted
        else:
            chosen = profile.pk
            try:
                pins.verify_pin(profile, pin)
            except PosError as err:
                messages.error(request, err.message)
            else:
                if request.user.is_authenticated and request.user.pk != profile.user_id:
                    _put_aside(request)  # a shift change: the last person's order stays open, or goes if empty
                login(request, profile.user, backend="django.contrib.auth.backends.ModelBackend")
                orders.discard_empty_orders(profile.user)
                return redirect("pos:till")
    return render(request, "pos/signin.html", {"staff": staff, "business": _business(), "chosen": chosen})


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        parked = _put_aside(request)
        if parked is not None:
            messages.info(request, f"Order #{parked.pk} stays open for the next person.")
    logout(request)
    return redirect("pos:signin")


def _here(request: HttpRequest, *keep: str) -> str:
    """Return the till page's own address with only the filters in ``keep`` (for forms to come back to)."""
    params = {key: request.GET[key] for key in keep if request.GET.get(key)}
    return "/" + ("?" + urlencode(params) if params else "")


def _wants_fragment(request: HttpRequest) -> bool:
    """True for the till's own script (fetch), which swaps the basket in: no redirect, no whole page."""
    return request.headers.get("X-Requested-With") == "fetch" or "text/html-fragment" in request.headers.get(
        "Accept", ""
    )


QUICK_CASH_NOTES = (500, 1000, 2000, 5000)
"""The quick-cash buttons under the basket, in minor units (one tap pays with that note)."""


def _table_options(tables: list[tuple[Table, Order | None]], order: Order | None, pending: Table | None) -> str:
    """Return the ``<option>``s of the basket's table list (built here: the basket is drawn after every tap).

    The table the order (or the tab about to open) is on is selected; a table
    with another order's open tab says so.
    """
    chosen = order.table_id if order else (pending.pk if pending else None)
    options = (
        f'<option value="{int(table.pk)}"{" selected" if table.pk == chosen else ""}>{escape(str(table.name))}'
        f"{' (open)' if tab is not None and (order is None or tab.pk != order.pk) else ''}</option>"
        for table, tab in tables
    )
    return mark_safe("".join(options))  # noqa: S308 - the names are escaped, the ids are ints


def _quick_cash_buttons(order: Order | None) -> list[tuple[int, bool]]:
    """Return (note in minor units, too small for the total) for each quick-cash button."""
    total = order.total_minor if order else 0
    return [(note, note < total) for note in QUICK_CASH_NOTES]


def _basket_context(
    request: HttpRequest,
    order: Order | None,
    *,
    here: str,
    lines: list[OrderLine] | None = None,
    line_to_void: int | str | None = None,
    void=False,
) -> dict:
    """Return what the basket (the right-hand side of the till) and the open orders above the products show."""
    if lines is None:
        lines = orders.lines_of(order) if order else []
    open_list = orders.open_orders_list()
    tabs = {o.table_id: o for o in open_list if o.table_id}
    me = request.user.staff
    pending_table = None if order else _pending_table(request)
    tables = [(table, tabs.get(table.pk)) for table in catalogue.current().tables]
    return {
        "business": _business(),
        "order": order,
        "lines": lines,
        "pending_table": pending_table,
        "open_orders": [o for o in open_list if order is None or o.pk != order.pk],
        "tables": tables,
        "table_options": _table_options(tables, order, pending_table),
        "quick_cash": _quick_cash_buttons(order),
        "here": here,
        "confirm_void": void and bool(lines),
        "line_to_void": next((ln for ln in lines if str(ln.pk) == str(line_to_void)), None) if line_to_void else None,
        "managers": pins.managers,  # called (a query) only where an approval box is shown
        "approver_default": me.pk if me.role == StaffProfile.Role.MANAGER else None,
    }


@till_user_required
def till(request: HttpRequest) -> HttpResponse:
    shop = catalogue.current()
    categories = shop.categories
    query = request.GET.get("q", "").strip()
    view = request.GET.get("view", "")
    selected = None
    products: list[Product] = []
    if query:
        products = list(orders.search_products(query))
    elif view != "tables":
        selected = next((c for c in categories if str(c.pk) == request.GET.get("category")), None)
        selected = selected or (categories[0] if categories else None)
        products = shop.active_in(selected)
    order = _current(request)
    here = _here(request, "category", "q", "view")
    context = _basket_context(
        request, order, here=here, line_to_void=request.GET.get("void_line"), void=request.GET.get("void") == "order"
    )
    if _wants_fragment(request):
        return _fragment(request, context)
    return render(
        request,
        "pos/till.html",
        context
        | {
            "categories": categories,
            "selected": selected,
            "products": products,
            "query": query,
            "view": view,
        },
    )


def _fragment(request: HttpRequest, context: dict) -> HttpResponse:
    """Answer the till's script with the messages, the open orders and the basket (drawn in Python: every tap)."""
    response = HttpResponse(basket_fragment(request, context))
    response["Vary"] = "X-Requested-With, Accept"
    response["Cache-Control"] = "no-store"
    return response


def _posted_here(request: HttpRequest) -> str:
    """Return the till address the posting page was showing (its ``next``), or the till itself."""
    target = request.POST.get("next", "")
    return target if _is_local(target) else "/"


def _basket(request: HttpRequest, order: Order | None = None, **kwargs) -> HttpResponse:
    """Answer a basket action: the basket fragment for the till's script, the till page (a redirect) otherwise.

    ``order`` (and ``lines``) are the order on the screen and its lines when the caller has them at hand.
    """
    if _wants_fragment(request):
        if order is None or order.status != Order.Status.OPEN:
            order, kwargs["lines"] = _current(request), None
        return _fragment(request, _basket_context(request, order, here=_posted_here(request), **kwargs))
    return _back(request)


def _stay(request: HttpRequest, order: Order | None = None) -> HttpResponse:
    """Show the till again with what a message says: the basket fragment, or a redirect to the till page."""
    return _basket(request, order) if _wants_fragment(request) else redirect("pos:till")


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """Send the browser to ``url``: a redirect, or for the till's script a header saying where to go."""
    if _wants_fragment(request):
        response = HttpResponse(status=204)
        response["X-Till-Location"] = url
        return response
    return redirect(url)


def _is_local(target: str) -> bool:
    return (
        target.startswith("/")
        and not target.startswith("//")
        and len(target) <= 2000
        and target.isprintable()
        and not any(ch.isspace() or ch == "\\" for ch in target)
    )


def _back(request: HttpRequest) -> HttpResponse:
    """Return to the till page the form was on (``next``): a path on this site only, nothing else."""
    target = request.POST.get("next", "")
    return redirect(target if _is_local(target) else "pos:till")


@require_POST
@till_user_required
def add_product(request: HttpRequest) -> HttpResponse:
    product = catalogue.current().product(_id(request.POST.get("product")))
    if product is None:
        messages.error(request, "That product is not on the till any more. Choose it again.")
        return _basket(request)
    order = _order_for(request)
    try:
        lines = orders.add_to_basket(order, product)
    except PosError as err:
        messages.error(request, err.message)
        lines = None
    return _basket(request, order, lines=lines)


def _looks_like_barcode(code: str) -> bool:
    return code.isascii() and code.isdigit() and len(code) >= 6


@require_POST
@till_user_required
def scan(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("code", "").strip()
    if not code:
        messages.error(request, "Scan a barcode or type what to look for.")
        return _stay(request)
    if not code.isprintable() or len(code) > 200:
        messages.error(request, "That is not a barcode or a search: scan it again or type a product name.")
        return _stay(request)
    product = orders.find_by_code(code)
    if product is None:
        if _looks_like_barcode(code):
            messages.error(request, f"Barcode not found: {code}. Nothing was added.")
            return _basket(request)
        return _go(request, "/?" + urlencode({"q": code}))  # not a barcode: show it as a search
    order = _order_for(request)
    try:
        lines = orders.add_to_basket(order, product)
    except PosError as err:
        messages.error(request, err.message)
        lines = None
    return _basket(request, order, lines=lines)


@require_POST
@till_user_required
def set_quantity(request: HttpRequest, line_id: str) -> HttpResponse:
    order = _current(request)
    try:
        quantity = orders.parse_quantity(request.POST.get("quantity"))
        if order is None:
            raise PosError("That item was already taken off the order." if quantity == 0 else "There is no open order.")
        number = _id(line_id)
        if number is None:
            raise PosError("That item is no longer on the order.")
        orders.set_quantity(order, number, quantity)
    except PosError as err:
        messages.error(request, err.message)
    return _basket(request, order)


def _posted_table(request: HttpRequest) -> tuple[bool, Table | None]:
    """Return (ok, table) for the posted ``table``: ok is False (and a message set) for one not in the list."""
    posted = request.POST.get("table", "").strip()
    if not posted:
        return True, None
    table = catalogue.current().table(_id(posted))
    if table is None:
        messages.error(request, "Choose a table from the list.")
        return False, None
    return True, table


@require_POST
@till_user_required
def set_table(request: HttpRequest) -> HttpResponse:
    """Put the order on the screen on a table (or none); with an empty basket, open that table's tab."""
    ok, table = _posted_table(request)
    if not ok:
        return _basket(request)
    order = _current(request)
    if order is None or not order.lines.exists():
        _open_tab(request, table)
        return _basket(request)
    tab = orders.tab_for(table) if table else None
    if tab is not None and tab.pk != order.pk:
        messages.error(request, f"{table.name} already has an open tab (order #{tab.pk}). Open it from Tables.")
        return _basket(request, order)
    try:
        orders.assign_table(order, table)
    except PosError as err:
        messages.error(request, err.message)
    return _basket(request, order)


def _open_tab(request: HttpRequest, table: Table | None) -> HttpResponse:
    parked = _put_aside(request)
    if parked is not None:
        messages.info(request, f"Order #{parked.pk} parked{f' on {parked.table.name}' if parked.table else ''}.")
    if table is None:
        return redirect("pos:till")
    tab = orders.tab_for(table)
    if tab is not None:
        _show(request, tab)
    else:
        request.session[PENDING_TABLE] = table.pk  # the tab opens with its first item
    return redirect("pos:till")


@require_POST
@till_user_required
def open_tab(request: HttpRequest) -> HttpResponse:
    """A table tile: park what is on the screen and show that table's tab (a new one if it has none)."""
    ok, table = _posted_table(request)
    if not ok:
        return redirect("/?view=tables")
    if table is None:
        messages.error(request, "Choose a table from the list.")
        return redirect("/?view=tables")
    return _open_tab(request, table)


@require_POST
@till_user_required
def park(request: HttpRequest) -> HttpResponse:
    """Set the order on the screen aside (it stays open) and start a new one."""
    order = _current(request)
    parked = _put_aside(request)
    if parked is not None:
        messages.success(request, f"Order #{parked.pk} parked. Resume it from Open orders.")
    elif order is None:
        messages.error(request, "There is no order to park.")
    return redirect("pos:till")


@require_POST
@till_user_required
def resume(request: HttpRequest) -> HttpResponse:
    pk = _id(request.POST.get("order"))
    wanted = orders.open_orders().filter(pk=pk).first() if pk else None
    if wanted is None:
        messages.error(request, "That order is no longer open: it was paid, voided or emptied.")
        return redirect("pos:till")
    current = _current(request)
    if current is None or current.pk != wanted.pk:
        _put_aside(request)
        _show(request, wanted)
    return redirect("pos:till")


def _quick_cash(value: str, order: Order) -> int:
    """Return the minor units of a quick-cash button (``exact`` or a whole number of minor units)."""
    if value == "exact":
        return order.total_minor
    amount = _id(value)
    if amount is None or amount > MAX_AMOUNT_MINOR:
        raise PosError("Type the cash handed over.")
    return amount


@require_POST
@till_user_required
def pay(request: HttpRequest) -> HttpResponse:
    """Take payment; show the receipt (with the change due).

    A form post is redirected to the receipt's own page. The till's script gets
    the receipt page at once, with its address in ``X-Till-Page``, and shows it
    there: one request instead of two. Anything wrong is said on the till.
    """
    order = _current(request)
    if order is None:
        messages.error(request, "The basket is empty.")
        return _stay(request)
    method = request.POST.get("method", "")
    quick = request.POST.get("quick", "")
    business = _business()
    try:
        symbol = business.currency_symbol if business else ""
        if quick:
            method, tendered = "cash", _quick_cash(quick, order)
        else:
            tendered = parse_money(request.POST.get("tendered", ""), symbol) if method == "cash" else None
        payment = orders.pay(order, method, taken_by=request.user, tendered_minor=tendered)
    except PosError as err:
        messages.error(request, err.message)
        return _stay(request, order)
    _show(request, None)
    if not _wants_fragment(request):
        request.session[JUST_PAID] = order.pk
        return redirect("pos:receipt", pk=order.pk)
    paid = payment.order
    if paid.cashier_id == request.user.pk:
        Order.cashier.field.set_cached_value(paid, request.user)
    response = _receipt_page(request, paid, payment=payment, just_paid=True, refunds=[])
    response["X-Till-Page"] = till_url("pos:receipt", paid.pk)
    response["Vary"] = "X-Requested-With, Accept"
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@till_user_required
def void(request: HttpRequest) -> HttpResponse:
    order = _current(request)
    if order is None or not order.lines.exists():
        messages.error(request, "There is no open order to void.")
        return redirect("pos:till")
    try:
        approver = _approver(request)
        orders.void_order(order, approver, request.POST.get("reason", ""))
    except PosError as err:
        messages.error(request, err.message)
        return redirect("/?void=order")
    _show(request, None)
    messages.success(request, f"Order #{order.pk} voided.")
    return redirect("pos:till")


@require_POST
@till_user_required
def void_line(request: HttpRequest, line_id: str) -> HttpResponse:
    order = _current(request)
    number = _id(line_id)
    if order is None or number is None:
        messages.error(request, "That item was already taken off the order.")
        return _stay(request, order)
    try:
        approver = _approver(request)
        record = orders.void_line(
            order, number, by=request.user, approved_by=approver, reason=request.POST.get("reason", "")
        )
    except PosError as err:
        messages.error(request, err.message)
        if _wants_fragment(request):
            return _basket(request, order, line_to_void=number)
        return redirect("/?" + urlencode({"void_line": number}))
    messages.success(request, f"Voided {record.quantity} × {record.product_name}.")
    return _stay(request, order)


def _order_or_404(pk: int) -> Order:
    order = orders.for_receipt(pk)
    if order is None:
        raise Http404("No such receipt.")
    return order


def _receipt_page(
    request: HttpRequest, order: Order, *, payment: Payment | None, just_paid: bool, refunds: list[Refund]
) -> HttpResponse:
    """Render the receipt of ``order``; the change due shows only right after the payment."""
    lines = orders.lines_of(order)
    links = {"refund": till_url("pos:refund", order.pk), "orders": till_url("pos:orders"), "till": till_url("pos:till")}
    return render(
        request,
        "pos/receipt.html",
        {
            "business": _business(),
            "order": order,
            "lines": lines,
            "payment": payment,
            "vat_rates": reports.receipt_vat(lines),
            "refunds": refunds,
            "change_due": payment.change_minor if just_paid and payment and payment.method == "cash" else None,
            "can_refund": order.status == Order.Status.PAID,
            "links": links,  # reversed once, not per receipt
        },
    )


@till_user_required
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order_or_404(pk)
    just_paid = request.session.pop(JUST_PAID, None) == order.pk
    return _receipt_page(
        request, order, payment=orders.first_payment(order), just_paid=just_paid, refunds=orders.refunds_of(order)
    )


def _posted_quantities(request: HttpRequest, refundable: list) -> dict[int, int]:
    if request.POST.get("whole"):
        return {line.pk: left for line, left in refundable if left > 0}
    wanted: dict[int, int] = {}
    for line, _left in refundable:
        typed = request.POST.get(f"qty_{line.pk}", "").strip()
        if typed:
            wanted[line.pk] = orders.parse_quantity(typed)
    return wanted


@till_user_required
def refund(request: HttpRequest, pk: int) -> HttpResponse:
    """Refund a paid order, whole or some of its lines, by cash or card, with a reason and a manager's PIN."""
    order = _order_or_404(pk)
    if request.method == "POST" and order.status == Order.Status.PAID:
        refundable = orders.refundable_lines(order)
        try:
            wanted = _posted_quantities(request, refundable)
            if not any(wanted.values()):
                raise PosError("Choose what to refund: at least one item.")
            approver = _approver(request)
            done = orders.refund_lines(
                order,
                wanted,
                method=request.POST.get("method", ""),
                reason=request.POST.get("reason", ""),
                by=request.user,
                approved_by=approver,
            )
        except PosError as err:
            messages.error(request, err.message)
        else:
            symbol = (_business() or Business(currency_symbol="£")).currency_symbol
            messages.success(
                request,
                f"Refunded {format_money(done.amount_minor, symbol)} by {done.get_method_display().lower()}.",
            )
            return redirect("pos:receipt", pk=order.pk)
    elif request.method == "POST":
        messages.error(request, f"Only a paid order can be refunded; order #{order.pk} is {order.status}.")
    payment = order.payments.first()
    me = getattr(request.user, "staff", None)
    return render(
        request,
        "pos/refund.html",
        {
            "business": _business(),
            "order": order,
            "refundable": orders.refundable_lines(order),
            "payment": payment,
            "method": request.POST.get("method") or (payment.method if payment else "cash"),
            "reason": request.POST.get("reason", ""),
            "managers": list(pins.managers()),
            "approver_default": me.pk if me and me.role == StaffProfile.Role.MANAGER else None,
        },
    )


@till_user_required
def order_list(request: HttpRequest) -> HttpResponse:
    """Past orders of the day (since the last Z report), newest first: reprint a receipt or refund."""
    number = request.GET.get("n", "").strip().lstrip("#")
    found = None
    if number:
        pk = _id(number)
        found = Order.objects.filter(pk=pk).exclude(status=Order.Status.OPEN).first() if pk else None
        if found is not None:
            return redirect("pos:receipt", pk=found.pk)
        messages.error(request, f"No receipt #{number[:20]}.")
    recent = (
        Order.objects.exclude(status=Order.Status.OPEN)
        .select_related("cashier", "table")
        .order_by("-created_at", "-pk")[:50]
    )
    return render(request, "pos/orders.html", {"business": _business(), "orders": recent})


@till_user_required
def x_report(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pos/report.html",
        {
            "business": _business(),
            "report": reports.x_report(),
            "title": "X report",
            "is_manager": request.user.staff.role == StaffProfile.Role.MANAGER,
        },
    )


@require_POST
@till_user_required
def z_report(request: HttpRequest) -> HttpResponse:
    if request.user.staff.role != StaffProfile.Role.MANAGER:
        return HttpResponseForbidden("Only a manager can close the day with a Z report.")
    z = reports.close_z_report(request.user)
    messages.success(request, f"Z report #{z.pk} closed: {z.order_count} sales.")
    return redirect("pos:z_detail", pk=z.pk)


@till_user_required
def z_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A closed day's Z report, readable and printable."""
    z = ZReport.objects.select_related("closed_by").filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if z is None:
        raise Http404("No such Z report.")
    previous = ZReport.objects.filter(created_at__lt=z.created_at).order_by("-created_at").first()
    by_vat = sorted(((int(k), v) for k, v in (z.by_vat_rate or {}).items()), reverse=True)
    return render(
        request,
        "pos/z_report.html",
        {
            "business": _business(),
            "z": z,
            "previous": previous,
            "by_vat": by_vat,
            "methods": {key: 0 for key in ("cash", "card", "cash_refunds", "card_refunds")} | (z.by_method or {}),
            "refunds": list(z.refunds.select_related("order", "approved_by").order_by("created_at")),
            "line_voids": list(z.line_voids.select_related("approved_by").order_by("created_at")),
        },
    )
