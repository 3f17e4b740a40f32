"""The same migration as the fp chain."""

import importlib

Migration = importlib.import_module("tests.db.fixture_apps.shopext.fp.0003_lambda").Migration
