"""Time the shipped database paths against ``cp && sync``: ``python -m benchmarks.db_speed [--orders N]``.

Every figure comes from this one run, as medians of paired ratios over
interleaved rounds (the VM is noisy: pair each path with a ``cp && sync``
of the same file taken just before it, and compare within the pair):

- ``manage.py backup_db`` and ``manage.py restore_db`` as processes (restore
  includes the validation of the backup and the restore point);
- ``manage.py upgrade_db`` for a one-migration release and for ten
  migrations (ten AddFields, and ten "realistic" ones: new tables, an FK,
  an index, an AlterField, a rename, a constraint and a data migration)
  against plain ``manage.py migrate`` of the same migrations on a copy;
- the longest write while ``backup_db`` runs. This is a write-path proxy,
  not the till's sign-in: a second process commits ``BEGIN IMMEDIATE;
  INSERT; COMMIT`` in a loop against the same file (every 5 ms), as the
  till's sale does at its end;
- in-process: the backup with and without ``quick_check`` of the snapshot,
  the check read through a memory map or not, split per table over two
  threads, and the check alone, to decide what "verified" costs; and the
  restore (validation, restore point, swap) without the process start-up.

``--only`` runs some sections (``backup_restore,in_process,writes,upgrades``);
every section names its scratch files after this process, so two runs beside
each other do not collide.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from benchmarks.generate import ROOT, app_env, generate

OUT = ROOT / "benchmarks" / "out"
TAG = f"-{os.getpid()}"  # scratch names of this run
SECTIONS = ("backup_restore", "in_process", "writes", "upgrades")

WRITER = textwrap.dedent(
    """
    import json, sqlite3, sys, threading, time
    conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    writes = []
    print("ready", flush=True)
    while not stop.is_set():
        started = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO benchext_note (text) VALUES ('written during a backup')")
        conn.execute("COMMIT")
        writes.append((started, time.monotonic() - started))
        time.sleep(0.005)
    print(json.dumps(writes), flush=True)
    """
)


def cp_sync(src: Path, dst: Path) -> float:
    dst.unlink(missing_ok=True)
    os.sync()
    started = time.perf_counter()
    subprocess.run(["sh", "-c", 'cp "$0" "$1" && sync', str(src), str(dst)], check=True)
    elapsed = time.perf_counter() - started
    dst.unlink()
    return elapsed


def manage(args: list[str], data_dir: Path, chain: str = "migrations_initial") -> tuple[float, str]:
    os.sync()
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
    return elapsed, proc.stdout


def fresh_copy(source: Path, name: str) -> Path:
    target = OUT / (name + TAG)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(source / "pos_system.db", target / "pos_system.db")
    return target


def med(values: list[float]) -> float:
    return statistics.median(values)


def backup_and_restore(base: Path, rounds: int) -> dict:
    work = fresh_copy(base, "speed")
    db = work / "pos_system.db"
    scratch = OUT / f"cp-target{TAG}.db"
    runs: dict[str, list[float]] = {"cp": [], "backup": [], "cp2": [], "restore": []}
    for _ in range(rounds):
        runs["cp"].append(cp_sync(db, scratch))
        elapsed, out = manage(["backup_db"], work)
        runs["backup"].append(elapsed)
        backup = Path(out.strip().splitlines()[-1])
        runs["cp2"].append(cp_sync(db, scratch))
        elapsed, _ = manage(["restore_db", str(backup)], work)
        runs["restore"].append(elapsed)
        for path in (work / "backups").iterdir():
            path.unlink()
    shutil.rmtree(work)
    return {
        "rounds": {k: [round(v, 2) for v in vs] for k, vs in runs.items()},
        "backup_ratio": med([b / c for b, c in zip(runs["backup"], runs["cp"], strict=True)]),
        "restore_ratio": med([r / c for r, c in zip(runs["restore"], runs["cp2"], strict=True)]),
        "backup_s": med(runs["backup"]),
        "restore_s": med(runs["restore"]),
        "cp_s": med(runs["cp"] + runs["cp2"]),
    }


def writes_during_backup(base: Path, rounds: int) -> dict:
    work = fresh_copy(base, "speed-writes")
    db = work / "pos_system.db"
    longest, p99, baseline, backup_s = [], [], [], []
    for _ in range(rounds):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        time.sleep(1.0)
        started = time.monotonic()
        elapsed, _ = manage(["backup_db"], work)
        finished = time.monotonic()
        time.sleep(0.5)
        out, _ = writer.communicate("")
        writes = json.loads(out.strip().splitlines()[-1])
        during = sorted(d for at, d in writes if started <= at <= finished)
        before = sorted(d for at, d in writes if at < started)
        longest.append(max(during))
        p99.append(during[int(len(during) * 0.99) - 1])
        baseline.append(max(before))
        backup_s.append(elapsed)
        for path in (work / "backups").iterdir():
            path.unlink()
    shutil.rmtree(work)
    return {
        "longest_ms": [round(v * 1000, 1) for v in longest],
        "p99_ms": [round(v * 1000, 1) for v in p99],
        "longest_before_ms": [round(v * 1000, 1) for v in baseline],
        "backup_s": [round(v, 2) for v in backup_s],
    }


def upgrades(base: Path, rounds: int, chain: str) -> dict:
    scratch = OUT / f"cp-target{TAG}.db"
    plain_s, guarded_s, cps = [], [], []
    for _ in range(rounds):
        cps.append(cp_sync(base / "pos_system.db", scratch))
        plain_dir, guarded_dir = fresh_copy(base, "plain"), fresh_copy(base, "guarded")
        plain_s.append(manage(["migrate", "--verbosity", "0"], plain_dir, chain)[0])
        guarded_s.append(manage(["upgrade_db"], guarded_dir, chain)[0])
        shutil.rmtree(plain_dir)
        shutil.rmtree(guarded_dir)
    return {
        "plain_s": [round(v, 2) for v in plain_s],
        "guarded_s": [round(v, 2) for v in guarded_s],
        "cp_s": [round(v, 2) for v in cps],
        "ratio": med([g / p for g, p in zip(guarded_s, plain_s, strict=True)]),
        "extra_in_cp": med([(g - p) / c for g, p, c in zip(guarded_s, plain_s, cps, strict=True)]),
    }


def in_process(base: Path, rounds: int) -> dict:
    """Backup variants in one process (no start-up cost): what the check and a real read-back cost."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.db_speed", "--in-process", str(rounds)],
        cwd=ROOT,
        env={
            **app_env(fresh_copy(base, "speed-inproc"), "migrations_initial"),
            "DJANGO_SETTINGS_MODULE": "aurswift.settings",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(OUT / f"speed-inproc{TAG}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table_groups(db: Path, ways: int) -> list[list[str]]:
    """Split the tables (with their indexes) into ``ways`` groups of about equal pages (dbstat)."""
    import sqlite3

    conn = sqlite3.connect(Path(db).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        pages = dict(conn.execute("SELECT name, count(*) FROM dbstat GROUP BY name").fetchall())
        weight: dict[str, int] = {}
        for name, table in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"):
            weight[table] = weight.get(table, 0) + pages.get(name, 0)
    finally:
        conn.close()
    groups: list[list[str]] = [[] for _ in range(ways)]
    load = [0] * ways
    for table in sorted(weight, key=lambda t: -weight[t]):
        k = load.index(min(load))
        groups[k].append(table)
        load[k] += weight[table]
    return groups


def _in_process_rounds(rounds: int) -> dict:
    import django

    django.setup()
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings

    from maintenance.config import MaintenanceConfig
    from maintenance.db import backups, recovery
    from maintenance.db.integrity import MMAP_BYTES, check_connection
    from maintenance.db.sqlite_tools import copy_file, pinned_snapshot

    config = MaintenanceConfig.from_settings()
    db = config.db_path
    bdir = settings.DATA_DIR / "backups"
    scratch = settings.DATA_DIR / "cp-target.db"
    groups = _table_groups(db, 2)

    def check(conn, *, mmap: bool, tables=None) -> bool:
        if mmap:
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}").fetchall()
        return check_connection(conn, foreign_keys=False, tables=tables).ok

    def whole(readers, mmap: bool) -> bool:
        return check(readers[0], mmap=mmap)

    def split(readers) -> bool:
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(check, r, mmap=True, tables=g) for r, g in zip(readers, groups, strict=True)]
            return all(f.result() for f in done)

    def copy_while(checker) -> None:
        """Copy the pinned snapshot (hashing it) while ``checker`` checks it in other read transactions."""
        dest = bdir / "variant.db"
        bdir.mkdir(exist_ok=True)
        with pinned_snapshot(db, readers=3) as readers, ThreadPoolExecutor(max_workers=1) as pool:
            assert readers is not None
            checking = pool.submit(checker, readers[1:]) if checker else None
            copy_file(db, dest)
            assert checking is None or checking.result()
        dest.unlink()

    def check_alone() -> None:
        with pinned_snapshot(db, readers=1) as readers:
            assert readers is not None and whole(readers, True)

    restore_from: list[Path] = []

    def restore() -> None:
        recovery.restore_from_backup(restore_from[0], config)

    def restore_hash_only() -> None:
        recovery.restore_from_backup(restore_from[0], config, validate=False)

    variants = {
        "copy_hash": lambda: backups.create_backup(db, bdir, reason="manual"),
        "shipped_backup": lambda: backups.create_backup(db, bdir, reason="manual", full_check=True),
        "check_without_mmap": lambda: copy_while(lambda r: whole(r, False)),
        "check_split_2_threads": lambda: copy_while(split),
        "check_alone_mmap": check_alone,
        "restore": restore,
        "restore_hash_only": restore_hash_only,
    }
    runs: dict[str, list[float]] = {"cp": [], **{k: [] for k in variants}}
    for _ in range(rounds):
        for name, step in variants.items():
            if name.startswith("restore"):
                restore_from[:] = [backups.create_backup(db, bdir, reason="manual").path]
            runs["cp"].append(cp_sync(db, scratch))
            os.sync()
            started = time.perf_counter()
            step()
            runs[name].append(time.perf_counter() - started)
            for path in bdir.iterdir():
                path.unlink()
    cps = runs["cp"]
    n = len(variants)
    return {
        "rounds": {k: [round(v, 2) for v in vs] for k, vs in runs.items()},
        **{
            f"{name}_ratio": med([v / cps[i * n + j] for i, v in enumerate(runs[name])])
            for j, name in enumerate(variants)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=700_000, help="past orders (700,000 ≈ 355 MB)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections to run, of: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--in-process", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(_in_process_rounds(args.in_process)))
        return
    base = OUT / f"orders-{args.orders}"
    if not (base / "pos_system.db").exists():
        print(f"generating {args.orders:,} orders…", flush=True)
        generate(base, args.orders)
    report(base, args.rounds, only=set(args.only.split(",")))


def report(base: Path, rounds: int, only: set[str] | None = None) -> None:
    """Print every figure of this module for the database in ``base`` (also called by ``benchmarks.run``)."""
    size_mb = (base / "pos_system.db").stat().st_size / 1e6
    only = set(SECTIONS) if only is None else only
    print(f"database: {size_mb:,.0f} MB; {rounds} interleaved rounds; load average {os.getloadavg()}", flush=True)
    if "backup_restore" in only:
        _report_backup_restore(base, rounds)
    if "in_process" in only:
        _report_in_process(base, rounds)
    if "writes" in only:
        _report_writes(base)
    if "upgrades" in only:
        _report_upgrades(base, rounds)
    print(f"load average at the end {os.getloadavg()}", flush=True)


def _report_backup_restore(base: Path, rounds: int) -> None:
    br = backup_and_restore(base, rounds)
    print(
        f"backup_db {br['backup_s']:.2f} s vs cp && sync {br['cp_s']:.2f} s: median paired ratio "
        f"{br['backup_ratio']:.2f} (target ≤ 1.5)"
    )
    print(
        f"restore_db (validation + restore point + restore) {br['restore_s']:.2f} s: median paired ratio "
        f"{br['restore_ratio']:.2f} (target ≤ 2.5)"
    )
    print(f"  rounds (s): {br['rounds']}", flush=True)


def _report_in_process(base: Path, rounds: int) -> None:
    ip = in_process(base, max(3, rounds // 2 + 1))
    print(
        "in-process / cp && sync: backup copy+hash {copy_hash_ratio:.2f}; as shipped (+ quick_check of the "
        "snapshot through a memory map) {shipped_backup_ratio:.2f}; copy + quick_check without the map "
        "{check_without_mmap_ratio:.2f}; copy + quick_check per table over 2 threads "
        "{check_split_2_threads_ratio:.2f}; the mapped quick_check alone {check_alone_mmap_ratio:.2f}; "
        "restore_from_backup (validation + restore point + swap) {restore_ratio:.2f}, the same comparing the "
        "sidecar's hash without quick_check {restore_hash_only_ratio:.2f}".format(**ip)
    )
    print(f"  rounds (s): {ip['rounds']}", flush=True)


def _report_writes(base: Path) -> None:
    wr = writes_during_backup(base, 3)
    print(
        f"longest write while backup_db runs (write-path proxy, 5 ms loop): {max(wr['longest_ms']):.0f} ms "
        f"(rounds {wr['longest_ms']}; p99 {wr['p99_ms']} ms; longest in the second before: "
        f"{wr['longest_before_ms']} ms) (target ≤ 250 ms)",
        flush=True,
    )


def _report_upgrades(base: Path, rounds: int) -> None:
    one = upgrades(base, rounds, "migrations_one")
    print(
        f"one-migration release: guarded {med(one['guarded_s']):.2f} s vs plain migrate {med(one['plain_s']):.2f} s; "
        f"guarded − plain = {one['extra_in_cp']:.2f} × cp && sync (target ≤ 1.5)"
    )
    print(f"  rounds: {one}", flush=True)
    for chain, label in (("migrations_full", "ten AddFields"), ("migrations_realistic", "ten realistic migrations")):
        ten = upgrades(base, max(3, rounds // 2 + 1), chain)
        print(
            f"{label}: guarded {med(ten['guarded_s']):.2f} s vs plain migrate {med(ten['plain_s']):.2f} s: "
            f"median paired ratio {ten['ratio']:.2f} (target ≤ 0.7)"
        )
        print(f"  rounds: {ten}", flush=True)


if __name__ == "__main__":
    main()
