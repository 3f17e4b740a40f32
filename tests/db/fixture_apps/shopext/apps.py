from django.apps import AppConfig


class ShopextConfig(AppConfig):
    name = "tests.db.fixture_apps.shopext"
    label = "shopext"
