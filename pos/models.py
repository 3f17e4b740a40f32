"""The EPOS domain: the shop, its staff, what it sells and what it has sold.

Money is always an integer number of minor units (pence, cents) in a field
whose name ends in ``_minor``; prices are VAT-inclusive. VAT rates are stored
in basis points (2000 = 20.00 %) so they are exact integers too. Order lines
snapshot the product's name, price and VAT rate at sale time, so editing a
product never rewrites history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Business(models.Model):
    """The shop itself: what the receipt header shows."""

    name = models.CharField(max_length=120)
    currency = models.CharField(max_length=3, default="GBP", help_text="ISO 4217 code, e.g. GBP")
    currency_symbol = models.CharField(max_length=4, default="£")
    vat_number = models.CharField("VAT number", max_length=32, blank=True)
    address = models.TextField(blank=True)
    receipt_footer = models.CharField(max_length=200, blank=True, default="Thank you for your custom!")

    class Meta:
        verbose_name_plural = "business"

    def __str__(self) -> str:
        return self.name


class StaffProfile(models.Model):
    """A member of staff on the till: role and hashed PIN, on top of a Django user."""

    class Role(models.TextChoices):
        CASHIER = "cashier", "Cashier"
        MANAGER = "manager", "Manager"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CASHIER)
    pin_hash = models.CharField(
        max_length=128, blank=True, help_text="Set with the till PIN action; never stored in clear."
    )
    failed_pin_attempts = models.PositiveSmallIntegerField(default=0)
    pin_locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__first_name", "user__username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class VatRate(models.Model):
    name = models.CharField(max_length=40, unique=True)
    rate_bp = models.PositiveIntegerField("rate (basis points)", help_text="2000 means 20.00 %")

    class Meta:
        ordering = ["-rate_bp"]
        verbose_name = "VAT rate"

    def __str__(self) -> str:
        return f"{self.name} ({self.rate_bp / 100:g} %)"


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    colour = models.CharField(max_length=7, default="#4a6fa5", help_text="Tile colour on the till, e.g. #4a6fa5")

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=120)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    sku = models.CharField("SKU", max_length=40, unique=True, null=True, blank=True)
    barcode = models.CharField(max_length=40, unique=True, null=True, blank=True)
    price_minor = models.PositiveIntegerField("price (minor units, VAT inclusive)")
    vat_rate = models.ForeignKey(VatRate, on_delete=models.PROTECT, related_name="products")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category__sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Table(models.Model):
    """A restaurant table an order can be assigned to."""

    name = models.CharField(max_length=30, unique=True)
    seats = models.PositiveSmallIntegerField(default=2)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ZReport(models.Model):
    """A closed takings period: the totals frozen when the manager ran the Z report."""

    created_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order_count = models.PositiveIntegerField(default=0)
    gross_minor = models.BigIntegerField(default=0)
    vat_minor = models.BigIntegerField(default=0)
    refunds_minor = models.BigIntegerField(default=0)
    refunds_vat_minor = models.BigIntegerField(default=0)
    refund_count = models.PositiveIntegerField(default=0)
    void_count = models.PositiveIntegerField(default=0)
    by_method = models.JSONField(default=dict, help_text="minor units per payment method")
    by_vat_rate = models.JSONField(default=dict, help_text="gross and VAT per rate (basis points)")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "Z report"

    def __str__(self) -> str:
        return f"Z report #{self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"
        REFUNDED = "refunded", "Refunded"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    cashier = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    table = models.ForeignKey(Table, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    total_minor = models.BigIntegerField(default=0)
    vat_minor = models.BigIntegerField(default=0)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=200, blank=True)
    z_report = models.ForeignKey(ZReport, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["paid_at"]),
            # the admin's order list sorts by date over every order ever taken
            models.Index(fields=["-created_at", "-id"], name="pos_order_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    product_name = models.CharField(max_length=120)
    unit_price_minor = models.PositiveIntegerField()
    vat_rate_bp = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField(default=1)
    line_total_minor = models.BigIntegerField(default=0)
    vat_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name}"


class Payment(models.Model):
    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CARD = "card", "Card"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=10, choices=Method.choices)
    amount_minor = models.BigIntegerField()
    tendered_minor = models.BigIntegerField(null=True, blank=True, help_text="cash handed over")
    change_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount_minor}"


class Refund(models.Model):
    """Money given back on a paid order: all of it or some of its lines, approved by a manager."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField()
    vat_minor = models.BigIntegerField(default=0, help_text="VAT contained in the amount refunded")
    method = models.CharField(max_length=10, choices=Payment.Method.choices)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    refunded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    z_report = models.ForeignKey(ZReport, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Refund #{self.pk} on order #{self.order_id}"


class RefundLine(models.Model):
    """How much of one order line a refund gave back."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refunds")
    quantity = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField()
    vat_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.product_name}"


class LineVoid(models.Model):
    """A line taken off an open order with a manager's approval: kept for the record."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_voids")
    product_name = models.CharField(max_length=120)
    quantity = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    z_report = models.ForeignKey(ZReport, on_delete=models.PROTECT, null=True, blank=True, related_name="line_voids")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "voided line"

    def __str__(self) -> str:
        return f"Void {self.quantity} × {self.product_name} on order #{self.order_id}"
