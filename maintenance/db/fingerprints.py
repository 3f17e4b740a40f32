"""Fingerprints of applied migrations: Django keeps no checksum, so we do.

A fingerprint (scheme v2, stored as ``"v2:" + sha256``) is a function of what
a migration *does*, and only of that. It must be the same under every hash
seed, ``-O``/``-OO``, bytecode cache, reformatting, Python 3.11 to 3.13 and
Django patch releases, because a refusal blocks a shop. So:

* Operations are described structurally from ``deconstruct()`` (what Django's
  migration writer serializes), not by ``repr``: sets and frozensets are
  sorted by their canonical JSON (a set's order depends on the hash seed),
  dicts keep their order (iteration order is behaviour), lazy strings are
  untranslated, memory addresses are stripped from any fallback ``repr``.
* Functions (``RunPython`` code, lambdas, ``functools.partial``) are described
  by a canonical dump of their *source AST*, not bytecode: bytecode changes
  between Python versions and ``-OO`` drops docstrings from the constants.
  The dump keeps node types and non-position fields, skips empty/``None``
  fields (newer Pythons add fields such as ``type_params`` with empty
  defaults), drops docstrings and other bare constant statements, and sorts
  set literals. The function's own name is left out (renaming is not a
  change). A lambda is found by parsing its whole module (``getsource`` gives
  only its line) and matching the Lambda node by line and column.
* A ``RunPython`` function also covers the module-level functions and simple
  constants (str/int/float/bool/None/Decimal and containers of them) it uses,
  by global name or ``module.attr``, recursively — but only inside the
  project's own apps (under ``settings.BASE_DIR``, outside site-packages), so
  a Django or third-party patch release never changes a shop's fingerprints.
  Third-party functions are referenced by dotted name; a third-party app's own
  migrations contribute their operations and their functions' own source.
* Nothing here raises: a function without source falls back to a description
  of its code object (names and simple constants); anything unknown to a
  type name plus an address-free ``repr``.

A ledger value without the ``v2:`` prefix was written by the earlier scheme
(bytecode + ``repr``, unstable across hash seeds and Python versions); it is
re-fingerprinted, never treated as a mismatch (see :mod:`classify`).

The ledger lives in the same database (table ``aurswift_migration_fingerprints``)
so that a restored backup carries the fingerprints that belong to it.
"""

from __future__ import annotations

import ast
import contextlib
import decimal
import functools
import hashlib
import json
import linecache
import os
import re
import sqlite3
import sys
import sysconfig
import types
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from django.db.migrations import Migration, RunPython
from django.db.migrations.operations.base import Operation
from django.utils.functional import Promise

LEDGER_TABLE = "aurswift_migration_fingerprints"
CREATE_LEDGER = f"""
CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (app, name)
)
"""
SCHEME = "v2"
PREFIX = SCHEME + ":"

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_SIMPLE_SCALARS = (str, int, float, bool, type(None), decimal.Decimal)
_MISSING = object()


def is_current(value: str | None) -> bool:
    """Return whether a ledger value was written by this scheme (older ones are carried over)."""
    return value is not None and value.startswith(PREFIX)


def fingerprint(migration: Migration) -> str:
    """Return ``"v2:" + sha256`` of what ``migration`` does. Never raises."""
    try:
        payload = _Describer(migration).migration()
    except Exception as err:  # noqa: BLE001 - a fingerprint must never fail an upgrade
        payload = {"undescribable": type(err).__name__, "migration": _safe_name(migration)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_last_resort)
    return PREFIX + hashlib.sha256(text.encode()).hexdigest()


