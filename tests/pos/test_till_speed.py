"""The till's fast path: the basket fragment, few queries, cached catalogue, incremental totals."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pos.models import Business, Category, Order, OrderLine, Product, StaffProfile, Table, VatRate
from pos.services import catalogue, orders, reports
from pos.services.money import line_amounts

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}

# One add-to-basket from the till's script, answered with the basket (statements, BEGIN and COMMIT included):
# user and staff profile (1), the order on the screen (1), BEGIN, its lines (1), the line (1), the totals (1),
# COMMIT, the open orders for the chips and the table list (1). The form post before this answered with a
# redirect after 10 statements, then the whole till page took 10 more (20 for one add).
ADD_QUERY_LIMIT = 8
# A whole sale from the till's script (add ×3, pay), statements included: 8 per add; the payment's user and
# profile, the order on the screen, BEGIN, the order again with whether it has lines, the payment, the
# order's status, COMMIT, and the lines for the receipt (8). The receipt comes with the payment.
SALE_QUERY_LIMIT = 4 * ADD_QUERY_LIMIT


@pytest.fixture(autouse=True)
def _fresh_catalogue():
    catalogue.clear()
    yield
    catalogue.clear()


def _sign_in(client: Client, demo_shop) -> None:
    profile = StaffProfile.objects.get(user__username="cashier")
    response = client.post("/signin/", {"staff": profile.pk, "pin": demo_shop.cashier_pin})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db(transaction=True)
def test_one_add_to_basket_takes_few_queries():
    """Outside a test transaction, as in the shop: the catalogue comes from memory."""
    from pos.services import demo

    shop = demo.create_demo_data()
    client = Client()
    _sign_in(client, shop)
    latte, mocha = Product.objects.get(name="Latte"), Product.objects.get(name="Mocha")
    assert client.post("/order/add/", {"product": latte.pk}, **FETCH).status_code == 200  # opens the order
    client.get("/")  # the catalogue is loaded once, then kept
    for product in (mocha, latte):  # a new line, then one more of a line already there
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/order/add/", {"product": product.pk, "next": "/"}, **FETCH)
        assert response.status_code == 200
        assert len(queries) <= ADD_QUERY_LIMIT, "\n".join(q["sql"] for q in queries.captured_queries)
        assert not any("pos_product" in q["sql"] or "pos_business" in q["sql"] for q in queries.captured_queries)
    order = Order.objects.get()
    assert (order.total_minor, order.lines.count()) == (2 * 350 + 380, 2)


@pytest.mark.django_db(transaction=True)
def test_a_whole_sale_from_the_script_takes_few_statements():
    from pos.services import demo

    shop = demo.create_demo_data()
    client = Client()
    _sign_in(client, shop)
    client.get("/")  # the catalogue is loaded once, then kept
    with CaptureQueriesContext(connection) as queries:
        for name in ("Latte", "Mocha", "Brownie"):
            product = Product.objects.get(name=name)
            assert client.post("/order/add/", {"product": product.pk, "next": "/"}, **FETCH).status_code == 200
        response = client.post("/order/pay/", {"quick": "exact"}, **FETCH)
    assert response.status_code == 200 and 'id="receipt-total">£10.25<' in response.content.decode()
    sale = [q["sql"] for q in queries.captured_queries if 'FROM "pos_product"' not in q["sql"]]  # the tests' own
    assert len(sale) <= SALE_QUERY_LIMIT, "\n".join(sale)


def test_paying_from_the_script_answers_with_the_receipt_itself(cashier_client):
    latte = Product.objects.get(name="Latte")
    cashier_client.post("/order/add/", {"product": latte.pk}, **FETCH)
    order = Order.objects.get()
    response = cashier_client.post("/order/pay/", {"method": "cash", "tendered": "5"}, **FETCH)
    assert response.status_code == 200 and response["X-Till-Page"] == f"/receipt/{order.pk}/"  # no redirect
    page = response.content.decode()
    assert f"<title>Receipt #{order.pk} · AurSwift</title>" in page and 'id="receipt-total">£3.50<' in page
    assert 'id="change-due-banner">£1.50<' in page and 'id="receipt-change">£1.50<' in page
    assert "Tap a product or scan a barcode to start." in cashier_client.get("/").content.decode()  # next customer
    again = cashier_client.get(f"/receipt/{order.pk}/").content.decode()  # a reload: the change due was shown once
    assert 'id="receipt-total">£3.50<' in again and "change-due-banner" not in again
    order.refresh_from_db()
    assert (order.status, order.payments.get().change_minor) == ("paid", 150)


def test_a_payment_refused_from_the_script_says_why_on_the_basket(cashier_client):
    page = cashier_client.post("/order/pay/", {"method": "card"}, **FETCH).content.decode()
    assert "The basket is empty." in page and 'class="basket"' in page
    cashier_client.post("/order/add/", {"product": Product.objects.get(name="Latte").pk}, **FETCH)
    response = cashier_client.post("/order/pay/", {"method": "cash", "tendered": "1"}, **FETCH)
    page = response.content.decode()
    assert response.status_code == 200 and "X-Till-Page" not in response
    assert "Cash tendered £1.00 is less than the total £3.50." in page and 'data-minor="350">£3.50<' in page
    assert Order.objects.get().status == "open"


def test_add_from_the_script_answers_with_the_basket(cashier_client):
    latte = Product.objects.get(name="Latte")
    response = cashier_client.post("/order/add/", {"product": latte.pk, "next": "/?category=1"}, **FETCH)
    assert response.status_code == 200  # no redirect, no whole page
    page = response.content.decode()
    assert '<td class="desc">Latte</td>' in page
    assert 'id="order-total" data-minor="350">£3.50<' in page
    assert 'data-here="/?category=1"' in page
    assert "<html" not in page and 'class="products"' not in page
    response = cashier_client.post("/order/add/", {"product": latte.pk}, HTTP_ACCEPT="text/html-fragment")
    page = response.content.decode()
    assert response.status_code == 200 and 'id="order-total" data-minor="700">£7.00<' in page
    line = Order.objects.get().lines.get()
    page = cashier_client.post(f"/order/line/{line.pk}/", {"quantity": "5"}, **FETCH).content.decode()
    assert 'data-minor="1750">£17.50<' in page and "<span>5</span>" in page


def test_add_without_javascript_still_redirects(cashier_client):
    latte = Product.objects.get(name="Latte")
    response = cashier_client.post("/order/add/", {"product": latte.pk, "next": "/?category=2"})
    assert response.status_code == 302 and response["Location"] == "/?category=2"
    assert "£3.50" in cashier_client.get(response["Location"]).content.decode()
    line = Order.objects.get().lines.get()
    response = cashier_client.post(f"/order/line/{line.pk}/", {"quantity": "2"})
    assert response.status_code == 302 and Order.objects.get().total_minor == 700


def test_the_fragment_carries_messages_and_where_to_go(cashier_client):
    page = cashier_client.post("/order/scan/", {"code": "5000000099999"}, **FETCH).content.decode()
    assert "Barcode not found: 5000000099999. Nothing was added." in page and 'class="basket"' in page
    response = cashier_client.post("/order/scan/", {"code": "latte"}, **FETCH)  # a search is its own page
    assert response.status_code == 204 and response["X-Till-Location"] == "/?q=latte"
    brownie = Product.objects.get(name="Brownie")
    page = cashier_client.post("/order/scan/", {"code": brownie.barcode}, **FETCH).content.decode()
    assert '<td class="desc">Brownie</td>' in page
    table = Table.objects.get(name="Table 3")
    page = cashier_client.post("/order/table/", {"table": table.pk}, **FETCH).content.decode()
    assert f"Order #{Order.objects.get().pk} · Table 3" in page
    page = cashier_client.post("/order/table/", {"table": "999999"}, **FETCH).content.decode()
    assert "Choose a table from the list." in page


def test_a_line_void_from_the_script_answers_with_the_basket(cashier_client, demo_shop):
    cashier_client.post("/order/add/", {"product": Product.objects.get(name="Latte").pk}, **FETCH)
    cashier_client.post("/order/add/", {"product": Product.objects.get(name="Mocha").pk}, **FETCH)
    order = Order.objects.get()
    latte = order.lines.get(product_name="Latte")
    manager = StaffProfile.objects.get(user__username="manager")
    wrong = "0000" if demo_shop.manager_pin != "0000" else "1111"
    form = {"reason": "spilt", "approver": manager.pk, "approver_pin": wrong}
    page = cashier_client.post(f"/order/line/{latte.pk}/void/", form, **FETCH).content.decode()
    assert "Manager approval: Wrong PIN." in page and "Void 1 × Latte" in page  # the approval box again
    form["approver_pin"] = demo_shop.manager_pin
    page = cashier_client.post(f"/order/line/{latte.pk}/void/", form, **FETCH).content.decode()
    assert "Voided 1 × Latte." in page and 'data-minor="380">£3.80<' in page
    order.refresh_from_db()
    assert (order.total_minor, order.vat_minor) == (380, 63)


def test_catalogue_is_cached_and_forgets_itself_on_every_edit(transactional_db):
    from pos.services import demo

    demo.create_demo_data()
    first = catalogue.current()
    assert catalogue.current() is first  # kept
    with CaptureQueriesContext(connection) as queries:
        catalogue.current()
    assert len(queries) == 0
    latte = Product.objects.get(name="Latte")
    latte.price_minor = 360
    latte.save()
    assert catalogue.current().product(latte.pk).price_minor == 360
    Business.objects.update(name="ignored")  # an update() sends no signal …
    business = Business.objects.get()
    business.currency_symbol = "€"
    business.save()  # … a save does
    assert catalogue.current().business.currency_symbol == "€"
    rate = VatRate.objects.get(name="Standard")
    rate.rate_bp = 1750
    rate.save()
    assert catalogue.current().product(latte.pk).vat_rate.rate_bp == 1750
    Category.objects.create(name="New", sort_order=99)
    assert catalogue.current().categories[-1].name == "New"
    latte.active = False
    latte.save()
    assert latte.pk not in {p.pk for c in catalogue.current().categories for p in catalogue.current().active_in(c)}
    Table.objects.filter(name="Table 1").delete()
    assert "Table 1" not in {t.name for t in catalogue.current().tables}


def test_catalogue_read_inside_a_transaction_is_not_kept(db, demo_shop):
    assert connection.in_atomic_block  # the test's own transaction, rolled back afterwards
    catalogue.current()
    assert catalogue._snapshot is None


def test_scanning_by_sku_or_barcode_from_the_cached_catalogue(db, demo_shop):
    brownie = Product.objects.get(name="Brownie")
    brownie.sku = "BRW-01"
    brownie.save()
    assert orders.find_by_code(brownie.barcode) == brownie
    assert orders.find_by_code(" brw-01 ") == brownie  # SKUs in any case, as SQLite's iexact
    assert orders.find_by_code("BRW-02") is None
    brownie.active = False
    brownie.save()
    assert orders.find_by_code(brownie.barcode) is None


def test_incremental_totals_equal_a_full_recomputation_on_random_baskets(db, demo_shop):
    rng = random.Random(13)
    cashier = StaffProfile.objects.get(user__username="cashier").user
    manager = StaffProfile.objects.get(user__username="manager").user
    rates = [0, 500, 1750, 2000, 2250]
    vat_rates = [VatRate.objects.get_or_create(name=f"r{bp}", defaults={"rate_bp": bp})[0] for bp in rates]
    category = Category.objects.first()
    products = [
        Product.objects.create(
            name=f"p{i}", category=category, price_minor=rng.randint(1, 99_999), vat_rate=rng.choice(vat_rates)
        )
        for i in range(12)
    ]
    for _ in range(40):
        order = orders.open_order(cashier)
        for _ in range(rng.randint(1, 25)):
            action = rng.random()
            lines = list(order.lines.all())
            if action < 0.6 or not lines:
                orders.add_product(order, rng.choice(products), rng.randint(1, 40))
            elif action < 0.85:
                orders.set_quantity(order, rng.choice(lines).pk, rng.randint(0, 999))
            else:
                line = rng.choice(lines)
                orders.void_line(order, line.pk, by=cashier, approved_by=manager, reason="test")
            incremental = (order.total_minor, order.vat_minor)
            stored = Order.objects.get(pk=order.pk)
            assert (stored.total_minor, stored.vat_minor) == incremental
            orders.recalculate(stored)
            assert (stored.total_minor, stored.vat_minor) == incremental
            expected = [line_amounts(ln.unit_price_minor, ln.quantity, ln.vat_rate_bp) for ln in order.lines.all()]
            assert incremental == (sum(a.gross_minor for a in expected), sum(a.vat_minor for a in expected))


def test_receipt_and_reports_share_one_vat_summary(cashier_client):
    for name in ("Cappuccino", "Cappuccino", "Coffee beans 250g", "Brownie"):
        cashier_client.post("/order/add/", {"product": Product.objects.get(name=name).pk})
    cashier_client.post("/order/pay/", {"method": "card"})
    order = Order.objects.get()
    summary = reports.receipt_vat(OrderLine.objects.filter(order=order))
    assert list(summary) == [2000, 0]  # highest rate first
    assert summary == {2000: {"gross": 975, "vat": 113 + 49}, 0: {"gross": 899, "vat": 0}}
    assert reports.x_report().by_vat_rate == summary  # one order: the period is the receipt
    receipt = cashier_client.get(f"/receipt/{order.pk}/").content.decode()
    assert "<td>20%</td><td>£8.13</td><td>£1.62</td><td>£9.75</td>" in receipt  # net = gross − VAT


def test_the_staff_profile_comes_with_the_user(cashier_client):
    with CaptureQueriesContext(connection) as queries:
        assert cashier_client.get("/reports/x/").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [q for q in sql if 'FROM "auth_user"' in q]  # no user read on its own …
    (profile,) = [q for q in sql if 'FROM "pos_staffprofile"' in q]  # … but with the profile, in one query
    assert 'JOIN "auth_user"' in profile


def test_the_basket_and_the_receipt_escape_what_the_back_office_typed(cashier_client):
    """Both are drawn in Python, not by templates: names and addresses must still show as text, never as markup."""
    business = Business.objects.get()
    business.address, business.vat_number, business.receipt_footer = "1 High St\n<Town> & Co", "GB<1>", "Ta <3"
    business.save()
    tea = Product.objects.create(
        name='Tea <b>"&"</b>', category=Category.objects.first(), price_minor=250, vat_rate=VatRate.objects.first()
    )
    page = cashier_client.post("/order/add/", {"product": tea.pk, "next": '/?q="><x'}, **FETCH).content.decode()
    assert '<td class="desc">Tea &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;</td>' in page and "<b>" not in page
    assert 'data-here="/?q=&quot;&gt;&lt;x"' in page and 'id="order-total" data-minor="250">£2.50<' in page
    receipt = cashier_client.post("/order/pay/", {"quick": "exact"}, **FETCH).content.decode()
    assert "1 × Tea &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;" in receipt and "<b>" not in receipt
    assert '<p class="address">1 High St<br>&lt;Town&gt; &amp; Co</p>' in receipt
    assert "<p>VAT No. GB&lt;1&gt;</p>" in receipt and "<footer>Ta &lt;3</footer>" in receipt
    assert 'id="receipt-total">£2.50<' in receipt and 'id="change-due-banner">£0.00<' in receipt


def test_parked_orders_show_on_the_basket_answer(cashier_client):
    latte, mocha = Product.objects.get(name="Latte"), Product.objects.get(name="Mocha")
    cashier_client.post("/order/add/", {"product": latte.pk}, **FETCH)
    parked = Order.objects.get()
    cashier_client.post("/order/park/")
    page = cashier_client.post("/order/add/", {"product": mocha.pk}, **FETCH).content.decode()
    assert "Open orders (1):" in page and f'data-order="{parked.pk}">#{parked.pk} · ' in page
    assert "· £3.50</button>" in page and 'id="order-total" data-minor="380">£3.80<' in page
    line = Order.objects.get(lines__product=mocha).lines.get()
    assert page.count(f'action="/order/line/{line.pk}/"') == 2 and 'action="/order/resume/"' in page  # − and +
    assert 'action="/order/pay/"' in page and 'action="/order/park/"' in page and 'action="/order/table/"' in page


@pytest.mark.django_db(transaction=True)
def test_a_receiver_of_order_line_saves_still_hears_every_one():
    """The till writes its lines with a statement compiled once, unless someone listens: then with save()."""
    from django.db.models.signals import post_save

    from pos.services import demo

    shop = demo.create_demo_data()
    client = Client()
    _sign_in(client, shop)
    heard: list[tuple[str, int, bool]] = []

    def listen(sender, instance, created, **kwargs):
        heard.append((instance.product_name, instance.quantity, created))

    post_save.connect(listen, sender=OrderLine, dispatch_uid="test-listen")
    try:
        latte = Product.objects.get(name="Latte")
        client.post("/order/add/", {"product": latte.pk}, **FETCH)
        client.post("/order/add/", {"product": latte.pk}, **FETCH)
    finally:
        post_save.disconnect(dispatch_uid="test-listen", sender=OrderLine)
    assert heard == [("Latte", 1, True), ("Latte", 2, False)]
    assert Order.objects.get().total_minor == 700


@pytest.mark.django_db
def test_a_refused_fast_write_spoils_its_transaction_as_save_does():
    """A line SQLite refuses (a negative quantity) marks the sale's transaction for rollback: no half sale commits."""
    from django.contrib.auth import get_user_model
    from django.db import IntegrityError, transaction

    from pos.services import demo, prepared

    demo.create_demo_data()
    order = orders.open_order(get_user_model().objects.get(username="cashier"))
    refused = OrderLine(
        order=order, product_name="Latte", unit_price_minor=350, vat_rate_bp=2000, quantity=-1,
        line_total_minor=-350, vat_minor=-58,
    )  # fmt: skip
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            prepared.insert(refused)
        assert transaction.get_connection().needs_rollback
    assert not OrderLine.objects.filter(order=order).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (("no_such_column",), "do not exist in this model"),
        (("id",), "primary keys"),
        (("order",), "unsaved related object 'order'"),
    ],
)
def test_a_compiled_update_refuses_what_save_refuses_with_the_same_error(fields, says):
    """Not a column, the id, or an unsaved order assigned to the line: ValueError, nothing written, as save()."""
    from django.contrib.auth import get_user_model

    from pos.services import demo, prepared

    demo.create_demo_data()
    order = orders.open_order(get_user_model().objects.get(username="cashier"))
    line = OrderLine(
        order=order, product_name="Latte", unit_price_minor=350, vat_rate_bp=2000, quantity=1,
        line_total_minor=350, vat_minor=58,
    )  # fmt: skip
    prepared.insert(line)
    line.quantity = 9
    if "order" in fields:
        line.order = Order()  # never saved
    for write in (lambda: line.save(update_fields=list(fields)), lambda: prepared.update(line, fields)):
        with pytest.raises(ValueError, match=says):
            write()
    assert OrderLine.objects.get(pk=line.pk).quantity == 1
