"""``manage.py check_update [--json]``: ask the update repository; exit 2 if it cannot be fetched or trusted.

A release that failed to install on this machine is not offered: stdout says
``Up to date: <installed>`` and stderr says why; ``--json`` lists it in
``skipped_versions`` (with ``update_available`` false and ``failed_here`` true).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from maintenance.management.commands._common import exit_with
from maintenance.updates.client import UpdateError, check


class Command(BaseCommand):
    help = "Check AURSWIFT_UPDATE_URL for a newer release (verified with the app's trusted root)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, json: bool = False, **options) -> None:
        as_json = json
        try:
            offer = check()
        except UpdateError as err:
            if as_json:
                self.stdout.write(_dumps(err.as_dict()))
            else:
                self.stderr.write(err.message)
            exit_with(2)
            return
        if offer.failed_here:
            self.stderr.write(offer.skipped_reason())
        if as_json:
            self.stdout.write(_dumps(offer.as_dict()))
        elif offer.newer:
            self.stdout.write(f"Update available: {offer.version}")
        else:
            self.stdout.write(f"Up to date: {offer.installed}")


def _dumps(data: dict) -> str:
    return json.dumps(data, default=str)