def read_ledger(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """Return ``{(app, name): fingerprint}``; empty when the ledger does not exist yet."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (LEDGER_TABLE,)).fetchone()
    if not exists:
        return {}
    return {(app, name): sha for app, name, sha in conn.execute(f"SELECT app, name, sha256 FROM {LEDGER_TABLE}")}  # noqa: S608


def write_fingerprints(conn: sqlite3.Connection, entries: Iterable[tuple[str, str, str]], source: str) -> None:
    """Record ``(app, name, fingerprint)`` rows in their own short transaction."""
    now = datetime.now(UTC).isoformat()
    with conn:
        conn.execute(CREATE_LEDGER)
        conn.executemany(
            f"INSERT OR REPLACE INTO {LEDGER_TABLE} (app, name, sha256, recorded_at, source) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            [(app, name, sha, now, source) for app, name, sha in entries],
        )


# --- Which code is the project's own ------------------------------------------
@functools.lru_cache(maxsize=1)
def _third_party_roots() -> tuple[Path, ...]:
    roots = set()
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        with contextlib.suppress(Exception):
            roots.add(Path(sysconfig.get_paths()[key]).resolve())
    return tuple(sorted(roots))


def is_third_party_path(path: Path) -> bool:
    """Return whether ``path`` belongs to an installed package or the standard library."""
    if {"site-packages", "dist-packages"} & set(path.parts):
        return True
    return any(path.is_relative_to(root) for root in _third_party_roots())


def local_app_paths() -> list[Path]:
    """Return the folders of the project's own apps (under BASE_DIR, not installed packages)."""
    try:
        from django.apps import apps
        from django.conf import settings

        base = str(settings.BASE_DIR)
        paths = tuple(str(cfg.path) for cfg in apps.get_app_configs())
    except Exception:  # noqa: BLE001 - no settings/apps: nothing is local
        return []
    return list(_local_among(base, paths))


@functools.lru_cache(maxsize=8)
def _local_among(base_dir: str, app_paths: tuple[str, ...]) -> tuple[Path, ...]:
    """Cached: classifying asks once per applied migration, and resolving paths is half of its time."""
    base = Path(base_dir).resolve()
    resolved = (Path(path).resolve() for path in app_paths)
    return tuple(p for p in resolved if p.is_relative_to(base) and not is_third_party_path(p))


# --- Source code --------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _parse(filename: str, stamp: tuple[int, int] | None) -> ast.Module | None:
    lines = linecache.getlines(filename)
    if not lines:
        return None
    try:
        return ast.parse("".join(lines), filename=filename)
    except (SyntaxError, ValueError):
        return None


def _module_tree(code: types.CodeType, func: types.FunctionType) -> ast.Module | None:
    filename = code.co_filename
    try:
        st = os.stat(filename)
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        linecache.checkcache(filename)
    except OSError:
        stamp = None
        linecache.updatecache(filename, func.__globals__)  # a loader's get_source (zip imports)
    return _parse(filename, stamp)


def _find_node(func: types.FunctionType) -> ast.AST | None:
    """Return the FunctionDef/Lambda node that defined ``func`` (None when the source is unavailable)."""
    code = func.__code__
    tree = _module_tree(code, func)
    if tree is None:
        return None
    line = code.co_firstlineno
    if code.co_name == "<lambda>":
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line]
        if len(lambdas) <= 1:
            return lambdas[0] if lambdas else None
        return _pick_lambda(lambdas, code)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == code.co_name:
            starts = [node.lineno, *(d.lineno for d in node.decorator_list)]
            if line in starts:
                return node
    return None


def _pick_lambda(candidates: list[ast.Lambda], code: types.CodeType) -> ast.AST:
    """Pick among several lambdas on one line: by the names the code uses, then by instruction columns.

    Python 3.12+ gives a lambda that only returns a constant no column
    information, so the names come first (they are the same in every version).
    """
    names = _code_names(code)
    matching = [n for n in candidates if _lambda_names(n) == names] or candidates
    if len(matching) == 1:
        return matching[0]
    for start_line, _end_line, col, _end_col in code.co_positions():
        if start_line is None or col is None or (start_line, col) == (code.co_firstlineno, 0):
            continue
        inside = [
            n
            for n in matching
            if (n.body.lineno, n.body.col_offset) <= (start_line, col) <= (n.body.end_lineno, n.body.end_col_offset)
        ]
        if inside:
            return min(inside, key=lambda n: ((n.end_lineno or 0) - n.lineno, (n.end_col_offset or 0) - n.col_offset))
        break
    return ast.Tuple(elts=list(matching))  # cannot tell them apart: all of them, in source order


