"""Till URLs (filled in by the till views)."""

from django.urls import path
from django.views.generic import TemplateView

app_name = "pos"
urlpatterns = [
    path("", TemplateView.as_view(template_name="pos/placeholder.html"), name="till"),
    path("signin/", TemplateView.as_view(template_name="pos/placeholder.html"), name="signin"),
]
