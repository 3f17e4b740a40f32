"""Start-up with nothing pending, in its own process against AURSWIFT_DATA_DIR; prints one JSON line."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    import django

    django.setup()


def startup(repeat: int = 7) -> dict:
    """Time the database part of start-up when nothing is pending."""
    from maintenance.db.upgrade import run_guarded_upgrade

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = run_guarded_upgrade()
        times.append(time.perf_counter() - started)
        assert report.outcome == "up_to_date", report
    return {"startup_ms_median": statistics.median(times) * 1000, "startup_ms_min": min(times) * 1000}


if __name__ == "__main__":
    _setup()
    print(json.dumps({"startup": startup}[sys.argv[1]]()))