def _code_names(code: types.CodeType) -> frozenset[str]:
    """Global and attribute names a code object (and the code nested in it) uses, plus its free variables."""
    names = set(code.co_names) | set(code.co_freevars)
    stack = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    while stack:
        nested = stack.pop()
        names.update(nested.co_names)
        stack.extend(c for c in nested.co_consts if isinstance(c, types.CodeType))
    return frozenset(names)


def _lambda_names(node: ast.Lambda) -> frozenset[str]:
    """The same names, read from a Lambda node: attributes, and names that are neither arguments nor bound inside."""
    bound = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    loads: set[str] = set()
    for sub in ast.walk(node.body):
        if isinstance(sub, ast.Attribute):
            loads.add(sub.attr)
        elif isinstance(sub, ast.Name):
            (loads if isinstance(sub.ctx, ast.Load) else bound).add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
    return frozenset(loads - bound)


def _dump(node: object, *, root: bool = False) -> object:
    """Return a canonical, position-free, version-tolerant description of an AST."""
    if isinstance(node, list):
        return [_dump(item) for item in node if not _is_bare_constant(item)]
    if not isinstance(node, ast.AST):
        return node if isinstance(node, str | int) and not isinstance(node, bool) else repr(node)
    if isinstance(node, ast.Constant):
        return ["Constant", _constant(node.value)]
    out: dict[str, object] = {}
    for name, value in ast.iter_fields(node):
        if value is None or value == [] or name in {"type_comment", "kind"}:
            continue
        if root and name == "name":
            continue
        if isinstance(node, ast.Set) and name == "elts":
            out[name] = sorted((_dump(v) for v in value), key=_key)
        elif isinstance(node, ast.JoinedStr) and name == "values":
            out[name] = _joined(value)
        else:
            out[name] = _dump(value)
    return [type(node).__name__, out]


