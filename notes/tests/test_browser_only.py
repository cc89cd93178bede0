"""Contract, Operating it: API clients skip what only browsers need; browsers keep all of it.

Every request runs settings.MIDDLEWARE (notes/api/browser_only.py): the test
clients here run the same chain as the WSGI application gunicorn serves.
"""

from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest
from django.core import checks
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.test import APIClient

from notes_project.wsgi import application

pytestmark = pytest.mark.django_db

BROWSERS = [
    ("", {"HTTP_ACCEPT": "text/html"}),
    ("format=api", {}),
    ("", {"HTTP_ACCEPT": "application/json", "HTTP_COOKIE": "sessionid=abc"}),
]


def served(path, query="", method="GET", **meta):
    """(status, headers, cookies set) of a request to the WSGI application gunicorn serves."""
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method, **meta}
    environ["wsgi.input"] = BytesIO()
    setup_testing_defaults(environ)
    environ["HTTP_HOST"] = "localhost"
    answer = {}
    # As Django's test client does: the test's transaction outlives the request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        body = application(
            environ, lambda status, headers, *_: answer.update(status=status, h=headers)
        )
        b"".join(body)
        body.close()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)
    cookies = {value.strip().split("=")[0] for name, value in answer["h"] if name == "Set-Cookie"}
    return int(answer["status"][:3]), dict(answer["h"]), cookies


def test_a_json_client_gets_the_api_headers_and_none_of_the_browsers(api_client):
    response = api_client.get("/api/notes/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "X-Request-ID" in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    # The session middleware did not run: no session, and no Vary: Cookie.
    assert not hasattr(response.wsgi_request, "session")
    assert "Cookie" not in response.get("Vary", "")
    # A JSON answer runs no script: the pages' policy is not built for it.
    assert "Content-Security-Policy" not in response


@pytest.mark.parametrize(("query", "meta"), BROWSERS)
def test_a_browser_or_a_request_with_cookies_takes_the_full_chain(api_client, query, meta):
    response = api_client.get(f"/api/notes/?{query}", **meta)

    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    assert "Cookie" in response["Vary"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "X-Request-ID" in response


@pytest.mark.parametrize(("query", "meta"), [("", {"HTTP_ACCEPT": "application/json"}), *BROWSERS])
def test_the_served_application_answers_as_the_test_client_does(api_client, query, meta):
    status, headers, cookies = served("/api/notes/", query, **meta)
    response = api_client.get(f"/api/notes/?{query}", **meta)

    assert status == response.status_code == 200
    assert set(headers) - {"Set-Cookie"} == set(response.headers)
    assert cookies == set(response.cookies)
    for name in ("Vary", "X-Frame-Options", "Content-Security-Policy"):
        assert headers.get(name) == response.get(name)


def test_a_logged_in_browser_is_known_to_the_api_by_its_session(user):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post("/api/notes/", {"content": "x"}, format="json")

    # Authenticated by the session, so held to its CSRF check (a client with no
    # session would be told to authenticate, 401).
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/admin/", "/api-auth/login/", "/api/schema/", "/api/docs/"])
def test_the_admin_logins_and_documents_always_take_the_full_chain(api_client, path):
    response = api_client.get(path, HTTP_ACCEPT="application/json")

    assert hasattr(response.wsgi_request, "session")
    assert "Content-Security-Policy" in response


def test_the_health_probes_skip_the_browsers_middleware(api_client):
    response = api_client.get("/health/live")

    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "session")
    assert response["X-Frame-Options"] == "DENY"


def csrf_warnings():
    found = checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)
    # In the order of their ids: the checks' own order follows the registry's, which varies.
    return sorted((message.id, message.is_silenced()) for message in found if "W003" in message.id)


def test_a_chain_without_csrf_protection_is_warned_of(settings):
    assert csrf_warnings() == [("security.W003", True)]
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if "Csrf" not in path]

    # Django's own looks for the exact path, and is silenced: ours stands there.
    assert csrf_warnings() == [("notes.W003", False), ("security.W003", True)]
