"""The same migration as the fp chain."""

import importlib

Migration = importlib.import_module("tests.db.fixture_apps.shopext.fp.0004_partial").Migration
