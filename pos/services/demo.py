"""Demo data for a first run: a small café, its menu and two members of staff.

Credentials are random and returned to the caller, which prints them once;
nothing is hard-coded.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from pos.models import Business, Category, Product, StaffProfile, Table, VatRate

MANAGERS_GROUP = "Managers"

MENU: dict[str, list[tuple[str, int, str]]] = {
    # category: [(name, price in pence, VAT rate name)]
    "Hot drinks": [
        ("Espresso", 220, "Standard"),
        ("Americano", 280, "Standard"),
        ("Cappuccino", 340, "Standard"),
        ("Latte", 350, "Standard"),
        ("Flat white", 340, "Standard"),
        ("Mocha", 380, "Standard"),
        ("Hot chocolate", 330, "Standard"),
        ("English breakfast tea", 230, "Standard"),
    ],
    "Cold drinks": [
        ("Orange juice", 260, "Standard"),
        ("Apple juice", 260, "Standard"),
        ("Still water", 150, "Standard"),
        ("Sparkling water", 170, "Standard"),
        ("Cola", 210, "Standard"),
        ("Iced latte", 390, "Standard"),
    ],
    "Food": [
        ("Croissant", 245, "Standard"),
        ("Pain au chocolat", 265, "Standard"),
        ("Bacon roll", 425, "Standard"),
        ("Cheese toastie", 525, "Standard"),
        ("Soup of the day", 495, "Standard"),
        ("Club sandwich", 695, "Standard"),
        ("Full breakfast", 995, "Standard"),
        ("Porridge", 375, "Standard"),
    ],
    "Cakes": [
        ("Carrot cake", 360, "Standard"),
        ("Brownie", 295, "Standard"),
        ("Lemon drizzle", 330, "Standard"),
        ("Scone with jam", 310, "Standard"),
    ],
    "Take home": [
        ("Coffee beans 250g", 899, "Zero"),
        ("Loose tea 100g", 599, "Zero"),
        ("Sourdough loaf", 450, "Zero"),
        ("Jar of honey", 650, "Zero"),
        ("Reusable cup", 1200, "Standard"),
        ("Greetings card", 295, "Standard"),
    ],
}
CATEGORY_COLOURS = ["#8d5524", "#2f7d9b", "#b5651d", "#a64d79", "#4f7942"]


@dataclass(frozen=True)
class DemoCredentials:
    manager_username: str
    manager_password: str
    manager_pin: str
    cashier_username: str
    cashier_pin: str


def _random_pin() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(4))


def needs_demo_data() -> bool:
    """Return True on a first run: no business and no products yet."""
    return not Business.objects.exists() and not Product.objects.exists()


def needs_first_staff() -> bool:
    """Return True when nobody could sign in: no member of staff at all."""
    return not StaffProfile.objects.exists()


def ensure_managers_group() -> Group:
    """Return the Managers group, with every permission of the shop's apps."""
    group, _ = Group.objects.get_or_create(name=MANAGERS_GROUP)
    perms = Permission.objects.filter(content_type__app_label__in=["pos", "maintenance", "auth"])
    group.permissions.set(perms)
    return group


@transaction.atomic
def create_demo_data() -> DemoCredentials:
    """Create the demo shop and return the freshly generated credentials."""
    Business.objects.create(
        name="AurSwift Demo Café",
        currency="GBP",
        currency_symbol="£",
        vat_number="GB123456789",
        address="1 High Street\nAnytown AN1 1AA",
    )
    rates = {
        "Standard": VatRate.objects.create(name="Standard", rate_bp=2000),
        "Reduced": VatRate.objects.create(name="Reduced", rate_bp=500),
        "Zero": VatRate.objects.create(name="Zero", rate_bp=0),
    }
    sku = 1000
    for order, (cat_name, items) in enumerate(MENU.items()):
        category = Category.objects.create(name=cat_name, sort_order=order, colour=CATEGORY_COLOURS[order])
        for name, price, rate in items:
            sku += 1
            Product.objects.create(
                name=name,
                category=category,
                price_minor=price,
                vat_rate=rates[rate],
                sku=f"SKU{sku}",
                barcode=f"50{sku:011d}",
            )
    for number in range(1, 9):
        Table.objects.create(name=f"Table {number}", seats=4 if number % 2 else 2)
    return create_first_staff()


@transaction.atomic
def create_first_staff() -> DemoCredentials:
    """Create a manager and a cashier with random credentials, and return them."""
    user_model = get_user_model()
    manager_password = secrets.token_urlsafe(12)
    creds = DemoCredentials(
        manager_username="manager",
        manager_password=manager_password,
        manager_pin=_random_pin(),
        cashier_username="cashier",
        cashier_pin=_random_pin(),
    )
    manager = user_model.objects.create_user(
        "manager", password=manager_password, first_name="Morgan", last_name="Manager", is_staff=True
    )
    manager.groups.add(ensure_managers_group())
    StaffProfile.objects.create(user=manager, role=StaffProfile.Role.MANAGER, pin_hash=make_password(creds.manager_pin))
    cashier = user_model.objects.create_user("cashier", first_name="Casey", last_name="Cashier")
    cashier.set_unusable_password()
    cashier.save()
    StaffProfile.objects.create(user=cashier, role=StaffProfile.Role.CASHIER, pin_hash=make_password(creds.cashier_pin))
    return creds


def prepare_first_run() -> DemoCredentials | None:
    """Create what a first run needs (demo shop, or just staff); return new credentials, if any."""
    if needs_demo_data():
        return create_demo_data()
    if needs_first_staff():
        return create_first_staff()
    return None


def format_credentials(creds: DemoCredentials) -> str:
    """Return the one-time message that tells the shop owner how to sign in."""
    return (
        "First run: staff accounts created. These credentials are shown only once:\n"
        f"  Manager  admin login: {creds.manager_username} / {creds.manager_password}   till PIN: {creds.manager_pin}\n"
        f"  Cashier  till PIN: {creds.cashier_pin}\n"
    )
