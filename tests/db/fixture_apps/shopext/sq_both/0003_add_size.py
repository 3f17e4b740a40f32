"""The same migration as the v2 chain."""

import importlib

Migration = importlib.import_module("tests.db.fixture_apps.shopext.v2.0003_add_size").Migration
