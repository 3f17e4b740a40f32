"""Top-level URLs: the till at the root, Django admin for managers, start-up pages."""

from django.contrib import admin
from django.urls import include, path

from aurswift.launch import open_session
from aurswift.startup import views as startup_views

urlpatterns = [
    path("launch/<str:token>/", open_session, name="launch"),
    path("startup/", include("aurswift.startup.urls")),
    path("_instance/focus/", startup_views.focus, name="instance-focus"),
    path("updates/", include("maintenance.update_urls")),
    path("admin/", admin.site.urls),
    path("", include("pos.urls")),
]
