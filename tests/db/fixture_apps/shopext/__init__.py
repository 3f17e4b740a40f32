"""A throw-away app whose migration chains the upgrade tests swap in.

``AURSWIFT_MIGRATION_MODULES=shopext=tests.db.fixture_apps.shopext.<chain>``
picks the chain; each is a real Django migrations package.
"""
