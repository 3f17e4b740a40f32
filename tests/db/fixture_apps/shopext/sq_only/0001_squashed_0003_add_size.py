"""The same migration as the sq_both chain; the replaced originals are gone."""

import importlib

Migration = importlib.import_module("tests.db.fixture_apps.shopext.sq_both.0001_squashed_0003_add_size").Migration
