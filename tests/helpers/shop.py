"""A shop's data directory driven through ``manage.py``, with the test migration chains of tests/db."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.helpers.app import REPO_ROOT, manage
from tests.helpers.sqlite import ro_uri

CHAINS = "tests.db.fixture_apps.shopext."


class Shop:
    """A data directory and a way to run ``manage.py`` on it with a migration chain."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.env, self.data_dir = env, data_dir
        self.db = data_dir / "pos_system.db"

    def move_to(self, data_dir: Path) -> None:
        """Copy the shop's data directory to ``data_dir`` (e.g. a small filesystem) and use it from now on."""
        shutil.copytree(self.data_dir, data_dir)
        self.env["AURSWIFT_DATA_DIR"] = str(data_dir)
        self.data_dir, self.db = data_dir, data_dir / "pos_system.db"

    def env_for(self, chain: str | None) -> dict[str, str]:
        env = dict(self.env)
        if chain:
            env["AURSWIFT_EXTRA_APPS"] = "tests.db.fixture_apps.shopext"
            env["AURSWIFT_MIGRATION_MODULES"] = f"shopext={CHAINS}{chain}" if chain != "none" else "shopext="
        return env

    def manage(self, *args: str, chain: str | None = "v1", timeout: float = 120) -> subprocess.CompletedProcess:
        return manage(*args, env=self.env_for(chain), timeout=timeout)

    def _run_until_paused(self, step: str, args: tuple[str, ...], chain: str | None) -> tuple[subprocess.Popen, str]:
        """Start ``manage.py *args`` with the test hook ``step`` set; return it, paused there, and its stderr so far."""
        env = self.env_for(chain)
        env["AURSWIFT_TEST_PAUSE_AT"] = step
        proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen: list[str] = []
        for line in proc.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if line.startswith(f"AURSWIFT PAUSED AT {step}"):
                return proc, "".join(seen)
        proc.communicate(timeout=30)
        raise AssertionError(f"{args[0]} never reached {step}: exit {proc.returncode}:\n{''.join(seen)}")

    def kill_at(self, step: str, *args: str, chain: str | None = "v1") -> None:
        """Run ``manage.py *args`` until it pauses at the test hook ``step``, then SIGKILL it there."""
        proc, _ = self._run_until_paused(step, args, chain)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL

    def interrupt_at(self, step: str, *args: str, chain: str | None = "v1") -> subprocess.CompletedProcess:
        """Run ``manage.py *args`` until it pauses at the test hook ``step``, press Ctrl-C there, let it end."""
        proc, before = self._run_until_paused(step, args, chain)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, before + err)

    def upgrade_json(self, chain: str | None = "v1") -> tuple[int, dict]:
        proc = self.manage("upgrade_db", "--json", chain=chain)
        return proc.returncode, json.loads(proc.stdout)

    def columns(self, table: str) -> list[str]:
        conn = sqlite3.connect(ro_uri(self.db), uri=True)
        try:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        finally:
            conn.close()

    def count(self, table: str) -> int:
        conn = sqlite3.connect(ro_uri(self.db), uri=True)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()


def add_shop_data(db: Path, widgets: int = 50) -> None:
    """Put some of a shop's data in: categories, a VAT rate, products, widgets."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO pos_vatrate (name, rate_bp) VALUES ('Standard', 2000)")
        conn.execute("INSERT INTO pos_category (name, sort_order, colour) VALUES ('Drinks', 0, '#000000')")
        for i in range(widgets):
            conn.execute(
                "INSERT INTO pos_product (name, category_id, price_minor, vat_rate_id, active) VALUES (?, 1, ?, 1, 1)",
                (f"Product {i}", 100 + i),
            )
            conn.execute("INSERT INTO shopext_widget (name, category_id) VALUES (?, 1)", (f"Widget {i}",))
    conn.close()


def config_for(db: Path, data_dir: Path):
    """The maintenance configuration of a database file and a data folder, as start-up would build it."""
    from maintenance.config import MaintenanceConfig, app_version

    return MaintenanceConfig(db_path=db, data_dir=data_dir, app_version=app_version())
