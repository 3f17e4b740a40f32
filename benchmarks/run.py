"""Print the docs/design.md section 8 figures from one run: ``python -m benchmarks.run [--orders N]``.

Each figure is a ratio or a time measured in this one run (the machine is
noisy; compare within a run, not across runs). Databases are generated
under benchmarks/out/ and reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.generate import ROOT, app_env, generate

OUT = ROOT / "benchmarks" / "out"


def measure(name: str, data_dir: Path, chain: str = "migrations_initial") -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", name],
        cwd=ROOT,
        env=app_env(data_dir, chain),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed_command(args: list[str], data_dir: Path, chain: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=app_env(data_dir, chain),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stderr}")
    return elapsed


def fresh_copy(source: Path, name: str) -> Path:
    target = OUT / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(source / "pos_system.db", target / "pos_system.db")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300_000, help="past orders in the big database")
    args = parser.parse_args()
    base = OUT / f"orders-{args.orders}"
    if not (base / "pos_system.db").exists():
        print(f"generating {args.orders:,} orders…", flush=True)
        generate(base, args.orders)
    small = OUT / "small"
    if not (small / "pos_system.db").exists():
        generate(small, 100)
    size_mb = (base / "pos_system.db").stat().st_size / 1e6
    print(f"database: {size_mb:,.0f} MB, {args.orders:,} orders")

    big_start = measure("startup", base)
    small_start = measure("startup", small)
    print(
        f"start-up, nothing pending: {big_start['startup_ms_median']:.1f} ms on {size_mb:,.0f} MB vs "
        f"{small_start['startup_ms_median']:.1f} ms on a 1 MB database "
        f"(ratio {big_start['startup_ms_median'] / small_start['startup_ms_median']:.2f})"
    )

    plain_dir, guarded_dir = fresh_copy(base, "plain"), fresh_copy(base, "guarded")
    plain = timed_command(["migrate", "--verbosity", "0"], plain_dir, "migrations_full")
    guarded = timed_command(["upgrade_db"], guarded_dir, "migrations_full")
    print(
        f"10 migrations: guarded upgrade (checks + backup + verify) {guarded:.2f} s vs plain migrate "
        f"{plain:.2f} s (ratio {guarded / plain:.2f})"
    )

    br = measure("backup_restore", guarded_dir, "migrations_full")
    print(
        f"medians of {len(br['rounds']['copy'])} rounds: backup {br['backup_s']:.2f} s "
        f"vs file copy {br['copy_s']:.2f} s (ratio {br['backup_s'] / br['copy_s']:.2f})"
    )
    print(
        f"restore {br['restore_s']:.2f} s vs file copy {br['copy2_s']:.2f} s "
        f"(ratio {br['restore_s'] / br['copy2_s']:.2f}); vs copy + fsync {br['durable_copy_s']:.2f} s "
        f"(ratio {br['restore_s'] / br['durable_copy_s']:.2f})"
    )

    print(f"each round (s): {br['rounds']}")
    print(f"sha256 (backup sidecars, update verification): {br['hash_mb_s']:,.0f} MB/s (target ≥ 500 MB/s)")

    sales = measure("sales", guarded_dir, "migrations_full")
    print(
        f"till sale with {sales['past_orders']:,} past orders: p50 {sales['sale_p50_ms']:.1f} ms, "
        f"p99 {sales['sale_p99_ms']:.1f} ms; admin order list {sales['admin_orders_ms_median']:.0f} ms"
    )
    shutil.rmtree(plain_dir)
    shutil.rmtree(guarded_dir)

    from benchmarks import db_speed, update_delta

    update_delta.main()
    print("--- shipped database paths as processes (benchmarks.db_speed) ---", flush=True)
    db_speed.report(base, rounds=5)
    print("--- the till over loopback HTTP (benchmarks.till_http) ---", flush=True)
    from benchmarks import till_http

    till_http.main(["--orders", "100", "100000", "--mode", "fetch"])
    print("--- the till while the admin backs up (benchmarks.till_during_backup) ---", flush=True)
    from benchmarks import till_during_backup

    till_during_backup.main(["--orders", str(args.orders)])
    print("--- the frozen bundle (benchmarks.bundle_speed) ---", flush=True)
    from benchmarks import bundle_speed

    bundle_speed.main([])


if __name__ == "__main__":
    main()
