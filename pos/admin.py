"""Django admin for managers: the shop's catalogue, staff, and read-only sales history."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponseRedirect

from pos.exceptions import InvalidInput, SignInError
from pos.models import (
    Business,
    Category,
    Order,
    OrderLine,
    Payment,
    Product,
    Refund,
    StaffProfile,
    Table,
    VatRate,
    ZReport,
)
from pos.services import pins
from pos.services.money import MAX_AMOUNT_MINOR, format_money, parse_money

MAX_ID = 2**63 - 1  # SQLite's largest integer


def _is_id(value: object) -> bool:
    text = str(value).strip()
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID


def _money(field: str, label: str):
    def show(obj) -> str:
        return format_money(getattr(obj, field) or 0)

    show.short_description = label  # type: ignore[attr-defined]
    show.admin_order_field = field  # type: ignore[attr-defined]
    return show


class CheckedAdmin(admin.ModelAdmin):
    """Refuse, with a message, the posted and linked values Django's admin would turn into a server error.

    Django validates form fields itself; what it does not check are the ids an
    action posts (``_selected_action=10**30`` overflows SQLite) and the
    date-hierarchy links (``created_at__year=10**30`` overflows ``datetime``).
    """

    NUMBER_LIMITS = {"seats": (1, 500), "sort_order": (0, 9999), "rate_bp": (0, 10000)}
    """Whole numbers a shop can mean: seats at a table, a tile's place, a VAT rate up to 100 %."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.NUMBER_LIMITS:
            kwargs["min_value"], kwargs["max_value"] = self.NUMBER_LIMITS[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        if not all(_is_id(value) for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, "Tick the items in the list, then choose an action.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)

    def changelist_view(self, request, extra_context=None):
        if self.date_hierarchy:
            limits = {"year": 9999, "month": 12, "day": 31}
            for part, top in limits.items():
                value = request.GET.get(f"{self.date_hierarchy}__{part}")
                if value is not None and not (value.isascii() and value.isdigit() and 0 < int(value[:5]) <= top):
                    self.message_user(request, "That date is not in the calendar: showing all.", messages.WARNING)
                    return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)


@admin.register(Business)
class BusinessAdmin(CheckedAdmin):
    list_display = ["name", "currency", "vat_number"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Business.objects.exists()


class StaffProfileForm(forms.ModelForm):
    new_pin = forms.CharField(
        required=False,
        label="New till PIN",
        widget=forms.PasswordInput(render_value=False),
        help_text="4 to 8 digits. Leave empty to keep the current PIN. Stored hashed.",
    )

    class Meta:
        model = StaffProfile
        fields = ["user", "role", "new_pin"]

    def clean_new_pin(self) -> str:
        pin = self.cleaned_data.get("new_pin", "")
        if pin and not pins.PIN_RE.fullmatch(pin):
            raise forms.ValidationError("A PIN is 4 to 8 digits (0-9), nothing else.")
        return pin


class ProductForm(forms.ModelForm):
    """The price is typed as money (``3.40`` or ``3,40``), read by the till's one money parser."""

    price = forms.CharField(
        label="Price",
        help_text=(
            "VAT inclusive, e.g. 3.40 or 3,40. No thousands separators; at most two decimals; "
            f"up to {format_money(MAX_AMOUNT_MINOR, '')}."
        ),
    )

    class Meta:
        model = Product
        fields = ["name", "category", "price", "vat_rate", "sku", "barcode", "active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.price_minor is not None:
            whole, cents = divmod(self.instance.price_minor, 100)
            self.initial.setdefault("price", f"{whole}.{cents:02d}")

    def clean_price(self) -> str:
        try:
            self.instance.price_minor = parse_money(self.cleaned_data["price"])
        except InvalidInput as err:
            raise forms.ValidationError(err.message) from err
        return self.cleaned_data["price"]


@admin.register(StaffProfile)
class StaffProfileAdmin(CheckedAdmin):
    form = StaffProfileForm
    list_display = ["display_name", "role", "has_pin", "locked"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    actions = ["unlock"]

    @admin.display(boolean=True, description="PIN set")
    def has_pin(self, obj: StaffProfile) -> bool:
        return bool(obj.pin_hash)

    @admin.display(boolean=True, description="Locked")
    def locked(self, obj: StaffProfile) -> bool:
        from django.utils import timezone

        return bool(obj.pin_locked_until and obj.pin_locked_until > timezone.now())

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        pin = form.cleaned_data.get("new_pin")
        if pin:
            try:
                pins.set_pin(obj, pin)
            except SignInError as err:
                messages.error(request, err.message)

    @admin.action(description="Unlock till sign-in")
    def unlock(self, request, queryset) -> None:
        queryset.update(failed_pin_attempts=0, pin_locked_until=None)


@admin.register(VatRate)
class VatRateAdmin(CheckedAdmin):
    list_display = ["name", "rate_bp"]


@admin.register(Category)
class CategoryAdmin(CheckedAdmin):
    list_display = ["name", "sort_order", "colour"]
    list_editable = ["sort_order"]
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(CheckedAdmin):
    form = ProductForm
    list_display = ["name", "category", _money("price_minor", "price"), "vat_rate", "sku", "barcode", "active"]
    list_filter = ["active", "category", "vat_rate"]
    search_fields = ["name", "sku", "barcode"]
    list_select_related = ["category", "vat_rate"]
    list_editable = ["active"]


@admin.register(Table)
class TableAdmin(CheckedAdmin):
    list_display = ["name", "seats", "active"]
    list_filter = ["active"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product_name", "quantity", "unit_price_minor", "vat_rate_bp", "line_total_minor", "vat_minor"]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["method", "amount_minor", "tendered_minor", "change_minor", "created_at", "taken_by"]


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["amount_minor", "method", "reason", "created_at", "refunded_by"]


@admin.register(Order)
class OrderAdmin(CheckedAdmin):
    """Orders are the shop's records: paid, void and refunded ones cannot be edited or deleted."""

    list_display = [
        "id",
        "created_at",
        "status",
        "cashier",
        "table",
        _money("total_minor", "total"),
        _money("vat_minor", "VAT"),
    ]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter), "table"]
    search_fields = ["id"]
    ordering = ["-created_at", "-id"]
    list_select_related = ["cashier", "table"]
    inlines = [OrderLineInline, PaymentInline, RefundInline]
    show_full_result_count = False  # a count(*) over a million orders on every page is not worth it
    readonly_fields = [
        "status",
        "cashier",
        "created_at",
        "paid_at",
        "total_minor",
        "vat_minor",
        "voided_at",
        "voided_by",
        "z_report",
    ]
    fields = readonly_fields[:4] + ["table", "void_reason"] + readonly_fields[4:]

    def has_add_permission(self, request) -> bool:
        return False  # orders are rung up on the till

    def has_change_permission(self, request, obj: Order | None = None) -> bool:
        if obj is not None and obj.status != Order.Status.OPEN:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj: Order | None = None) -> bool:
        if obj is not None and obj.status != Order.Status.OPEN:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ZReport)
class ZReportAdmin(CheckedAdmin):
    list_display = [
        "id",
        "created_at",
        "closed_by",
        "order_count",
        _money("gross_minor", "gross"),
        _money("vat_minor", "VAT"),
        _money("refunds_minor", "refunds"),
    ]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(CheckedAdmin):
    list_display = ["id", "order", _money("amount_minor", "amount"), "method", "reason", "created_at", "refunded_by"]
    list_filter = ["method"]
    list_select_related = ["order", "refunded_by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.site_header = "AurSwift back-office"
admin.site.site_title = "AurSwift"
admin.site.index_title = "Run the shop"
