"""Permission anchors for the maintenance pages.

The maintenance app keeps its state in files (backups, sidecars, the upgrade
history) so that it survives a restore of the database. These two models own
no table; they exist so Django creates the permissions that decide who may
use the maintenance and update pages (managers, not just any staff user).
"""

from django.db import models


class DatabaseMaintenance(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_database", "Can back up, restore and check the database")]
        verbose_name = "database maintenance"
        verbose_name_plural = "database maintenance"

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class SoftwareUpdate(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_updates", "Can check for and install software updates")]
        verbose_name = "software update"

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
