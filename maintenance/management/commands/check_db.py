"""``manage.py check_db``: the full health report; exit 0 healthy, 1 otherwise; changes nothing."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from maintenance.db.health import check_health
from maintenance.db.upgrade import live_db_path
from maintenance.management.commands._common import exit_with


class Command(BaseCommand):
    help = "Check the database fully (integrity, foreign keys, fingerprints, pending migrations, disk)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args, json: bool = False, **options) -> None:
        report = check_health(live_db_path(), settings.DATA_DIR, full=True)
        if json:
            self.stdout.write(_dumps(report.as_dict()))
        else:
            for line in report.lines():
                self.stdout.write(line)
        exit_with(0 if report.healthy else 1)


def _dumps(data: dict) -> str:
    return json.dumps(data, default=str)
