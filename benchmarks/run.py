"""Print every performance target of docs/design.md section 8 from one run: ``python -m benchmarks.run [--orders N]``.

Only shipped paths are timed: the commands as processes (``benchmarks.db_speed``),
the till over loopback HTTP (``benchmarks.till_http``), the till while the
admin's "Back up now" runs (``benchmarks.till_during_backup``), updates
(``benchmarks.update_delta``, ``benchmarks.bundle_speed``). Each figure is a
ratio or a time measured in this one run (the machine is noisy: compare
within a run, not across runs). Databases are generated under
benchmarks/out/ and reused; the default size is the 1 GB of the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.generate import ROOT, app_env, generate

OUT = ROOT / "benchmarks" / "out"


def startup_ms(data_dir: Path) -> float:
    """The database part of start-up with nothing pending (median), in a process of its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", "startup"],
        cwd=ROOT,
        env=app_env(data_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])["startup_ms_median"]


def hash_mb_s(path: Path) -> float:
    from maintenance.db.sqlite_tools import sha256_file

    sha256_file(path)  # from the page cache, like the copy's own hash
    started = time.perf_counter()
    sha256_file(path)
    return path.stat().st_size / 1e6 / (time.perf_counter() - started)


def database(orders: int) -> Path:
    base = OUT / f"orders-{orders}"
    if not (base / "pos_system.db").exists():
        print(f"generating {orders:,} orders…", flush=True)
        generate(base, orders)
    return base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2_300_000, help="past orders (2,300,000 ≈ 1.17 GB)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each database path")
    parser.add_argument("--no-bundle", action="store_true", help="skip building and timing the frozen bundle")
    args = parser.parse_args(argv)
    from benchmarks import db_speed, till_during_backup, till_http, update_delta

    base, small = database(args.orders), database(100)
    size_mb = (base / "pos_system.db").stat().st_size / 1e6
    print(f"database: {size_mb:,.0f} MB, {args.orders:,} orders; load average {os.getloadavg()}", flush=True)

    big, tiny = startup_ms(base), startup_ms(small)
    print(f"start-up, nothing pending: {big:.1f} ms on {size_mb:,.0f} MB vs {tiny:.1f} ms on a tiny database")
    print("--- shipped database paths as processes (benchmarks.db_speed) ---", flush=True)
    br = db_speed.backup_and_restore(base, args.rounds)
    print(f"  backup/restore rounds (s): {br['rounds']}", flush=True)
    writes = db_speed.writes_during_backup(base, args.rounds)
    print(f"  writes during backup_db: {writes}", flush=True)
    one = db_speed.upgrades(base, args.rounds, "migrations_one")
    print(f"  one migration: {one}", flush=True)
    realistic = db_speed.upgrades(base, args.rounds, "migrations_realistic")
    print(f"  ten realistic migrations: {realistic}", flush=True)
    print("--- the till over loopback HTTP (benchmarks.till_http) ---", flush=True)
    sales = [r for r in till_http.measure([100, 100_000], ["fetch"], 200, {"this": ROOT})]
    print("--- the till while the admin backs up (benchmarks.till_during_backup) ---", flush=True)
    during = till_during_backup.measure(args.orders, backups=3, quiet_s=5.0)
    print(f"  {json.dumps(during)}", flush=True)
    print("--- updates (benchmarks.update_delta) ---", flush=True)
    update_delta.main()
    hashing = hash_mb_s(base / "pos_system.db")
    if not args.no_bundle:
        print("--- the frozen bundle (benchmarks.bundle_speed) ---", flush=True)
        from benchmarks import bundle_speed

        bundle_speed.main([])

    worst_p50 = max(r["sale_p50_ms"] for r in sales)
    worst_p99 = max(r["sale_p99_ms"] for r in sales)
    rows = [
        ("start-up, nothing pending, flat in size", f"{big / tiny:.2f}× ({big:.1f} vs {tiny:.1f} ms)", big < 100),
        (
            "backup_db ≤ 1.5× cp && sync",
            f"{br['backup_ratio']:.2f}× ({br['backup_s']:.2f} s)",
            br["backup_ratio"] <= 1.5,
        ),
        (
            "restore_db, restore point included, ≤ 2.5×",
            f"{br['restore_ratio']:.2f}× ({br['restore_s']:.2f} s)",
            br["restore_ratio"] <= 2.5,
        ),
        (
            "longest till request during a backup ≤ 250 ms",
            f"{during['longest_during_ms']} ms (quiet: {during['longest_quiet_ms']} ms)",
            during["longest_during_ms"] <= 250,
        ),
        (
            "till p99 during a backup unchanged",
            f"{during['p99_during_ms']} vs {during['p99_quiet_ms']} ms",
            during["p99_during_ms"] <= 1.1 * during["p99_quiet_ms"],
        ),
        (
            "longest write during backup_db ≤ 250 ms (proxy)",
            f"{max(writes['longest_ms'])} ms",
            max(writes["longest_ms"]) <= 250,
        ),
        (
            "one migration: guarded − plain ≤ 1.5× cp && sync",
            f"{one['extra_in_cp']:.2f}×",
            one["extra_in_cp"] <= 1.5,
        ),
        ("ten realistic migrations ≤ 0.7× plain", f"{realistic['ratio']:.2f}×", realistic["ratio"] <= 0.7),
        ("sale p50 ≤ 25 ms over HTTP", f"{worst_p50:.1f} ms", worst_p50 <= 25),
        ("sale p99 ≤ 50 ms over HTTP", f"{worst_p99:.1f} ms", worst_p99 <= 50),
        (
            "sale flat in size",
            f"{sales[-1]['sale_p50_ms'] / sales[0]['sale_p50_ms']:.2f}×",
            sales[-1]["sale_p50_ms"] <= 1.2 * sales[0]["sale_p50_ms"],
        ),
        ("sha256 ≥ 500 MB/s", f"{hashing:,.0f} MB/s", hashing >= 500),
    ]
    print(f"=== targets ({size_mb:,.0f} MB database, cp && sync {br['cp_s']:.2f} s; load {os.getloadavg()}) ===")
    for name, figure, met in rows:
        print(f"{'met    ' if met else 'NOT met'}  {name}: {figure}")


if __name__ == "__main__":
    main()
