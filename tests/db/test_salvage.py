"""Salvaging a damaged database finishes in bounded time and keeps every readable row.

Real files: a database with a 20,000-row table spanning many pages, whose
b-tree pages in the middle are overwritten with garbage.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from maintenance.db import salvage as salvage_mod
from maintenance.db.salvage import METHOD_CLI, METHOD_COPY, METHOD_COPY_STOPPED, TableRecovery, salvage
from tests.helpers.sqlite import sha

BIG_ROWS = 20_000
SMALL_ROWS = 40
WEIRD_FOLDER = "till #1 %20 ?&="


def payload(i: int) -> str:
    return (hashlib.sha256(str(i).encode()).hexdigest() * 5)[:300]


def ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def build(path: Path, *, without_rowid: bool = False) -> None:
    """A WAL-free shop database: a big table (many pages), a small one, an index, a view and a trigger."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    if without_rowid:
        conn.execute(
            "CREATE TABLE item (sku TEXT NOT NULL, shelf INTEGER NOT NULL, payload TEXT,"
            " PRIMARY KEY (sku, shelf)) WITHOUT ROWID"
        )
    else:
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL, payload TEXT)")
    conn.execute("CREATE TABLE category (code TEXT PRIMARY KEY, name TEXT NOT NULL)")
    conn.execute("CREATE INDEX item_sku ON item (sku)")
    conn.execute("CREATE VIEW named_category AS SELECT code, name FROM category")
    conn.execute("CREATE TABLE audit (note TEXT)")
    conn.execute("CREATE TRIGGER category_audit AFTER INSERT ON category BEGIN INSERT INTO audit VALUES ('x'); END")
    if without_rowid:
        rows = [(f"SKU{i:06d}", i % 7, payload(i)) for i in range(1, BIG_ROWS + 1)]
        conn.executemany("INSERT INTO item VALUES (?, ?, ?)", rows)
    else:
        conn.executemany(
            "INSERT INTO item (id, sku, payload) VALUES (?, ?, ?)",
            [(i, f"SKU{i:06d}", payload(i)) for i in range(1, BIG_ROWS + 1)],
        )
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'item'", (BIG_ROWS + 500,))
    conn.executemany("INSERT INTO category VALUES (?, ?)", [(f"C{i}", f"Category {i}") for i in range(SMALL_ROWS)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def page_size(path: Path) -> int:
    size = int.from_bytes(path.read_bytes()[16:18], "big")
    return 65536 if size == 1 else size


@dataclass
class Page:
    number: int
    kind: str  # "interior" | "leaf"
    depth: int


def btree_pages(path: Path, table: str) -> list[Page]:
    """The pages of a table's (or index's) b-tree in key order, read straight from the file."""
    with ro(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    data, size = path.read_bytes(), page_size(path)
    pages: list[Page] = []

    def walk(number: int, depth: int) -> None:
        start = (number - 1) * size
        header = start + (100 if number == 1 else 0)
        kind = data[header]
        if kind in (0x0D, 0x0A):
            pages.append(Page(number, "leaf", depth))
            return
        assert kind in (0x05, 0x02), f"page {number} is not a b-tree page ({kind})"
        pages.append(Page(number, "interior", depth))
        for i in range(int.from_bytes(data[header + 3 : header + 5], "big")):
            cell = int.from_bytes(data[header + 12 + 2 * i : header + 14 + 2 * i], "big")
            walk(int.from_bytes(data[start + cell : start + cell + 4], "big"), depth + 1)
        walk(int.from_bytes(data[header + 8 : header + 12], "big"), depth + 1)

    walk(root, 0)
    return pages


def garble(path: Path, page_numbers: list[int]) -> None:
    size = page_size(path)
    rng = random.Random(1234)
    with open(path, "r+b") as handle:
        for number in page_numbers:
            handle.seek((number - 1) * size)
            handle.write(rng.randbytes(size))


def quick_check_fails(path: Path) -> bool:
    try:
        with ro(path) as conn:
            return [r[0] for r in conn.execute("PRAGMA quick_check")] != ["ok"]
    except sqlite3.DatabaseError:
        return True


def full_scan_seconds(path: Path) -> float:
    """Time to read the whole undamaged file: its bytes and every row of every table."""
    started = time.perf_counter()
    path.read_bytes()
    with ro(path) as conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for _row in conn.execute(f'SELECT * FROM "{name}"'):
                pass
    return time.perf_counter() - started


def by_name(tables: list[TableRecovery]) -> dict[str, TableRecovery]:
    return {t.table: t for t in tables}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, float]:
    path = tmp_path_factory.mktemp("salvage-base") / "pos_system.db"
    build(path)
    scans = [full_scan_seconds(path) for _ in range(3)]
    return path, min(scans)


@pytest.fixture(scope="module")
def base_without_rowid(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("salvage-base-wr") / "pos_system.db"
    build(path, without_rowid=True)
    return path


def damaged_copy(base: Path, folder: Path, how: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pos_system.db"
    shutil.copyfile(base, path)
    pages = btree_pages(path, "item")
    leaves = [p.number for p in pages if p.kind == "leaf"]
    interiors = [p for p in pages if p.kind == "interior"]
    assert len(leaves) > 500, "the big table must span many pages"
    if how == "leaves":  # one leaf, two neighbouring leaves, one more leaf: three damaged stretches
        n = len(leaves)
        garble(path, [leaves[n * 3 // 10], leaves[n // 2], leaves[n // 2 + 1], leaves[n * 7 // 10]])
    elif how == "interior":  # an interior page below the root: a whole range of rowids is unreachable
        below_root = [p.number for p in interiors if p.depth == 1]
        assert len(below_root) >= 3, [p.depth for p in interiors]
        garble(path, [below_root[len(below_root) // 2]])
    elif how == "root":  # no row of the table can be read at all
        garble(path, [pages[0].number])
    else:
        raise AssertionError(how)
    assert quick_check_fails(path), "the damage must be visible to quick_check"
    return path


def run_salvage(source: Path, target: Path, **kwargs) -> tuple[str, list[TableRecovery], float]:
    started = time.perf_counter()
    method, tables = salvage(source, target, **kwargs)
    return method, tables, time.perf_counter() - started


def assert_consistent(
    target: Path, tables: list[TableRecovery], *, without_rowid: bool = False, small_table_copied: bool = True
) -> None:
    """The target is sound, its counts match the report, and every salvaged row is a real one."""
    with ro(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for t in tables:
            assert conn.execute(f'SELECT count(*) FROM "{t.table}"').fetchone()[0] == t.recovered_rows, t
            if t.original_rows is not None:
                assert t.lost_rows == t.original_rows - t.recovered_rows, t
            else:
                assert t.lost_rows is None
        if without_rowid:
            for sku, shelf, text in conn.execute("SELECT sku, shelf, payload FROM item"):
                i = int(sku[3:])
                assert (shelf, text) == (i % 7, payload(i))
        else:
            for rowid, sku, text in conn.execute("SELECT id, sku, payload FROM item"):
                assert (sku, text) == (f"SKU{rowid:06d}", payload(rowid))
        if small_table_copied:
            assert sorted(conn.execute("SELECT code, name FROM category")) == sorted(
                (f"C{i}", f"Category {i}") for i in range(SMALL_ROWS)
            )
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"item_sku", "named_category", "category_audit"} <= names


def bound(scan_s: float) -> float:
    return 20 * scan_s + 5


@pytest.fixture
def no_cli(monkeypatch):
    monkeypatch.setattr(salvage_mod.shutil, "which", lambda *_a, **_k: None)


@pytest.mark.parametrize("cli", ["real", "hidden"])
def test_damaged_leaves_in_the_middle(base, tmp_path, monkeypatch, cli):
    base_path, scan_s = base
    if cli == "hidden":
        monkeypatch.setattr(salvage_mod.shutil, "which", lambda *_a, **_k: None)
    elif shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 command-line tool on PATH")
    source = damaged_copy(base_path, tmp_path / "src", "leaves")
    before = sha(source)
    calls: list[tuple[str, int, int]] = []

    method, tables, took = run_salvage(source, tmp_path / "out.db", progress=lambda *a: calls.append(a))

    print(f"\nsalvage ({method}, cli {cli}): {took:.3f} s; full scan of the undamaged file: {scan_s:.3f} s")
    assert took < bound(scan_s)
    assert sha(source) == before, "the damaged file must not change"
    # Debian 12's sqlite3 has no sqlite_dbpage, so its .recover fails and the copy takes over.
    assert method in ({METHOD_CLI, METHOD_COPY} if cli == "real" else {METHOD_COPY})
    got = by_name(tables)
    assert set(got) - {"lost_and_found"} == {"item", "category", "audit"}  # .recover may add lost_and_found
    assert got["category"].recovered_rows == got["category"].original_rows == SMALL_ROWS
    assert got["item"].recovered_rows > 0.8 * BIG_ROWS
    assert got["item"].recovered_rows < BIG_ROWS  # four pages of rows are gone
    if method == METHOD_COPY:
        assert got["item"].skipped_ranges == 3
        assert got["item"].recovered_rows > BIG_ROWS - 4 * 20, "only the rows on the four garbled pages are lost"
    assert got["item"].original_rows in (BIG_ROWS, None)  # counted through the intact index
    assert_consistent(tmp_path / "out.db", tables)
    assert calls == [(t.table, i, len(tables)) for i, t in enumerate(tables, 1)]
    with ro(tmp_path / "out.db") as conn:  # AUTOINCREMENT does not hand out ids of deleted rows again
        assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'item'").fetchone()[0] == BIG_ROWS + 500


def test_damaged_interior_page_finishes(base, tmp_path, no_cli):
    base_path, scan_s = base
    source = damaged_copy(base_path, tmp_path / "src", "interior")
    before = sha(source)

    method, tables, took = run_salvage(source, tmp_path / "out.db")

    print(f"\nsalvage, interior page ({method}): {took:.3f} s; full scan: {scan_s:.3f} s")
    assert took < bound(scan_s)
    assert sha(source) == before
    item = by_name(tables)["item"]
    assert item.skipped_ranges == 1
    assert 0.5 * BIG_ROWS < item.recovered_rows < BIG_ROWS
    assert item.lost_rows == BIG_ROWS - item.recovered_rows
    with ro(tmp_path / "out.db") as conn:  # rows beyond the unreachable range are salvaged too
        assert conn.execute("SELECT max(id) FROM item").fetchone()[0] == BIG_ROWS
        assert conn.execute("SELECT min(id) FROM item").fetchone()[0] == 1
    assert_consistent(tmp_path / "out.db", tables)


def test_table_that_cannot_be_read_at_all(base, tmp_path, no_cli):
    base_path, scan_s = base
    source = damaged_copy(base_path, tmp_path / "src", "root")
    before = sha(source)

    method, tables, took = run_salvage(source, tmp_path / "out.db")

    assert took < bound(scan_s)
    assert sha(source) == before
    got = by_name(tables)
    assert got["item"].recovered_rows == 0
    assert got["item"].original_rows in (BIG_ROWS, None)
    assert got["category"].recovered_rows == SMALL_ROWS
    assert_consistent(tmp_path / "out.db", tables)


def test_without_rowid_table_with_a_damaged_middle(base_without_rowid, base, tmp_path, no_cli):
    _base, scan_s = base
    source = tmp_path / "pos_system.db"
    shutil.copyfile(base_without_rowid, source)
    leaves = [p.number for p in btree_pages(source, "item") if p.kind == "leaf"]
    garble(source, [leaves[len(leaves) // 2]])
    assert quick_check_fails(source)
    before = sha(source)

    method, tables, took = run_salvage(source, tmp_path / "out.db")

    assert took < bound(scan_s)
    assert sha(source) == before
    item = by_name(tables)["item"]
    assert item.skipped_ranges == 1
    assert 0.9 * BIG_ROWS < item.recovered_rows < BIG_ROWS  # read forwards to the damage, then backwards to it
    assert_consistent(tmp_path / "out.db", tables, without_rowid=True)


def test_folder_name_with_uri_characters(base, tmp_path, no_cli):
    base_path, scan_s = base
    folder = tmp_path / WEIRD_FOLDER
    source = damaged_copy(base_path, folder, "leaves")
    before = sha(source)

    method, tables, took = run_salvage(source, folder / "repaired.db")

    assert method == METHOD_COPY
    assert sha(source) == before
    assert by_name(tables)["item"].recovered_rows > 0.8 * BIG_ROWS
    assert_consistent(folder / "repaired.db", tables)
    assert sorted(p.name for p in folder.iterdir()) == ["pos_system.db", "repaired.db"]


def test_time_budget_stops_and_reports(base, tmp_path):
    base_path, _scan = base
    source = damaged_copy(base_path, tmp_path / "src", "leaves")

    method, tables, took = run_salvage(source, tmp_path / "out.db", time_budget_s=0, use_cli=False)

    assert method == METHOD_COPY_STOPPED
    assert took < 5
    assert [t.recovered_rows for t in tables] == [0, 0, 0]
    assert_consistent(tmp_path / "out.db", tables, small_table_copied=False)


def test_time_budget_running_out_in_the_middle_of_a_table(base, tmp_path, monkeypatch):
    source = damaged_copy(base[0], tmp_path / "src", "leaves")
    checks = {"n": 0}

    def expired(self) -> bool:  # the budget runs out after a few chunks of the big table
        checks["n"] += 1
        return checks["n"] > 3

    monkeypatch.setattr(salvage_mod._Clock, "expired", expired)
    method, tables = salvage(source, tmp_path / "out.db", time_budget_s=60, use_cli=False)

    assert method == METHOD_COPY_STOPPED
    got = by_name(tables)
    assert 0 < got["item"].recovered_rows < BIG_ROWS
    assert got["item"].original_rows == BIG_ROWS
    assert got["category"] == TableRecovery("category", None, 0)
    assert_consistent(tmp_path / "out.db", tables, small_table_copied=False)


def test_existing_target_is_refused(base, tmp_path):
    target = tmp_path / "out.db"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        salvage(base[0], target, use_cli=False)
    assert target.read_bytes() == b"keep me"


# --- the command-line tool path, with a stand-in tool (Debian 12's sqlite3 has no working .recover) -------

FAKE_CLI = """\
#!{python}
# Stand-in for the sqlite3 tool: ".recover" dumps with Python's iterdump, a bare path loads SQL from stdin.
import os, sqlite3, sys, time
from pathlib import Path
args = sys.argv[1:]
assert args[:3] == ["-batch", "-init", os.devnull], args
args = args[3:]
mode = {mode!r}
if args[-1] == ".recover":
    assert args[0] == "-readonly" and Path(args[1]).is_file(), args
    if mode == "fail":
        sys.stdout.write("BEGIN;\\n"); sys.stderr.write("sql error: SQL logic error (1)\\n"); sys.exit(1)
    if mode == "hang":
        time.sleep(60)
    conn = sqlite3.connect(Path(args[1]).as_uri() + "?mode=ro", uri=True)
    try:
        for line in conn.iterdump():
            sys.stdout.write(line + "\\n")
    except sqlite3.DatabaseError as err:
        sys.stderr.write(str(err)); sys.exit(1)
else:
    (target,) = args
    conn = sqlite3.connect(target)
    conn.executescript(sys.stdin.read())
    conn.close()
"""


def install_fake_cli(tmp_path: Path, monkeypatch, mode: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "sqlite3"
    tool.write_text(textwrap.dedent(FAKE_CLI).format(python=sys.executable, mode=mode))
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]))


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in tool is a POSIX script")
def test_cli_path_streams_into_the_target(base, tmp_path, monkeypatch):
    install_fake_cli(tmp_path, monkeypatch, "ok")
    folder = tmp_path / WEIRD_FOLDER
    folder.mkdir()
    source = folder / "pos_system.db"
    shutil.copyfile(base[0], source)  # iterdump needs a readable file: the stand-in "recovers" a whole one
    before = sha(source)
    calls: list[tuple[str, int, int]] = []

    method, tables = salvage(source, folder / "out.db", progress=lambda *a: calls.append(a))

    assert method == METHOD_CLI
    assert sha(source) == before
    got = by_name(tables)
    assert got["item"].recovered_rows == got["item"].original_rows == BIG_ROWS
    assert got["item"].lost_rows == 0
    assert_consistent(folder / "out.db", tables)
    assert [c[1:] for c in calls] == [(i, len(tables)) for i in range(1, len(tables) + 1)]


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in tool is a POSIX script")
@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_cli_failure_or_hang_falls_back_to_the_copy(base, tmp_path, monkeypatch, mode):
    base_path, scan_s = base
    install_fake_cli(tmp_path, monkeypatch, mode)
    source = damaged_copy(base_path, tmp_path / "src", "leaves")
    before = sha(source)

    method, tables, took = run_salvage(source, tmp_path / "out.db", cli_timeout_s=2)

    assert method == METHOD_COPY
    assert took < bound(scan_s) + 2
    assert sha(source) == before
    assert by_name(tables)["item"].recovered_rows > 0.8 * BIG_ROWS
    assert_consistent(tmp_path / "out.db", tables)


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in tool is a POSIX script")
def test_hanging_cli_gets_half_the_time_budget(base, tmp_path, monkeypatch):
    install_fake_cli(tmp_path, monkeypatch, "hang")
    source = damaged_copy(base[0], tmp_path / "src", "leaves")

    method, tables, took = run_salvage(source, tmp_path / "out.db", time_budget_s=4)

    assert method in (METHOD_COPY, METHOD_COPY_STOPPED)
    assert 2 <= took < 4 + 3
    assert_consistent(tmp_path / "out.db", tables, small_table_copied=method == METHOD_COPY)
