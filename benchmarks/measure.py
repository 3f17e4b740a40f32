"""One measurement, run in its own process against AURSWIFT_DATA_DIR; prints one JSON line."""

from __future__ import annotations

import json
import os
import shutil
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


ROUNDS = 5


def backup_restore() -> dict:
    from django.conf import settings

    from maintenance.config import live_db_path
    from maintenance.db import backups

    db = live_db_path()
    scratch = settings.DATA_DIR / "copy-test.db"

    def timed(times: list[float], step, *args, **kwargs):
        scratch.unlink(missing_ok=True)  # every copy writes a new file, as a backup and a restore do
        os.sync()  # write back what the previous step left dirty, so it is not billed to this one
        started = time.perf_counter()
        result = step(*args, **kwargs)
        times.append(time.perf_counter() - started)
        return result

    def durable_copy(src) -> None:
        shutil.copyfile(src, scratch)
        with open(scratch, "rb+") as handle:
            os.fsync(handle.fileno())

    # Interleaved rounds, medians reported: on this VM one large write in three
    # or so takes several times longer than the others, whatever does it.
    runs: dict[str, list[float]] = {"copy": [], "backup": [], "copy2": [], "durable": [], "restore": []}
    for _ in range(ROUNDS):
        timed(runs["copy"], shutil.copyfile, db, scratch)
        info = timed(runs["backup"], backups.create_backup, db, settings.DATA_DIR / "backups", reason="manual")
        timed(runs["copy2"], shutil.copyfile, info.path, scratch)
        timed(runs["durable"], durable_copy, info.path)
        timed(runs["restore"], backups.restore_backup, info.path, db)
        backups.discard(info.path)
    copy_s, backup_s, copy2_s, durable_copy_s, restore_s = (statistics.median(v) for v in runs.values())
    scratch.unlink(missing_ok=True)
    from maintenance.db.sqlite_tools import sha256_file

    started = time.perf_counter()
    sha256_file(db)
    hash_mb_s = db.stat().st_size / 1e6 / (time.perf_counter() - started)
    return {
        "rounds": {name: [round(t, 2) for t in times] for name, times in runs.items()},
        "hash_mb_s": hash_mb_s,
        "copy_s": copy_s,
        "backup_s": backup_s,
        "copy2_s": copy2_s,
        "restore_s": restore_s,
        "durable_copy_s": durable_copy_s,
        "db_mb": db.stat().st_size / 1e6,
    }


def sales(count: int = 300) -> dict:
    """Time till sales (add three lines, pay cash, render the receipt) and the admin order list."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from pos.models import Order, Product
    from pos.services import orders

    cashier = get_user_model().objects.get(username="cashier")
    products = list(Product.objects.select_related("vat_rate")[:10])
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(cashier)
    times = []
    for i in range(count):
        started = time.perf_counter()
        order = orders.open_order(cashier)
        for product in products[i % 7 : i % 7 + 3]:
            orders.add_product(order, product)
        orders.pay(order, "cash", taken_by=cashier, tendered_minor=order.total_minor + 500)
        response = client.get(f"/receipt/{order.pk}/")
        assert response.status_code == 200
        times.append(time.perf_counter() - started)
    times.sort()
    admin = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create_superuser(
        "bench-admin",
        password="not-used-bench-only",
    )
    client.force_login(admin)
    list_times = []
    for _ in range(5):
        started = time.perf_counter()
        assert client.get("/admin/pos/order/").status_code == 200
        list_times.append(time.perf_counter() - started)
    return {
        "past_orders": Order.objects.count(),
        "sale_p50_ms": times[len(times) // 2] * 1000,
        "sale_p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
        "admin_orders_ms_median": statistics.median(list_times) * 1000,
    }


if __name__ == "__main__":
    _setup()
    print(json.dumps({"startup": startup, "backup_restore": backup_restore, "sales": sales}[sys.argv[1]]()))
