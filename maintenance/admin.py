"""Register the maintenance pages in Django admin, for managers only.

Access needs the ``maintenance.manage_database`` permission (the Managers
group has it), not just ``is_staff``; every page goes through
``admin_site.admin_view`` for the login check and ``never_cache``.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from maintenance import admin_views
from maintenance.models import DatabaseMaintenance, SoftwareUpdate

PERMISSION = "maintenance.manage_database"


@admin.register(DatabaseMaintenance)
class DatabaseMaintenanceAdmin(admin.ModelAdmin):
    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        return self._guard(admin_views.index)(request)

    def _guard(self, view):
        def guarded(request, *args, **kwargs):
            if not request.user.has_perm(PERMISSION):
                raise PermissionDenied
            return view(request, self.admin_site, *args, **kwargs)

        return self.admin_site.admin_view(guarded)

    def get_urls(self):
        g = self._guard
        urls = [
            path("backups/", g(admin_views.backup_list), name="maintenance_backups"),
            path("backups/now/", g(admin_views.backup_now), name="maintenance_backup_now"),
            path("backups/progress/", g(admin_views.backup_progress), name="maintenance_backup_progress"),
            path("backups/retention/", g(admin_views.retention), name="maintenance_retention"),
            path("backups/<str:name>/verify/", g(admin_views.verify), name="maintenance_verify"),
            path("backups/<str:name>/download/", g(admin_views.download), name="maintenance_download"),
            path("backups/<str:name>/restore/", g(admin_views.restore), name="maintenance_restore"),
            path("backups/<str:name>/delete/", g(admin_views.delete), name="maintenance_delete"),
            path("health/", g(admin_views.health_page), name="maintenance_health"),
            path("history/", g(admin_views.history_page), name="maintenance_history"),
        ]
        # Only the index from ModelAdmin: no object URLs for a model without rows.
        index = path("", g(admin_views.index), name="maintenance_databasemaintenance_changelist")
        return [*urls, index]


UPDATES_PERMISSION = "maintenance.manage_updates"


@admin.register(SoftwareUpdate)
class SoftwareUpdateAdmin(DatabaseMaintenanceAdmin):
    """Installed version, update channel, last check, the offer and its state; "Check now"."""

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(UPDATES_PERMISSION)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(UPDATES_PERMISSION)

    def _guard(self, view):
        def guarded(request, *args, **kwargs):
            if not request.user.has_perm(UPDATES_PERMISSION):
                raise PermissionDenied
            return view(request, self.admin_site, *args, **kwargs)

        return self.admin_site.admin_view(guarded)

    def changelist_view(self, request, extra_context=None):
        return self._guard(admin_views.updates_page)(request)

    def get_urls(self):
        return [path("", self._guard(admin_views.updates_page), name="maintenance_softwareupdate_changelist")]
