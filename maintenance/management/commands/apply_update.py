"""``manage.py apply_update``: download, verify and stage the newest release, or refuse (exit 2)."""

from __future__ import annotations

from maintenance.management.base import MaintenanceCommand, Outcome
from maintenance.updates.client import UpdateError, check, stage
from maintenance.updates.service import sale_open


class Command(MaintenanceCommand):
    help = "Download, verify and stage the newest release (exit 0), or refuse and change nothing (exit 2)."
    stopped_message = "Nothing was staged; the next apply_update continues the download."

    def run(self, *, as_json: bool, **options) -> Outcome:
        offer = check()
        if not offer.newer:
            if offer.failed_here:
                self.stderr.write(offer.skipped_reason())
            return Outcome(lines=[f"Up to date: {offer.installed}"], data={"outcome": "up_to_date"})
        if sale_open():
            raise UpdateError("A sale is open on the till: finish or void it, then update.")
        path = stage(offer, progress=lambda done: None)
        return Outcome(lines=[f"Staged: {offer.version} in {path}"], data={"outcome": "staged", "path": str(path)})
