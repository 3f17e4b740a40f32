"""``manage.py check_update [--json]``: ask the update repository; exit 2 if it cannot be fetched or trusted.

A release that failed to install on this machine is not offered: stdout says
``Up to date: <installed>`` and stderr says why; ``--json`` lists it in
``skipped_versions`` (with ``update_available`` false and ``failed_here`` true).
"""

from __future__ import annotations

from maintenance.management.base import MaintenanceCommand, Outcome
from maintenance.updates.client import check


class Command(MaintenanceCommand):
    help = "Check AURSWIFT_UPDATE_URL for a newer release (verified with the app's trusted root)."

    def run(self, *, as_json: bool, **options) -> Outcome:
        offer = check()
        if offer.failed_here:
            self.stderr.write(offer.skipped_reason())
        line = f"Update available: {offer.version}" if offer.newer else f"Up to date: {offer.installed}"
        return Outcome(lines=[line], data=offer.as_dict())
