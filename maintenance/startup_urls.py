from django.urls import path

from maintenance import startup_views

app_name = "startup"
urlpatterns = [
    path("", startup_views.screen, name="screen"),
    path("status/", startup_views.status, name="status"),
    path("action/<slug:name>/", startup_views.action, name="action"),
]
