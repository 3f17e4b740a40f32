"""What the till sells, cached in this process: categories, products, VAT rates, tables and the business.

The till reads these on every tap but they change only when someone edits the
back office, so one snapshot is kept in memory and thrown away:

* when any of them is saved or deleted in this process (``post_save`` and
  ``post_delete`` receivers connected in :class:`pos.apps.PosConfig`), at once
  and again when the transaction commits, so a reader never keeps a snapshot
  taken before the edit was visible;
* when the database file is replaced (a restore swaps the file: its inode changes);
* after :data:`MAX_AGE_S` seconds, for an edit made by another process
  (``manage.py shell``, an import).

A snapshot is only kept when loaded outside a transaction: data read inside
one may be rolled back (tests do this after every test), and must not outlive it.

Products in a snapshot are ordinary model instances with their ``vat_rate``
and ``category`` loaded. Treat them as read-only: they are shared by every request.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from django.db import connection, transaction

from pos.models import Business, Category, Product, Table, VatRate

MAX_AGE_S = 30.0
"""How long a snapshot is trusted without any edit seen in this process."""

CACHED_MODELS = (Business, Category, Product, Table, VatRate)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(text: str) -> str:
    """Fold case as SQLite's LIKE does (ASCII letters only), which is what ``sku__iexact`` means there."""
    return text.translate(_ASCII_LOWER)


@dataclass
class Catalogue:
    business: Business | None
    categories: list[Category]
    tables: list[Table]
    products: dict[int, Product] = field(default_factory=dict)
    by_category: dict[int, list[Product]] = field(default_factory=dict)
    by_barcode: dict[str, Product] = field(default_factory=dict)
    by_sku: dict[str, list[Product]] = field(default_factory=dict)
    identity: object = None
    loaded_at: float = 0.0

    def product(self, pk: int | None) -> Product | None:
        return self.products.get(pk) if pk else None

    def active_in(self, category: Category | None) -> list[Product]:
        return self.by_category.get(category.pk, []) if category is not None else []

    def table(self, pk: int | None) -> Table | None:
        """Return an active table by id."""
        return next((t for t in self.tables if t.pk == pk), None) if pk else None

    def find_by_code(self, code: str) -> Product | None:
        """The active product with this barcode, or this SKU in any ASCII case (what a scanner types)."""
        code = code.strip()
        if not code:
            return None
        found = {p.pk: p for p in self.by_sku.get(_ascii_lower(code), [])}
        if code in self.by_barcode:
            found[self.by_barcode[code].pk] = self.by_barcode[code]
        if not found:
            return None
        return min(found.values(), key=_product_order)


def _product_order(product: Product) -> tuple:
    return (product.category.sort_order, product.name, product.pk)


def _load(identity: object) -> Catalogue:
    products = list(Product.objects.select_related("vat_rate", "category").order_by("category__sort_order", "name"))
    catalogue = Catalogue(
        business=Business.objects.first(),
        categories=list(Category.objects.all()),
        tables=list(Table.objects.filter(active=True)),
        identity=identity,
        loaded_at=time.monotonic(),
    )
    for product in products:
        catalogue.products[product.pk] = product
        if not product.active:
            continue
        catalogue.by_category.setdefault(product.category_id, []).append(product)
        if product.barcode:
            catalogue.by_barcode[product.barcode] = product
        if product.sku:
            catalogue.by_sku.setdefault(_ascii_lower(product.sku), []).append(product)
    return catalogue


def _database_identity() -> object:
    """Return what changes when the database file is swapped for another (a restore): its device and inode."""
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return name
    try:
        info = os.stat(name)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


_lock = threading.Lock()
_snapshot: Catalogue | None = None
_generation = 0


def current() -> Catalogue:
    """Return the catalogue: the cached snapshot while it is valid, else a fresh one (kept if it may be)."""
    global _snapshot
    identity = _database_identity()
    snapshot = _snapshot
    if snapshot is not None and snapshot.identity == identity and time.monotonic() - snapshot.loaded_at < MAX_AGE_S:
        return snapshot
    with _lock:
        generation = _generation
    fresh = _load(identity)
    if not connection.in_atomic_block:
        with _lock:
            if generation == _generation:  # no edit happened while loading
                _snapshot = fresh
    return fresh


def clear() -> None:
    """Forget the snapshot (the next read loads a fresh one)."""
    global _snapshot, _generation
    with _lock:
        _snapshot = None
        _generation += 1


def _changed(sender, **kwargs) -> None:
    clear()
    using = kwargs.get("using") or "default"
    transaction.on_commit(clear, using=using)  # readers in between may have seen the old rows


def connect_signals() -> None:
    """Forget the snapshot whenever one of the cached models is saved or deleted (from PosConfig.ready)."""
    from django.db.models.signals import post_delete, post_save

    for model in CACHED_MODELS:
        post_save.connect(_changed, sender=model, dispatch_uid=f"pos-catalogue-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"pos-catalogue-delete-{model.__name__}")
