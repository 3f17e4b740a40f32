"""Till views: parse the request, call one service, render. No business rules here."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from pos.decorators import till_user_required
from pos.exceptions import PosError
from pos.models import Business, Category, Order, Product, StaffProfile, Table
from pos.services import orders, pins, reports
from pos.services.money import parse_money

MAX_ID = 2**63 - 1  # SQLite's largest integer: a bigger id in a query is an OverflowError, not "not found"


def _business() -> Business | None:
    return Business.objects.first()


def _id(value: object) -> int | None:
    """Return a posted or routed database id, or None for anything that cannot be one ("abc", "", 10**30)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def signin(request: HttpRequest) -> HttpResponse:
    staff = StaffProfile.objects.select_related("user").filter(user__is_active=True)
    if request.method == "POST":
        staff_id = _id(request.POST.get("staff"))
        profile = staff.filter(pk=staff_id).first() if staff_id else None
        if profile is None:
            messages.error(request, "Choose your name first.")
        else:
            try:
                pins.verify_pin(profile, request.POST.get("pin", ""))
            except PosError as err:
                messages.error(request, err.message)
            else:
                login(request, profile.user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("pos:till")
    return render(request, "pos/signin.html", {"staff": staff, "business": _business()})


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("pos:signin")


@till_user_required
def till(request: HttpRequest) -> HttpResponse:
    categories = list(Category.objects.all())
    query = request.GET.get("q", "").strip()
    selected = None
    if query:
        products = list(orders.search_products(query))
    else:
        selected = next((c for c in categories if str(c.pk) == request.GET.get("category")), None)
        selected = selected or (categories[0] if categories else None)
        products = list(Product.objects.filter(active=True, category=selected).select_related("vat_rate"))
    order = orders.current_order(request.user)
    return render(
        request,
        "pos/till.html",
        {
            "business": _business(),
            "categories": categories,
            "selected": selected,
            "products": products,
            "query": query,
            "order": order,
            "lines": list(order.lines.all()) if order else [],
            "tables": Table.objects.filter(active=True),
        },
    )


def _order_for(request: HttpRequest) -> Order:
    return orders.current_order(request.user) or orders.open_order(request.user)


def _back(request: HttpRequest) -> HttpResponse:
    """Return to the till page the form was on (``next``): a path on this site only, nothing else."""
    target = request.POST.get("next", "")
    safe = (
        target.startswith("/")
        and not target.startswith("//")
        and len(target) <= 2000
        and target.isprintable()
        and not any(ch.isspace() or ch == "\\" for ch in target)
    )
    return redirect(target if safe else "pos:till")


@require_POST
@till_user_required
def add_product(request: HttpRequest) -> HttpResponse:
    product_id = _id(request.POST.get("product"))
    product = Product.objects.filter(pk=product_id).select_related("vat_rate").first() if product_id else None
    if product is None:
        messages.error(request, "That product is not on the till any more. Choose it again.")
        return _back(request)
    try:
        orders.add_product(_order_for(request), product)
    except PosError as err:
        messages.error(request, err.message)
    return _back(request)


@require_POST
@till_user_required
def scan(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("code", "").strip()
    if not code:
        messages.error(request, "Scan a barcode or type what to look for.")
        return redirect("pos:till")
    if not code.isprintable() or len(code) > 200:
        messages.error(request, "That is not a barcode or a search: scan it again or type a product name.")
        return redirect("pos:till")
    product = orders.find_by_code(code)
    if product is None:
        return redirect("/?" + urlencode({"q": code}))  # not a barcode: show it as a search
    try:
        orders.add_product(_order_for(request), product)
    except PosError as err:
        messages.error(request, err.message)
    return redirect("pos:till")


@require_POST
@till_user_required
def set_quantity(request: HttpRequest, line_id: str) -> HttpResponse:
    order = orders.current_order(request.user)
    try:
        quantity = orders.parse_quantity(request.POST.get("quantity"))
        if order is None:
            raise PosError("There is no open order.")
        number = _id(line_id)
        if number is None:
            raise PosError("That item is no longer on the order.")
        orders.set_quantity(order, number, quantity)
    except PosError as err:
        messages.error(request, err.message)
    return _back(request)


@require_POST
@till_user_required
def set_table(request: HttpRequest) -> HttpResponse:
    posted = request.POST.get("table", "").strip()
    table = None
    if posted:
        table_id = _id(posted)
        table = Table.objects.filter(pk=table_id, active=True).first() if table_id else None
        if table is None:
            messages.error(request, "Choose a table from the list.")
            return redirect("pos:till")
    order = orders.current_order(request.user)
    if order is None and table is None:
        return redirect("pos:till")  # no order and no table: nothing to change
    try:
        orders.assign_table(order or orders.open_order(request.user), table)
    except PosError as err:
        messages.error(request, err.message)
    return redirect("pos:till")


@require_POST
@till_user_required
def pay(request: HttpRequest) -> HttpResponse:
    order = orders.current_order(request.user)
    if order is None:
        messages.error(request, "The basket is empty.")
        return redirect("pos:till")
    method = request.POST.get("method", "")
    business = _business()
    try:
        symbol = business.currency_symbol if business else ""
        tendered = parse_money(request.POST.get("tendered", ""), symbol) if method == "cash" else None
        orders.pay(order, method, taken_by=request.user, tendered_minor=tendered)
    except PosError as err:
        messages.error(request, err.message)
        return redirect("pos:till")
    return redirect("pos:receipt", pk=order.pk)


@require_POST
@till_user_required
def void(request: HttpRequest) -> HttpResponse:
    order = orders.current_order(request.user)
    if order is not None:
        try:
            orders.void_order(order, request.user, request.POST.get("reason", ""))
            messages.success(request, f"Order #{order.pk} voided.")
        except PosError as err:
            messages.error(request, err.message)
    else:
        messages.error(request, "There is no open order to void.")
    return redirect("pos:till")


@till_user_required
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    order = Order.objects.select_related("cashier", "table").filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if order is None:
        raise Http404("No such receipt.")
    lines = list(order.lines.all())
    vat_rates: dict[int, dict[str, int]] = {}
    for line in lines:
        entry = vat_rates.setdefault(line.vat_rate_bp, {"gross": 0, "vat": 0})
        entry["gross"] += line.line_total_minor
        entry["vat"] += line.vat_minor
        entry["net"] = entry["gross"] - entry["vat"]
    return render(
        request,
        "pos/receipt.html",
        {
            "business": _business(),
            "order": order,
            "lines": lines,
            "payment": order.payments.first(),
            "vat_rates": sorted(vat_rates.items(), reverse=True),
        },
    )


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
    return redirect("pos:x_report")
