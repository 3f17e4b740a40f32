"""``manage.py apply_update``: download, verify and stage the newest release, or refuse (exit 2)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from maintenance.management.commands._common import exit_with
from maintenance.updates.client import UpdateError, check, stage


class Command(BaseCommand):
    help = "Download, verify and stage the newest release (exit 0), or refuse and change nothing (exit 2)."

    def handle(self, *args, **options) -> None:
        try:
            offer = check()
            if not offer.newer:
                if offer.failed_here:
                    self.stderr.write(offer.skipped_reason())
                self.stdout.write(f"Up to date: {offer.installed}")
                return
            if _sale_open():
                raise UpdateError("A sale is open on the till: finish or void it, then update.")
            path = stage(offer, progress=lambda done: None)
        except UpdateError as err:
            self.stderr.write(err.message)
            exit_with(2)
            return
        self.stdout.write(f"Staged: {offer.version} in {path}")


def _sale_open() -> bool:
    """An update never starts while a sale is open (no database yet: nothing open)."""
    from django.db import DatabaseError

    from pos.services.orders import has_open_sale

    try:
        return has_open_sale()
    except DatabaseError:
        return False
