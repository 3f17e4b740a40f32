"""Fingerprints v2: what a migration does, and only that (docs/design.md section 4, "Fingerprints").

Real manage.py runs in subprocesses on real database files; the fixture chains
live in tests/db/fixture_apps/shopext/ (fp*, sq_*).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers.app import REPO_ROOT
from tests.helpers.shop import CHAINS
from tests.helpers.sqlite import sha

LEDGER = "aurswift_migration_fingerprints"
PRINT_FINGERPRINTS = """
import json, django
django.setup()
from maintenance.db.classify import load_migrations
from maintenance.db.fingerprints import fingerprint
loader = load_migrations()
print(json.dumps({f"{a}.{n}": fingerprint(m) for (a, n), m in sorted(loader.disk_migrations.items())}))
"""


def fingerprints_in_subprocess(shop, *flags: str, python: str = sys.executable, chain: str = "fp", **env) -> dict:
    run_env = {**shop.env_for(chain), "DJANGO_SETTINGS_MODULE": "tests.settings", **env}
    proc = subprocess.run(
        [python, *flags, "-c", PRINT_FINGERPRINTS],
        cwd=REPO_ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def upgrade(shop, chain: str, *flags: str, **env) -> tuple[int, dict]:
    """Run ``manage.py upgrade_db --json`` with interpreter flags (-OO) and extra environment."""
    proc = subprocess.run(
        [sys.executable, *flags, str(REPO_ROOT / "manage.py"), "upgrade_db", "--json"],
        cwd=REPO_ROOT,
        env={**shop.env_for(chain), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, json.loads(proc.stdout)


def ledger(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {f"{a}.{n}": v for a, n, v in conn.execute(f"SELECT app, name, sha256 FROM {LEDGER}")}
    finally:
        conn.close()


def widget_names(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM shopext_widget ORDER BY id")]
    finally:
        conn.close()


# --- The same fingerprint everywhere ------------------------------------------
def test_fingerprints_ignore_hash_seed_optimisation_and_bytecode_cache(shop, tmp_path):
    runs = [
        fingerprints_in_subprocess(shop, PYTHONHASHSEED="0"),
        fingerprints_in_subprocess(shop, PYTHONHASHSEED="1"),
        fingerprints_in_subprocess(shop, PYTHONHASHSEED="4242", PYTHONPYCACHEPREFIX=str(tmp_path / "pyc")),
        fingerprints_in_subprocess(shop, "-OO", PYTHONHASHSEED="7"),
        fingerprints_in_subprocess(shop, "-O", "-B", PYTHONHASHSEED="random"),
    ]
    first = runs[0]
    assert {"shopext.0002_data", "shopext.0003_lambda", "shopext.0004_partial", "auth.0001_initial"} <= set(first)
    assert all(v.startswith("v2:") and len(v) == 67 for v in first.values())
    for other in runs[1:]:
        assert other == first
    ours = [first[f"shopext.{name}"] for name in ("0001_initial", "0002_data", "0003_lambda", "0004_partial")]
    assert len(set(ours)) == 4, "different migrations, different fingerprints"


def _other_pythons() -> list[str]:
    found = []
    for version in ("3.12", "3.13"):
        candidates = [shutil.which(f"python{version}") or ""]
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
        for exe in candidates:
            if exe and subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
                found.append(exe)
                break
    return found


def test_fingerprints_are_the_same_on_python_3_12_and_3_13(shop):
    """Django is pure Python: the other interpreters use this venv's site-packages."""
    pythons = _other_pythons()
    if not pythons:
        pytest.skip("no Python 3.12/3.13 interpreter on this machine")
    reference = fingerprints_in_subprocess(shop)
    site = sysconfig.get_paths()["purelib"]
    for exe in pythons:
        other = fingerprints_in_subprocess(shop, python=exe, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), site]))
        assert other == reference, exe


def test_upgrade_under_other_hash_seeds_and_minus_OO_is_up_to_date(shop):
    code, out = upgrade(shop, "fp", PYTHONHASHSEED="1")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    for flags, seed in (((), "2"), (("-OO",), "3"), (("-O",), "12345")):
        code, out = upgrade(shop, "fp", *flags, PYTHONHASHSEED=seed)
        assert (code, out["outcome"]) == (0, "up_to_date"), (flags, out)


