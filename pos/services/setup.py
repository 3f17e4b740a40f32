"""A new, empty shop from the first-run wizard's answers: the business, its VAT rates, the first manager."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from pos.models import Business, StaffProfile, VatRate
from pos.services import demo, pins


@dataclass(frozen=True)
class ShopSetup:
    """The first-run wizard's answers for an empty shop."""

    name: str
    vat_rates: list[tuple[str, int]]  # (name, basis points)
    manager_first_name: str
    manager_last_name: str
    manager_username: str
    manager_password: str
    manager_pin: str

    @property
    def manager_display(self) -> str:
        full = f"{self.manager_first_name} {self.manager_last_name}".strip()
        return f"{full} ({self.manager_username})" if full else self.manager_username


def create_empty_shop(shop: ShopSetup) -> StaffProfile:
    """Create the shop in one transaction (all of it or nothing) and return the manager's staff profile."""
    with transaction.atomic():
        Business.objects.create(name=shop.name)
        for name, rate_bp in shop.vat_rates:
            VatRate.objects.create(name=name, rate_bp=rate_bp)
        user = get_user_model().objects.create_user(
            shop.manager_username,
            password=shop.manager_password,
            first_name=shop.manager_first_name,
            last_name=shop.manager_last_name,
            is_staff=True,
        )
        user.groups.add(demo.ensure_managers_group())
        profile = StaffProfile.objects.create(user=user, role=StaffProfile.Role.MANAGER)
        pins.set_pin(profile, shop.manager_pin)
    return profile
