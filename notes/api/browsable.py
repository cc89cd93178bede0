"""The browsable API's page, with no inline script, so it works under the Content-Security-Policy.

DRF's page logs out through an `onclick` attribute, which a policy allowing
only the service's own scripts refuses; this page posts its logout form with
a plain button instead. Everything else is DRF's.
"""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    template = "notes/browsable_api.html"
