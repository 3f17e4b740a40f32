"""Django admin for managers: the shop's catalogue, staff, and read-only sales history."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from pos.exceptions import InvalidInput, SignInError
from pos.models import (
    Business,
    Category,
    LineVoid,
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


def _symbol() -> str:
    return Business.objects.values_list("currency_symbol", flat=True).first() or "£"


def _money(field: str, label: str):
    def show(obj) -> str:
        return format_money(getattr(obj, field) or 0, _symbol())

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
    """A member of staff in one form: name, role and till PIN (the Django user is made and kept in step)."""

    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    new_pin = forms.CharField(
        required=False,
        label="Till PIN",
        widget=forms.PasswordInput(render_value=False),
        help_text="4 to 8 digits. Leave empty to keep the current PIN. Stored hashed.",
    )
    active = forms.BooleanField(label="Can sign in", required=False, initial=True)
    backoffice_password = forms.CharField(
        required=False,
        label="Back-office password",
        widget=forms.PasswordInput(render_value=False),
        help_text="Managers only: to sign in to this back-office. Leave empty to keep the current one.",
    )

    class Meta:
        model = StaffProfile
        fields = ["first_name", "last_name", "role", "new_pin", "active", "backoffice_password"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        user = getattr(self.instance, "user", None) if self.instance.pk else None
        if user is not None:
            self.initial.setdefault("first_name", user.first_name)
            self.initial.setdefault("last_name", user.last_name)
            self.initial.setdefault("active", user.is_active)
        else:
            self.fields["new_pin"].required = True
            self.fields["new_pin"].help_text = "4 to 8 digits. Stored hashed."

    def clean_new_pin(self) -> str:
        pin = self.cleaned_data.get("new_pin", "")
        if pin and not pins.PIN_RE.fullmatch(pin):
            raise forms.ValidationError("A PIN is 4 to 8 digits (0-9), nothing else.")
        return pin

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("backoffice_password")
        if password and cleaned.get("role") != StaffProfile.Role.MANAGER:
            self.add_error("backoffice_password", "Only managers sign in to the back-office.")
        elif password:
            from django.contrib.auth import password_validation

            try:
                password_validation.validate_password(password)
            except forms.ValidationError as err:
                self.add_error("backoffice_password", err)
        return cleaned

    def _username(self) -> str:
        from django.contrib.auth import get_user_model
        from django.utils.text import slugify

        base = slugify(f"{self.cleaned_data['first_name']} {self.cleaned_data.get('last_name', '')}")[:140] or "staff"
        users = get_user_model().objects
        name, n = base, 1
        while users.filter(username=name).exists():
            n += 1
            name = f"{base}-{n}"
        return name

    def save(self, commit: bool = True) -> StaffProfile:
        from django.contrib.auth import get_user_model

        from pos.services.demo import ensure_managers_group

        profile = super().save(commit=False)
        user = profile.user if profile.user_id else get_user_model()(username=self._username())
        if not user.pk:
            user.set_unusable_password()
        user.first_name = self.cleaned_data["first_name"].strip()
        user.last_name = (self.cleaned_data.get("last_name") or "").strip()
        user.is_active = self.cleaned_data.get("active", True)
        is_manager = profile.role == StaffProfile.Role.MANAGER
        user.is_staff = is_manager and (
            user.has_usable_password() or bool(self.cleaned_data.get("backoffice_password"))
        )
        if self.cleaned_data.get("backoffice_password"):
            user.set_password(self.cleaned_data["backoffice_password"])
        user.save()
        group = ensure_managers_group()
        if is_manager:
            user.groups.add(group)
        else:
            user.groups.remove(group)
            user.is_staff = False
            user.set_unusable_password()
            user.save()
        profile.user = user
        if commit:
            profile.save()
        return profile


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
    list_display = ["display_name", "role", "has_pin", "locked", "can_sign_in"]
    list_filter = ["role"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    actions = ["unlock"]

    @admin.display(boolean=True, description="PIN set")
    def has_pin(self, obj: StaffProfile) -> bool:
        return bool(obj.pin_hash)

    @admin.display(boolean=True, description="Can sign in")
    def can_sign_in(self, obj: StaffProfile) -> bool:
        return obj.user.is_active

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


class VatRateForm(forms.ModelForm):
    """The rate is typed in percent ("20" or "17.5" or "5,5"), stored in basis points (2000)."""

    percent = forms.CharField(label="Rate (%)", max_length=10, help_text="In percent, e.g. 20 for 20 %, 5 or 17.5.")

    class Meta:
        model = VatRate
        fields = ["name", "percent"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.rate_bp is not None:
            whole, hundredths = divmod(self.instance.rate_bp, 100)
            self.initial.setdefault("percent", f"{whole}.{hundredths:02d}".rstrip("0").rstrip("."))

    def clean_percent(self) -> str:
        text = self.cleaned_data["percent"].strip().rstrip("%").strip()
        try:
            basis_points = parse_money(text)  # the same rules: digits, one separator, two decimals at most
        except InvalidInput:
            raise forms.ValidationError("Type the rate in percent, e.g. 20 or 17.5.") from None
        if basis_points > 10000:
            raise forms.ValidationError("A VAT rate is at most 100 %.")
        self.instance.rate_bp = basis_points
        return text


@admin.register(VatRate)
class VatRateAdmin(CheckedAdmin):
    form = VatRateForm
    list_display = ["name", "percent"]

    @admin.display(description="rate", ordering="rate_bp")
    def percent(self, obj: VatRate) -> str:
        return f"{obj.rate_bp / 100:g} %"


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
    fields = ["product_name", "quantity", "unit_price", "vat_rate", "line_total", "vat"]
    readonly_fields = fields

    @admin.display(description="unit price")
    def unit_price(self, obj: OrderLine) -> str:
        return format_money(obj.unit_price_minor, _symbol())

    @admin.display(description="VAT rate")
    def vat_rate(self, obj: OrderLine) -> str:
        return f"{obj.vat_rate_bp / 100:g} %"

    @admin.display(description="total")
    def line_total(self, obj: OrderLine) -> str:
        return format_money(obj.line_total_minor, _symbol())

    @admin.display(description="VAT")
    def vat(self, obj: OrderLine) -> str:
        return format_money(obj.vat_minor, _symbol())


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["method", "amount", "tendered", "change", "created_at", "taken_by"]
    readonly_fields = fields

    @admin.display(description="amount")
    def amount(self, obj: Payment) -> str:
        return format_money(obj.amount_minor, _symbol())

    @admin.display(description="cash tendered")
    def tendered(self, obj: Payment) -> str:
        return "—" if obj.tendered_minor is None else format_money(obj.tendered_minor, _symbol())

    @admin.display(description="change")
    def change(self, obj: Payment) -> str:
        return format_money(obj.change_minor, _symbol())


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["amount", "vat", "method", "reason", "created_at", "refunded_by", "approved_by"]
    readonly_fields = fields

    @admin.display(description="amount")
    def amount(self, obj: Refund) -> str:
        return format_money(obj.amount_minor, _symbol())

    @admin.display(description="VAT")
    def vat(self, obj: Refund) -> str:
        return format_money(obj.vat_minor, _symbol())


class LineVoidInline(ReadOnlyInline):
    model = LineVoid
    fields = ["product_name", "quantity", "amount", "reason", "created_at", "requested_by", "approved_by"]
    readonly_fields = fields

    @admin.display(description="amount")
    def amount(self, obj: LineVoid) -> str:
        return format_money(obj.amount_minor, _symbol())


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
    inlines = [OrderLineInline, PaymentInline, RefundInline, LineVoidInline]
    show_full_result_count = False  # a count(*) over a million orders on every page is not worth it
    readonly_fields = [
        "status",
        "cashier",
        "created_at",
        "paid_at",
        "total",
        "vat",
        "voided_at",
        "voided_by",
        "z_report",
        "receipt",
    ]
    fields = readonly_fields[:4] + ["table", "void_reason"] + readonly_fields[4:]

    @admin.display(description="total")
    def total(self, obj: Order) -> str:
        return format_money(obj.total_minor, _symbol())

    @admin.display(description="VAT")
    def vat(self, obj: Order) -> str:
        return format_money(obj.vat_minor, _symbol())

    @admin.display(description="receipt")
    def receipt(self, obj: Order):
        if obj.pk is None or obj.status == Order.Status.OPEN:
            return "—"
        links = [format_html('<a href="{}">Reprint receipt</a>', reverse("pos:receipt", args=[obj.pk]))]
        if obj.status == Order.Status.PAID:
            links.append(format_html('<a href="{}">Refund…</a>', reverse("pos:refund", args=[obj.pk])))
        return format_html_join(" · ", "{}", ((link,) for link in links))

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
    fields = [
        "printable",
        "created_at",
        "closed_by",
        "order_count",
        "gross",
        "vat",
        "refunds",
        "net",
        "methods",
        "rates",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="report")
    def printable(self, obj: ZReport):
        return format_html('<a href="{}">Open the printable Z report</a>', reverse("pos:z_detail", args=[obj.pk]))

    @admin.display(description="gross takings")
    def gross(self, obj: ZReport) -> str:
        return format_money(obj.gross_minor, _symbol())

    @admin.display(description="of which VAT")
    def vat(self, obj: ZReport) -> str:
        return format_money(obj.vat_minor, _symbol())

    @admin.display(description="refunds")
    def refunds(self, obj: ZReport) -> str:
        return f"{format_money(obj.refunds_minor, _symbol())} ({obj.refund_count})"

    @admin.display(description="net takings")
    def net(self, obj: ZReport) -> str:
        return format_money(obj.gross_minor - obj.refunds_minor, _symbol())

    @admin.display(description="by payment method")
    def methods(self, obj: ZReport):
        names = {"cash": "Cash", "card": "Card", "cash_refunds": "Cash refunds", "card_refunds": "Card refunds"}
        rows = ((names.get(k, k), format_money(int(v or 0), _symbol())) for k, v in (obj.by_method or {}).items())
        return format_html_join(mark_safe("<br>"), "{}: {}", rows) or "—"

    @admin.display(description="by VAT rate")
    def rates(self, obj: ZReport):
        items = sorted(((int(k), v) for k, v in (obj.by_vat_rate or {}).items()), reverse=True)
        sym = _symbol()
        rows = (
            (f"{bp / 100:g} %", format_money(int(v.get("gross", 0)), sym), format_money(int(v.get("vat", 0)), sym))
            for bp, v in items
        )
        return format_html_join(mark_safe("<br>"), "{}: gross {}, VAT {}", rows) or "—"


@admin.register(Refund)
class RefundAdmin(CheckedAdmin):
    list_display = [
        "id",
        "order",
        _money("amount_minor", "amount"),
        _money("vat_minor", "VAT"),
        "method",
        "reason",
        "created_at",
        "refunded_by",
        "approved_by",
    ]
    list_filter = ["method"]
    list_select_related = ["order", "refunded_by", "approved_by"]
    fields = ["order", "amount", "vat", "method", "reason", "created_at", "refunded_by", "approved_by", "z_report"]
    readonly_fields = fields

    @admin.display(description="amount")
    def amount(self, obj: Refund) -> str:
        return format_money(obj.amount_minor, _symbol())

    @admin.display(description="VAT")
    def vat(self, obj: Refund) -> str:
        return format_money(obj.vat_minor, _symbol())

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.site_header = "AurSwift back-office"
admin.site.site_title = "AurSwift"
admin.site.index_title = "Run the shop"