# --- Lambdas and functools.partial --------------------------------------------
def test_lambda_and_partial_migrations_on_a_new_shop(shop):
    code, out = shop.upgrade_json("fp")
    assert (code, out["classification"], out["outcome"]) == (0, "new", "upgraded"), out
    assert {"shopext.0003_lambda", "shopext.0004_partial"} <= set(out["applied"])
    assert all(v.startswith("v2:") for v in ledger(shop.db).values())
    assert "shopext.0004_partial" in ledger(shop.db)
    code, out = shop.upgrade_json("fp")
    assert (code, out["outcome"]) == (0, "up_to_date"), out


def test_lambda_and_partial_migrations_on_an_existing_shop(v1_shop):
    code, out = v1_shop.upgrade_json("fp")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert out["applied"] == ["shopext.0002_data", "shopext.0003_lambda", "shopext.0004_partial"]
    assert widget_names(v1_shop.db)[:2] == ["W-Widget 0", "W-Widget 1"], "the data migration ran"
    code, out = v1_shop.upgrade_json("fp")
    assert (code, out["outcome"]) == (0, "up_to_date"), out


# --- What a RunPython uses ----------------------------------------------------
def test_edited_helper_of_an_applied_runpython_is_refused(v1_shop):
    assert v1_shop.upgrade_json("fp")[0] == 0
    before = sha(v1_shop.db)
    code, out = v1_shop.upgrade_json("fp_edited")  # only _helpers._tidy differs
    assert code == 2, out
    assert out["scenario"] == "migration_failed" and out["error"] == "FingerprintMismatchError"
    assert out["mismatches"] == ["shopext.0002_data"]
    assert sha(v1_shop.db) == before


def test_reformatted_migration_and_helper_are_not_a_mismatch(v1_shop):
    assert v1_shop.upgrade_json("fp")[0] == 0
    code, out = v1_shop.upgrade_json("fp_reformatted")  # comments, docstrings, quotes, set order
    assert (code, out["outcome"]) == (0, "up_to_date"), out


