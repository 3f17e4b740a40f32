from django.urls import path

from maintenance import update_views

app_name = "updates"
urlpatterns = [
    path("", update_views.prompt, name="prompt"),
    path("status/", update_views.status, name="status"),
    path("<slug:action>/", update_views.act, name="act"),
]
