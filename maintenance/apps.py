from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Maintenance"

    def ready(self) -> None:
        """Start the after-start work when the app that runs us says the database is ready."""
        from maintenance import checks, signals  # noqa: F401 - checks registers itself on import

        signals.startup_finished.connect(_after_start, dispatch_uid="maintenance.after_start")


def _after_start(sender: object, db_path, data_dir, **kwargs: object) -> None:
    from maintenance.db import health
    from maintenance.updates.service import start_periodic_checks

    health.start_background_check(db_path, data_dir)
    start_periodic_checks()