# --- Squashed migrations ------------------------------------------------------
def _applied_rows(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [f"{a}.{n}" for a, n in conn.execute("SELECT app, name FROM django_migrations WHERE app='shopext'")]
    finally:
        conn.close()


def test_squash_after_the_originals_were_applied(v1_shop):
    code, out = v1_shop.upgrade_json("v2")  # the originals 0001..0003
    assert (code, out["outcome"]) == (0, "upgraded"), out
    plan = v1_shop.manage("upgrade_db", "--plan", chain="sq_both")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert plan.stdout.split() == ["shopext.0004_add_note"]
    code, out = v1_shop.upgrade_json("sq_both")  # squash alongside its originals
    assert (code, out["outcome"], out["applied"]) == (0, "upgraded", ["shopext.0004_add_note"]), out
    assert "note" in v1_shop.columns("shopext_widget")
    for chain in ("sq_only", "sq_both", "sq_only"):  # then the originals deleted, and back
        code, out = v1_shop.upgrade_json(chain)
        assert (code, out["outcome"]) == (0, "up_to_date"), (chain, out)
    assert v1_shop.count("shopext_widget") == 50


def test_squash_on_a_new_shop_then_originals_deleted(shop):
    code, out = shop.upgrade_json("sq_both")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert "shopext.0001_squashed_0003_add_size" in out["applied"]
    rows = _applied_rows(shop.db)
    assert {"shopext.0001_initial", "shopext.0003_add_size", "shopext.0001_squashed_0003_add_size"} <= set(rows)
    for chain in ("sq_both", "sq_only", "sq_both"):
        code, out = shop.upgrade_json(chain)
        assert (code, out["outcome"]) == (0, "up_to_date"), (chain, out)


def test_squash_with_partially_applied_originals_uses_the_originals(v1_shop):
    code, out = v1_shop.upgrade_json("sq_both")  # only 0001_initial is applied
    assert (code, out["outcome"]) == (0, "upgraded"), out
    assert out["applied"] == ["shopext.0002_add_colour", "shopext.0003_add_size", "shopext.0004_add_note"]
    assert {"colour", "size", "note"} <= set(v1_shop.columns("shopext_widget"))
    for chain in ("sq_only", "sq_both"):
        code, out = v1_shop.upgrade_json(chain)
        assert (code, out["outcome"]) == (0, "up_to_date"), (chain, out)


def test_squash_does_not_hide_a_database_that_is_ahead(v1_shop):
    assert v1_shop.upgrade_json("v2")[0] == 0
    conn = sqlite3.connect(v1_shop.db)
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('shopext', '0099_future', '2030-01-01')")
    conn.commit()
    conn.close()
    code, out = v1_shop.upgrade_json("sq_only")
    assert code == 2 and out["scenario"] == "ahead" and out["unknown"] == ["shopext.0099_future"], out


# --- A ledger from the earlier scheme -----------------------------------------
def test_old_scheme_ledger_is_carried_over(v1_shop):
    current = ledger(v1_shop.db)
    conn = sqlite3.connect(v1_shop.db)
    with conn:  # what the earlier scheme stored: a bare sha256 of bytecode and reprs
        conn.execute(f"UPDATE {LEDGER} SET sha256 = '{'ab' * 32}', source = 'applied'")
    conn.close()
    code, out = v1_shop.upgrade_json("v1")
    assert (code, out["outcome"]) == (0, "up_to_date"), out
    assert ledger(v1_shop.db) == current


def test_old_scheme_ledger_with_pending_migrations_upgrades(v1_shop):
    conn = sqlite3.connect(v1_shop.db)
    with conn:
        conn.execute(f"UPDATE {LEDGER} SET sha256 = '{'cd' * 32}'")
    conn.close()
    code, out = v1_shop.upgrade_json("fp")
    assert (code, out["outcome"]) == (0, "upgraded"), out
    values = ledger(v1_shop.db)
    assert all(v.startswith("v2:") for v in values.values()), values
    code, out = v1_shop.upgrade_json("fp")
    assert (code, out["outcome"]) == (0, "up_to_date"), out


def test_fingerprint_never_raises_and_chains_are_what_the_tests_think(shop):
    """The chains used above exist (guards against a typo turning a test into a no-op)."""
    for chain in ("fp", "fp_edited", "fp_reformatted", "sq_both", "sq_only"):
        assert (REPO_ROOT / "tests/db/fixture_apps/shopext" / chain / "__init__.py").exists(), chain
    prints = fingerprints_in_subprocess(shop, chain="fp_edited")
    base = fingerprints_in_subprocess(shop, chain="fp")
    reformatted = fingerprints_in_subprocess(shop, chain="fp_reformatted")
    assert prints["shopext.0002_data"] != base["shopext.0002_data"]
    assert reformatted == base
    assert CHAINS.endswith("shopext.")


# --- In-process: whatever a migration holds, a fingerprint is computed ---------
def test_fingerprint_never_raises_on_unusual_operations():
    import functools

    from django.db import migrations, models

    from maintenance.db.fingerprints import fingerprint

    namespace: dict = {}
    exec("def no_source(apps, schema_editor):\n    return {'b', 'a'}\n", namespace)  # no file behind it

    class Callable:
        def __call__(self, apps, schema_editor):
            return None

    operations = [
        migrations.RunPython(lambda apps, se: None, lambda apps, se: {"x", "y"}),
        migrations.RunPython(namespace["no_source"]),
        migrations.RunPython(print),
        migrations.RunPython(Callable()),
        migrations.RunPython(functools.partial(len, (1, 2))),
        migrations.RunSQL([("UPDATE t SET v = %s", [1])], reverse_sql=migrations.RunSQL.noop),
        migrations.SeparateDatabaseAndState(database_operations=[migrations.RunPython(lambda apps, se: 1)]),
        migrations.AddField("widget", "code", models.CharField(max_length=3, default=lambda: "abc")),
        migrations.AlterModelOptions("widget", {"permissions": {("a", "A"), ("b", "B")}}),
    ]
    migration = migrations.Migration("0042_unusual", "shopext")
    migration.operations = operations
    first = fingerprint(migration)
    assert first.startswith("v2:") and fingerprint(migration) == first
    migration.operations = operations[:-1]
    assert fingerprint(migration) != first
