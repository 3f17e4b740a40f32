"""The same first migration as the initial chain."""

import importlib

Migration = importlib.import_module("benchmarks.benchext.migrations_initial.0001_initial").Migration
