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
  and with a read-back of the copy from the disk, to decide what
  "verified" costs.
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
    target = OUT / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(source / "pos_system.db", target / "pos_system.db")
    return target


def med(values: list[float]) -> float:
    return statistics.median(values)


def backup_and_restore(base: Path, rounds: int) -> dict:
    work = fresh_copy(base, "speed")
    db = work / "pos_system.db"
    scratch = OUT / "cp-target.db"
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
    scratch = OUT / "cp-target.db"
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
    shutil.rmtree(OUT / "speed-inproc")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _in_process_rounds(rounds: int) -> dict:
    import django

    django.setup()
    from django.conf import settings

    from maintenance.db import backups
    from maintenance.db.sqlite_tools import sha256_file
    from maintenance.db.upgrade import live_db_path

    db = live_db_path()
    bdir = settings.DATA_DIR / "backups"
    scratch = settings.DATA_DIR / "cp-target.db"

    def readback() -> None:
        info = backups.create_backup(db, bdir, reason="manual")
        fd = os.open(info.path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        assert sha256_file(info.path) == info.sha256

    variants = {
        "copy_hash": lambda: backups.create_backup(db, bdir, reason="manual"),
        "copy_hash_quick_check": lambda: backups.create_backup(db, bdir, reason="manual", full_check=True),
        "copy_hash_disk_readback": readback,
    }
    runs: dict[str, list[float]] = {"cp": [], **{k: [] for k in variants}}
    for _ in range(rounds):
        for name, step in variants.items():
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
    parser.add_argument("--in-process", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(_in_process_rounds(args.in_process)))
        return
    base = OUT / f"orders-{args.orders}"
    if not (base / "pos_system.db").exists():
        print(f"generating {args.orders:,} orders…", flush=True)
        generate(base, args.orders)
    report(base, args.rounds)


def report(base: Path, rounds: int) -> None:
    """Print every figure of this module for the database in ``base`` (also called by ``benchmarks.run``)."""
    size_mb = (base / "pos_system.db").stat().st_size / 1e6
    print(f"database: {size_mb:,.0f} MB; {rounds} interleaved rounds; load average {os.getloadavg()}", flush=True)

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

    ip = in_process(base, max(3, rounds // 2 + 1))
    print(
        "in-process backup / cp && sync: copy+hash {copy_hash_ratio:.2f}, + quick_check of the snapshot "
        "{copy_hash_quick_check_ratio:.2f}, + read-back from disk {copy_hash_disk_readback_ratio:.2f}".format(**ip)
    )
    print(f"  rounds (s): {ip['rounds']}", flush=True)

    wr = writes_during_backup(base, 3)
    print(
        f"longest write while backup_db runs (write-path proxy, 5 ms loop): {max(wr['longest_ms']):.0f} ms "
        f"(rounds {wr['longest_ms']}; p99 {wr['p99_ms']} ms; longest in the second before: "
        f"{wr['longest_before_ms']} ms) (target ≤ 250 ms)",
        flush=True,
    )

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
