"""The queries the till runs on every tap, compiled to SQL once per server thread.

Building and compiling a queryset costs Django far more than SQLite takes to
run the statement (hundreds of microseconds against tens, for the till's
small look-ups by id), and the till runs a dozen of them per sale. A
:class:`Prepared` query is written as an ordinary queryset whose values are
parameters; its first run in a thread compiles it, and every later run
executes the same SQL with the new values and turns the rows into the model
instances the queryset itself would have returned (``select_related`` and
annotations included, database converters applied). The SQL is Django's own,
so it is exactly the query the queryset describes.

Only ``int`` and ``str`` values, compared for equality, can be parameters:
each must reach the SQL unchanged, as one parameter. ``prefetch_related`` is
not supported (run :func:`django.db.models.prefetch_related_objects` on the
result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import Model, QuerySet, signals, sql
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

M = TypeVar("M", bound=Model)

_INT_SENTINEL = -7_340_021_937_152_000_000  # a 64-bit integer no till ever stores
_STR_SENTINEL = "\x00aurswift-prepared-parameter-"


class _Compiled:
    def __init__(self, queryset: QuerySet, sentinels: dict[str, object]) -> None:
        if queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise ValueError("a prepared query cannot prefetch; prefetch on its result")
        self.db = queryset.db
        compiler = queryset.query.get_compiler(using=self.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.slots: list[tuple[int, str]] = []
        for name, sentinel in sentinels.items():
            found = [i for i, p in enumerate(self.params) if type(p) is type(sentinel) and p == sentinel]
            if len(found) != 1:
                raise ValueError(f"parameter {name!r} must reach the SQL once, unchanged (found {len(found)})")
            self.slots.append((found[0], name))
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        self.related = get_related_populators(klass_info, select, self.db)
        self.annotations = list(compiler.annotation_col_map.items())
        self.converters = list(compiler.get_converters([s[0] for s in select[: compiler.col_count]]).items())

    def run(self, connection, values: dict[str, Any]) -> list:
        params = list(self.params)
        for index, name in self.slots:
            value = values[name]
            if type(value) not in (int, str):
                raise TypeError(f"parameter {name!r}: an int or a str, not {type(value).__name__}")
            params[index] = value
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        objects = []
        for fetched in rows:
            row = list(fetched)
            for pos, (convs, expression) in self.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
            obj = self.model.from_db(self.db, self.init_list, row[self.start : self.end])
            for populator in self.related:
                populator.populate(row, obj)
            for attr, pos in self.annotations:
                setattr(obj, attr, row[pos])
            objects.append(obj)
        return objects


class Prepared(Generic[M]):
    """A queryset built by ``build(**parameters)``, compiled once per thread, run with new values each time.

    ``Prepared(lambda pk: Order.objects.filter(pk=pk), pk=int)``, then
    ``query.all(pk=7)`` (a list) or ``query.first(pk=7)`` (the first row's object, or None).
    """

    def __init__(self, build: Callable[..., QuerySet[M]], using: str = DEFAULT_DB_ALIAS, **parameters: type) -> None:
        self.build, self.using = build, using
        self.sentinels: dict[str, object] = {}
        for i, (name, kind) in enumerate(parameters.items()):
            if kind is int:
                self.sentinels[name] = _INT_SENTINEL - i
            elif kind is str:
                self.sentinels[name] = f"{_STR_SENTINEL}{i}"
            else:
                raise TypeError(f"parameter {name!r}: int or str, not {kind!r}")
        self._local = threading.local()

    def _compiled(self, connection) -> _Compiled:
        cached = getattr(self._local, "compiled", None)
        if cached is None or cached[0] is not connection:
            cached = (connection, _Compiled(self.build(**self.sentinels).using(self.using), self.sentinels))
            self._local.compiled = cached
        return cached[1]

    def all(self, **values: Any) -> list[M]:
        connection = connections[self.using]
        return self._compiled(connection).run(connection, values)

    def first(self, **values: Any) -> M | None:
        found = self.all(**values)
        return found[0] if found else None


# --- writes: the till's INSERTs and UPDATEs, compiled once ---------------------
#
# ``Model.save()`` builds and compiles a query on every call, which costs the
# till more than SQLite takes to write the row. These write the same row with
# the same statement, compiled once per model and connection vendor, each value
# prepared by its field exactly as ``save()`` prepares it
# (``pre_save``, ``get_db_prep_save``). A model that someone listens to
# (``pre_save``/``post_save`` receivers) or that has its own ``save()``, a
# value that is an expression, or a backend that cannot return the new id
# from its INSERT is saved the ordinary way.

_insert_sql: dict[tuple[type[Model], str, str], tuple[str, list, list, list] | None] = {}
_update_sql: dict[tuple[type[Model], str, str, tuple[str, ...]], tuple[str, list] | None] = {}


def _needs_save(model: type[Model]) -> bool:
    """Whether ``save()`` does more for ``model`` than one statement: listeners, its own save, ordered rows."""
    return (
        signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or any(getattr(model, name) is not getattr(Model, name) for name in ("save", "save_base", "_save_table"))
        or model._meta.order_with_respect_to is not None
    )


def _compile_insert(obj: Model, connection, using: str) -> tuple[str, list, list, list] | None:
    """Return (sql, fields, returning fields, their converters) for a new row of ``obj``'s model, or None."""
    meta = obj._meta
    if not connection.features.can_return_columns_from_insert or meta.parents:
        return None
    fields = [f for f in meta.local_concrete_fields if f not in meta.pk_fields and not f.generated]
    if any(hasattr(f, "get_placeholder") for f in fields):
        return None  # a field that writes its own SQL around the value: leave it to save()
    returning = list(meta.db_returning_fields)
    query = sql.InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = returning  # as QuerySet._insert() has it compiled
    compiled = compiler.as_sql()
    if len(compiled) != 1 or len(compiled[0][1]) != len(fields):
        return None  # not one plain placeholder per field: leave it to save()
    # as SQLInsertCompiler.execute_sql() converts what RETURNING gives back
    by_index = compiler.get_converters([f.get_col(meta.db_table) for f in returning])
    converters = [by_index.get(i, ((), None)) for i in range(len(returning))]
    return compiled[0][0], fields, returning, converters


def insert(obj: Model, using: str = DEFAULT_DB_ALIAS) -> None:
    """Save a new ``obj`` (no id yet) as ``obj.save()`` would: one INSERT, the new id read back onto it."""
    model = type(obj)
    connection = connections[using]
    key = (model, using, connection.vendor)
    if key not in _insert_sql:
        _insert_sql[key] = _compile_insert(obj, connection, using)
    compiled = _insert_sql[key]
    if compiled is None or obj._is_pk_set() or _needs_save(model):  # type: ignore[attr-defined]
        obj.save(using=using)
        return
    statement, fields, returning, converters = compiled
    # an unsaved related object is refused, as by save()
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    params = []
    for field in fields:
        value = field.pre_save(obj, add=True)
        if hasattr(value, "resolve_expression"):
            obj.save(using=using)
            return
        params.append(field.get_db_prep_save(value, connection=connection))
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:  # as save() does
        cursor.execute(statement, params)
        row = cursor.fetchone()
    for field, value, (convs, expression) in zip(returning, row, converters, strict=True):
        for convert in convs:
            value = convert(value, expression, connection)
        setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, using


def _compile_update(model: type[Model], fields: tuple[str, ...], connection) -> tuple[str, list] | None:
    """Return (sql, target fields) of one UPDATE by id of ``fields``, or None where only save() will do."""
    meta, quote = model._meta, connection.ops.quote_name
    concrete = {f.name: f for f in meta.concrete_fields} | {f.attname: f for f in meta.concrete_fields}
    if any(name not in concrete for name in fields):
        return None  # save() refuses a name that is not a column with its own ValueError
    targets = [concrete[name] for name in fields]
    if any(f.primary_key or hasattr(f, "get_placeholder") for f in targets):
        return None
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in targets)
    # names from the model's own metadata, quoted; the values are parameters
    statement = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return statement, targets


def update(obj: Model, fields: tuple[str, ...], using: str = DEFAULT_DB_ALIAS) -> None:
    """Save ``fields`` of a saved ``obj`` as ``obj.save(update_fields=fields)`` would: one UPDATE by its id."""
    model = type(obj)
    connection = connections[using]
    key = (model, using, connection.vendor, fields)
    if key not in _update_sql:
        _update_sql[key] = _compile_update(model, fields, connection)
    compiled = _update_sql[key]
    if compiled is None or _needs_save(model) or model._meta.parents or model._meta.select_on_save:
        obj.save(using=using, update_fields=list(fields))
        return
    statement, targets = compiled
    # an unsaved related object is refused, as by save()
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    params = []
    for field in targets:
        value = field.pre_save(obj, add=False)
        if hasattr(value, "resolve_expression"):
            obj.save(using=using, update_fields=list(fields))
            return
        params.append(field.get_db_prep_save(value, connection=connection))
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:  # as save() does
        cursor.execute(statement, params)
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")  # as save() says
