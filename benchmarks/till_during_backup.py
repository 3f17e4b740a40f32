"""The till's requests while a manager backs up: ``python -m benchmarks.till_during_backup --orders N``.

The real app is started headless (``launcher.py --headless``) on a copy of a
generated shop database with N past orders (``benchmarks.generate``; 2.3 M
orders ≈ 1.17 GB). A cashier client rings up sales over loopback HTTP
without pause, the way the till's script does (add ×3, pay answered with the
receipt, the next customer's page), and every request is timed. A manager
client signs in to the admin and presses "Back up now" (the admin's
background job, in the app's own process, as in the shop) ``--backups``
times, with quiet selling before the first and between them. Before the
selling starts, one "Back up now" is timed alone against ``cp && sync`` of
the same file. All of it after the full integrity check that follows
start-up has finished (it too runs at low priority beside the till).

Prints the longest till request while a backup ran and its p99, against the
p99 and longest of the quiet selling measured in the same run (issue 13:
longest ≤ 250 ms, p99 unchanged), and one JSON line for benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

from benchmarks.db_speed import cp_sync
from benchmarks.generate import ROOT
from benchmarks.till_http import (
    FRAGMENT_HEADERS,
    OUT,
    App,
    Client,
    _csrf,
    _percentile,
    database,
    manage_shell,
    scratch_copy,
    sign_in,
)
from maintenance.db.health import last_health_path

BACKUPS = "/admin/maintenance/databasemaintenance/backups/"
MANAGER_PASSWORD = "bench-manager-2580"
SET_PASSWORD = (
    "from django.contrib.auth.models import User; u = User.objects.get(username='manager'); "
    f"u.set_password('{MANAGER_PASSWORD}'); u.save()"
)


class TimedSeller(threading.Thread):
    """Sells until stopped; records (started, seconds) of every till request."""

    def __init__(self, client: Client) -> None:
        super().__init__(daemon=True)
        self.client = client
        _, _, page = client.request("/")
        self.token = _csrf(page)
        self.products = re.findall(r'name="product" value="(\d+)"', page)
        self.requests: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def _timed(self, path: str, data: dict[str, str] | None, marker: str) -> None:
        started = time.monotonic()
        status, _, text = self.client.request(path, data, headers=FRAGMENT_HEADERS if data else None)
        self.requests.append((started, time.monotonic() - started))
        assert status == 200 and marker in text, (path, status, text[:300])

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                for product in self.products[i % 5 : i % 5 + 3]:
                    form = {"csrfmiddlewaretoken": self.token, "product": product, "next": "/"}
                    self._timed("/order/add/", form, 'id="order-total"')
                self._timed("/order/pay/", {"csrfmiddlewaretoken": self.token, "quick": "exact"}, 'id="receipt-total"')
                self._timed("/", None, "Tap a product")
                i += 1
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            self.error = err


def manager(app: App) -> Client:
    """A manager signed in to the admin (the launch proof of the same window, then the password)."""
    client = Client(app.base)
    client.cookies["aurswift_launch"] = app.launch_cookie or ""
    _, _, page = client.request("/admin/login/")
    status, final, page = client.request(
        "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": _csrf(page), "username": "manager", "password": MANAGER_PASSWORD},
    )
    assert final == "/admin/" and status == 200, (status, final, page[:300])
    return client


def back_up(client: Client) -> float:
    """Press "Back up now" and wait for the job to finish; return its seconds."""
    _, _, page = client.request(BACKUPS)
    started = time.monotonic()
    status, _, page = client.request(BACKUPS + "now/", {"csrfmiddlewaretoken": _csrf(page)})
    assert status == 200, (status, page[:300])
    while True:
        _, _, body = client.request(BACKUPS + "progress/")
        job = json.loads(body)
        if not job["running"]:
            assert not job["error"], job
            return time.monotonic() - started
        time.sleep(0.05)


def wait_for_the_check_after_start_up(data_dir: Path, timeout_s: float = 300) -> None:
    """The full integrity check runs beside the till once it is up (at low priority): keep it out of the figures."""
    report = last_health_path(data_dir)
    deadline = time.monotonic() + timeout_s
    while not report.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the check after start-up did not finish in {timeout_s:.0f} s")
        time.sleep(0.2)


def measure(orders: int, backups: int, quiet_s: float) -> dict:
    shared = ROOT / "benchmarks" / "out" / f"orders-{orders}"  # the one benchmarks.db_speed made, if any
    base = shared if (shared / "pos_system.db").exists() else database(orders)
    work = scratch_copy(base, "during-backup")
    manage_shell(work, SET_PASSWORD)
    app = App(work, ROOT)
    try:
        seller = TimedSeller(sign_in(app))
        admin = manager(app)
        wait_for_the_check_after_start_up(work)
        copy_s = cp_sync(work / "pos_system.db", OUT / "cp-target.db")
        alone_s = back_up(admin)  # nobody selling: the admin's backup against cp && sync of the same file
        seller.start()
        windows: list[tuple[float, float]] = []
        for _ in range(backups):
            time.sleep(quiet_s)
            started = time.monotonic()
            back_up(admin)
            windows.append((started, time.monotonic()))
        time.sleep(quiet_s)
        seller.stop.set()
        seller.join(timeout=30)
        if seller.error:
            raise seller.error
    finally:
        app.stop()
        shutil.rmtree(work, ignore_errors=True)
    warm = seller.requests[20:]  # the first requests compile templates and fill caches
    during = sorted(d for at, d in warm if any(a <= at <= b for a, b in windows))
    quiet = sorted(d for at, d in warm if not any(a - 0.5 <= at <= b + 0.5 for a, b in windows))
    ms = 1000
    return {
        "past_orders": orders,
        "db_mb": round((base / "pos_system.db").stat().st_size / 1e6),
        "admin_backup_alone_s": round(alone_s, 2),
        "cp_sync_s": round(copy_s, 2),
        "backup_s": [round(b - a, 2) for a, b in windows],
        "requests_during": len(during),
        "longest_during_ms": round(during[-1] * ms, 1),
        "p99_during_ms": round(_percentile(during, 0.99) * ms, 1),
        "p50_during_ms": round(_percentile(during, 0.5) * ms, 1),
        "requests_quiet": len(quiet),
        "longest_quiet_ms": round(quiet[-1] * ms, 1),
        "p99_quiet_ms": round(_percentile(quiet, 0.99) * ms, 1),
        "p50_quiet_ms": round(_percentile(quiet, 0.5) * ms, 1),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2_300_000, help="past orders (2,300,000 ≈ 1.17 GB)")
    parser.add_argument("--backups", type=int, default=3)
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds of selling before and between backups")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    result = measure(args.orders, args.backups, args.quiet)
    print(
        f"admin 'Back up now', nobody selling: {result['admin_backup_alone_s']} s vs cp && sync "
        f"{result['cp_sync_s']} s (ratio {result['admin_backup_alone_s'] / result['cp_sync_s']:.2f})"
    )
    print(
        f"till during 'Back up now' ({result['db_mb']:,} MB, backups {result['backup_s']} s): "
        f"longest {result['longest_during_ms']} ms, p99 {result['p99_during_ms']} ms, p50 {result['p50_during_ms']} ms "
        f"over {result['requests_during']} requests; quiet selling: longest {result['longest_quiet_ms']} ms, "
        f"p99 {result['p99_quiet_ms']} ms, p50 {result['p50_quiet_ms']} ms over {result['requests_quiet']}"
    )
    print(
        f"target: longest till request during a backup ≤ 250 ms ({result['longest_during_ms']}), "
        f"p99 unchanged from a quiet till ({result['p99_during_ms']} vs {result['p99_quiet_ms']} ms)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
