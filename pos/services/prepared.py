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

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
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
