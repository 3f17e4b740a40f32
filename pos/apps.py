from django.apps import AppConfig


class PosConfig(AppConfig):
    name = "pos"
    verbose_name = "Point of sale"

    def ready(self) -> None:
        from pos.services import catalogue

        catalogue.connect_signals()  # the till's in-process catalogue forgets itself on every edit
