from django.urls import path

from aurswift.startup import views

app_name = "startup"
urlpatterns = [
    path("", views.screen, name="screen"),
    path("status/", views.status, name="status"),
    path("confirm/<slug:name>/", views.confirm, name="confirm"),
    path("action/<slug:name>/", views.action, name="action"),
]
