"""Top-level routes: the API, its documents, health probes and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from notes.api.errors import UnknownEndpointView
from notes.api.health import LiveView, ReadyView
from notes.api.urls import api_root_view

urlpatterns = [
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # Its script served apart from the page (?script), as the Content-Security-Policy asks.
    re_path(r"^api/docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    re_path(
        r"^api/redoc/?$",
        SpectacularRedocView.as_view(url_name="schema", template_name="notes/redoc.html"),
        name="redoc",
    ),
    re_path(r"^api$", api_root_view),
    path("api/", include("notes.api.urls")),
    # Anything else under /api/ answers an enveloped 404, never Django's HTML page.
    re_path(r"^api/", UnknownEndpointView.as_view()),
    re_path(r"^health/live/?$", LiveView.as_view(), name="health-live"),
    re_path(r"^health/ready/?$", ReadyView.as_view(), name="health-ready"),
    # Log in and out of the browsable API with a Django session.
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]

# Django's 400s (a Host outside ALLOWED_HOSTS among them) in the error envelope under /api/.
handler400 = "notes.api.errors.bad_request"
handler500 = "notes.api.errors.server_error"
