"""API routes: every path works with and without its trailing slash, with no redirect."""

from django.urls import URLPattern
from rest_framework.routers import DefaultRouter

from notes.api.views import NoteViewSet


class OptionalSlashRouter(DefaultRouter):
    # A redirect to the slashed URL would make clients resend, and a
    # redirected POST loses its body, so both spellings are served directly.
    include_format_suffixes = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("notes", NoteViewSet, basename="note")

urlpatterns = router.urls

# The root of the API without its slash (/api), mounted by the project's urls.
# The same view object, so the browsable API's breadcrumbs list the root once.
api_root_view = next(
    url.callback
    for url in urlpatterns
    if isinstance(url, URLPattern) and url.name == router.root_view_name
)
