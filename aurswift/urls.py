"""Top-level URLs: the till at the root, Django admin for managers."""

from django.contrib import admin
from django.urls import include, path

from aurswift.launch import open_session

urlpatterns = [
    path("launch/<str:token>/", open_session, name="launch"),
    path("admin/", admin.site.urls),
    path("", include("pos.urls")),
]
