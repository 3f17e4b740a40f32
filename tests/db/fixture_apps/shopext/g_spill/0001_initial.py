"""The same first migration as the v1 chain (each chain is its own migrations package)."""

import importlib

Migration = importlib.import_module("tests.db.fixture_apps.shopext.v1.0001_initial").Migration