def _is_bare_constant(node: object) -> bool:
    """Docstrings, ``...`` and other statements that are only a constant do nothing."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _joined(values: list[ast.AST]) -> list[object]:
    """f-string parts with adjacent literals merged and empty ones dropped (3.12's parser differs)."""
    parts: list[object] = []
    text = ""
    for value in values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            text += value.value
            continue
        if text:
            parts.append(["Constant", _constant(text)])
            text = ""
        parts.append(_dump(value))
    if text:
        parts.append(["Constant", _constant(text)])
    return parts


def _constant(value: object) -> list[object]:
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    if value is None or isinstance(value, bool):
        return [repr(value)]
    if value is Ellipsis:
        return ["..."]
    return [type(value).__name__, repr(value)]


def _key(item: object) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"), default=_last_resort)


def _last_resort(value: object) -> str:
    return _ADDRESS.sub("0x", f"{type(value).__module__}.{type(value).__qualname__}:{value!r}")


def _safe_name(obj: object) -> str:
    try:
        return f"{getattr(obj, 'app_label', '?')}.{getattr(obj, 'name', '?')}"
    except Exception:  # noqa: BLE001
        return "?"


def _dotted(obj: object) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__qualname__
    return f"{module}.{qualname}"


# --- Describing a migration ---------------------------------------------------
class _Describer:
    """Turn a migration into JSON-able data; one instance per fingerprint (it holds the visited set)."""

    def __init__(self, migration: Migration) -> None:
        self.migration_obj = migration
        self.migration_module = type(migration).__module__
        self.local_paths = local_app_paths()
        self.visited: set[int] = set()

    def migration(self) -> dict[str, object]:
        from django.utils import translation

        with translation.override(None):  # lazy strings as written, whatever the active language
            operations = [self.operation(op) for op in self.migration_obj.operations]
        return {"atomic": bool(getattr(self.migration_obj, "atomic", True)), "operations": operations}

    def operation(self, op: Operation) -> object:
        try:
            name, args, kwargs = op.deconstruct()
            if isinstance(op, RunPython):
                kwargs = {
                    k: (
                        self.function(v, run=True) if k in {"code", "reverse_code"} and v is not None else self.value(v)
                    )
                    for k, v in kwargs.items()
                }
                return {"op": name, "args": self.value(list(args)), "kwargs": kwargs}
            return {"op": name, "args": self.value(list(args)), "kwargs": {k: self.value(v) for k, v in kwargs.items()}}
        except Exception as err:  # noqa: BLE001
            return {"op": type(op).__qualname__, "undescribable": type(err).__name__}

    # Values inside operations (fields, options, SQL, nested operations…).
    def value(self, value: object) -> object:
        try:
            return self._value(value)
        except RecursionError:
            return {"too_deep": type(value).__qualname__}
        except Exception as err:  # noqa: BLE001
            return {"undescribable": type(value).__qualname__, "error": type(err).__name__}

    def _value(self, value: object) -> object:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, Promise):
            return str(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return {"float": repr(value)}
        if isinstance(value, decimal.Decimal):
            return {"Decimal": str(value)}
        if isinstance(value, bytes | bytearray):
            return {"bytes": bytes(value).hex()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, tuple):
            return {"tuple": [self.value(v) for v in value]}
        if isinstance(value, dict):
            return {"dict": [[self.value(k), self.value(v)] for k, v in value.items()]}
        if isinstance(value, set | frozenset):
            return {"set": sorted((self.value(v) for v in value), key=_key)}
        if isinstance(value, Operation):
            return self.operation(value)
        if isinstance(value, type):
            return {"type": _dotted(value)}
        if isinstance(value, functools.partial) or callable(value) and not hasattr(value, "deconstruct"):
            return self.function(value, run=False)
        if hasattr(value, "deconstruct"):
            return {"deconstruct": self.value(list(value.deconstruct()))}
        return self._serialized(value)

    def _serialized(self, value: object) -> object:
        """Django's migration serializer for the rest (dates, enums, UUIDs, paths, regexes…)."""
        try:
            from django.db.migrations.serializer import serializer_factory

            text, _imports = serializer_factory(value).serialize()
            return {"serialized": _ADDRESS.sub("0x", text)}
        except Exception:  # noqa: BLE001
            return {"repr": _last_resort(value)}

    # Functions.
    def function(self, func: object, *, run: bool) -> object:
        """Describe a callable: ``run`` for RunPython code (deep), else as a reference inside an operation."""
        try:
            return self._function(func, run=run)
        except RecursionError:
            return {"too_deep": _dotted(func)}
        except Exception as err:  # noqa: BLE001
            return {"callable": _dotted(func), "error": type(err).__name__}

    def _function(self, func: object, *, run: bool) -> object:
        if isinstance(func, functools.partial):
            return {
                "partial": self.function(func.func, run=run),
                "args": self.value(list(func.args)),
                "keywords": self.value(dict(sorted(func.keywords.items()))),
            }
        if isinstance(func, staticmethod | classmethod):
            return self.function(func.__func__, run=run)
        if isinstance(func, types.MethodType):
            owner = func.__self__
            return {
                "method": self.function(func.__func__, run=run),
                "of": {"type": _dotted(owner)} if isinstance(owner, type) else {"instance": _dotted(type(owner))},
            }
        if not isinstance(func, types.FunctionType):
            call = type(func).__dict__.get("__call__")
            if isinstance(call, types.FunctionType) and self._is_own(call):
                return {"instance": _dotted(type(func)), "call": self.function(call, run=run)}
            return {"ref": _dotted(func)}
        named = "<locals>" not in func.__qualname__ and func.__name__ != "<lambda>"
        own = self._is_own(func)
        if named and (not run or not own):
            return {"ref": _dotted(func)}  # by name: a field's default, a validator, a third-party function
        return self._body(func, follow=run and self._is_local(func))

    def _body(self, func: types.FunctionType, *, follow: bool) -> object:
        self.visited.add(id(func))
        node = _find_node(func)
        desc: dict[str, object] = {"ast": _dump(node, root=True)} if node is not None else self._no_source(func)
        if func.__defaults__:
            desc["defaults"] = self.value(list(func.__defaults__))
        if func.__kwdefaults__:
            desc["kwdefaults"] = self.value(dict(sorted(func.__kwdefaults__.items())))
        if func.__closure__:
            cells: dict[str, object] = {}
            for name, cell in zip(func.__code__.co_freevars, func.__closure__, strict=False):
                try:
                    content = cell.cell_contents
                except ValueError:
                    cells[name] = {"empty": True}
                    continue
                cells[name] = self._closure_value(content, follow)
            desc["closure"] = cells
        if follow:
            uses = self._uses(func, node)
            if uses:
                desc["uses"] = uses
        return desc

    def _closure_value(self, content: object, follow: bool) -> object:
        if isinstance(content, types.FunctionType) and (follow or self._is_own(content)):
            if id(content) in self.visited:
                return {"seen": True}
            return self._body(content, follow=follow and self._is_local(content))
        return self.value(content)

    def _no_source(self, func: types.FunctionType) -> dict[str, object]:
        """Without source (a frozen build): names and simple constants of the code, never bytecode."""
        names: set[str] = set()
        consts: list[object] = []

        def walk(code: types.CodeType) -> None:
            names.update(code.co_names)
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    walk(const)
                elif const is not None and const != func.__doc__ and _is_simple(const):
                    consts.append(self.value(const))

        walk(func.__code__)
        return {
            "no_source": func.__qualname__,
            "args": func.__code__.co_argcount,
            "names": sorted(names),
            "consts": sorted(consts, key=_key),
        }

    # What a RunPython function uses from its module (and what those use…).
    def _uses(self, func: types.FunctionType, node: ast.AST | None) -> dict[str, object]:
        names: set[str] = set()
        chains: set[tuple[str, ...]] = set()
        if node is not None:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
                elif isinstance(sub, ast.Attribute):
                    chain = _attribute_chain(sub)
                    if chain:
                        chains.add(chain)
        else:
            stack = [func.__code__]
            while stack:
                code = stack.pop()
                names.update(code.co_names)
                stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
            chains = {(a, b) for a in names for b in names if a != b}
        env = func.__globals__
        uses: dict[str, object] = {}
        for name in sorted(names):
            if not (name.startswith("__") and name.endswith("__")) and name in env:
                self._use(name, env[name], uses)
        for chain in sorted(chains):
            target = env.get(chain[0], _MISSING)
            for depth, attr in enumerate(chain[1:], start=2):
                if not isinstance(target, types.ModuleType) or not self._is_local_module(target):
                    break
                if attr.startswith("__"):
                    break
                target = getattr(target, attr, _MISSING)
                if target is _MISSING:
                    break
                if not isinstance(target, types.ModuleType):
                    self._use(".".join(chain[:depth]), target, uses)
                    break
        return uses

    def _use(self, key: str, value: object, uses: dict[str, object]) -> None:
        if isinstance(value, types.FunctionType):
            if not self._is_local(value):
                return
            uses[key] = {"seen": True} if id(value) in self.visited else self._body(value, follow=True)
        elif isinstance(value, functools.partial) and isinstance(value.func, types.FunctionType):
            if self._is_local(value.func):
                uses[key] = self.function(value, run=True)
        elif _is_simple(value):
            uses[key] = {"const": self.value(value)}

    # Where code lives.
    def _is_own(self, func: object) -> bool:
        """Defined in the migration's own module, or in the project's own apps."""
        return getattr(func, "__module__", None) == self.migration_module or self._is_local(func)

    def _is_local(self, func: object) -> bool:
        module = sys.modules.get(getattr(func, "__module__", None) or "")
        if module is not None:
            return self._is_local_module(module)
        code = getattr(func, "__code__", None)
        return code is not None and self._is_local_file(code.co_filename)

    def _is_local_module(self, module: types.ModuleType) -> bool:
        filename = getattr(module, "__file__", None)
        return filename is not None and self._is_local_file(filename)

    def _is_local_file(self, filename: str) -> bool:
        try:
            path = Path(filename).resolve()
        except (OSError, ValueError):
            return False
        return any(path.is_relative_to(root) for root in self.local_paths) and not is_third_party_path(path)


def _attribute_chain(node: ast.Attribute) -> tuple[str, ...] | None:
    parts: list[str] = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    return (current.id, *reversed(parts))


def _is_simple(value: object, depth: int = 0) -> bool:
    """str/int/float/bool/None/Decimal, and tuples/lists/dicts/sets of them."""
    if depth > 20:
        return False
    if isinstance(value, _SIMPLE_SCALARS) and not isinstance(value, Promise):
        return True
    if isinstance(value, tuple | list | set | frozenset):
        return all(_is_simple(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_is_simple(k, depth + 1) and _is_simple(v, depth + 1) for k, v in value.items())
    return False
