"""Generate a realistic large shop database for the benchmarks.

``python -m benchmarks.generate DIR --orders N`` creates DIR/pos_system.db
with the app's real migrations (plus the benchmark app's first migration),
a demo catalogue and N paid orders of three lines each, with payments.
About 2,300,000 orders make a 1 GB file (100,000 ≈ 44 MB).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_ENV = {
    "AURSWIFT_EXTRA_APPS": "benchmarks.benchext",
    "AURSWIFT_MIGRATION_MODULES": "benchext=benchmarks.benchext.migrations_initial",
}


def app_env(data_dir: Path, chain: str = "migrations_initial") -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(BENCH_ENV, AURSWIFT_DATA_DIR=str(data_dir))
    env["AURSWIFT_MIGRATION_MODULES"] = f"benchext=benchmarks.benchext.{chain}"
    return env


def generate(data_dir: Path, orders: int, seed: int = 7) -> Path:
    """Create the database and return its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "pos_system.db"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "upgrade_db"], env=app_env(data_dir), check=True, capture_output=True
    )
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from pos.services import demo; demo.create_demo_data()"],
        env={**app_env(data_dir), "DJANGO_SETTINGS_MODULE": "aurswift.settings"},
        cwd=ROOT,
        check=True,
    )
    rng = random.Random(seed)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous=OFF")
    products = conn.execute(
        "SELECT p.id, p.name, p.price_minor, v.rate_bp FROM pos_product p JOIN pos_vatrate v ON v.id = p.vat_rate_id"
    ).fetchall()
    cashier = conn.execute("SELECT id FROM auth_user WHERE username='cashier'").fetchone()[0]
    start = datetime(2024, 1, 1)
    order_id = conn.execute("SELECT coalesce(max(id), 0) FROM pos_order").fetchone()[0]
    batch = 20_000
    with conn:
        for first in range(0, orders, batch):
            order_rows, line_rows, pay_rows = [], [], []
            for _ in range(min(batch, orders - first)):
                order_id += 1
                when = (start + timedelta(seconds=order_id * 40)).isoformat(sep=" ")
                total = vat = 0
                for product_id, name, price, rate in rng.sample(products, 3):
                    qty = rng.randint(1, 3)
                    gross = price * qty
                    line_vat = (gross * rate * 2 + (10000 + rate)) // (2 * (10000 + rate)) if rate else 0
                    total, vat = total + gross, vat + line_vat
                    line_rows.append((order_id, product_id, name, price, rate, qty, gross, line_vat))
                order_rows.append((order_id, "paid", cashier, when, when, total, vat, ""))
                pay_rows.append((order_id, rng.choice(["cash", "card"]), total, None, 0, when, cashier))
            conn.executemany(
                "INSERT INTO pos_order (id, status, cashier_id, created_at, paid_at, total_minor, vat_minor, "
                "void_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                order_rows,
            )
            conn.executemany(
                "INSERT INTO pos_orderline (order_id, product_id, product_name, unit_price_minor, vat_rate_bp, "
                "quantity, line_total_minor, vat_minor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                line_rows,
            )
            conn.executemany(
                "INSERT INTO pos_payment (order_id, method, amount_minor, tendered_minor, change_minor, created_at, "
                "taken_by_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                pay_rows,
            )
            conn.executemany("INSERT INTO benchext_note (text) VALUES (?)", [("note",)] * 10)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--orders", type=int, default=200_000)
    args = parser.parse_args()
    started = time.perf_counter()
    db = generate(args.dir, args.orders)
    size = db.stat().st_size / 1e6
    print(f"{db}: {args.orders:,} orders, {size:,.0f} MB in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
