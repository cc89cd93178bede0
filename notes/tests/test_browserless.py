"""Contract, Operating it: API clients skip what only browsers need; browsers keep all of it.

Called through the WSGI application gunicorn serves (Django's test client
builds its own handler, with the full chain, and would see no difference).
"""

from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from notes.api.browserless import is_browserless
from notes_project.wsgi import application

pytestmark = pytest.mark.django_db


def call(path, query="", method="GET", **headers):
    """(status, headers, body) of one request through the WSGI application."""
    environ = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "wsgi.input": BytesIO(),
    }
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
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
        content = b"".join(body)
        body.close()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)
    return int(answer["status"][:3]), dict(answer["h"]), content


def test_a_json_client_gets_the_api_headers_and_none_of_the_browsers():
    status, headers, _ = call("/api/notes/", accept="application/json")

    assert status == 200
    assert "X-Request-ID" in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    # No session was looked for: the full chain's session check varies by Cookie.
    assert "Cookie" not in headers.get("Vary", "")
    # A JSON answer runs no script: the pages' policy is not built for it.
    assert "Content-Security-Policy" not in headers


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {"accept": "text/html"}),
        ("format=api", {}),
        ("", {"accept": "application/json", "cookie": "sessionid=abc"}),
    ],
)
def test_a_browser_or_a_request_with_cookies_takes_the_full_chain(query, headers):
    status, answer, _ = call("/api/notes/", query, **headers)

    assert status == 200
    assert "Cookie" in answer["Vary"]
    assert "script-src 'self'" in answer["Content-Security-Policy"]
    assert "X-Request-ID" in answer


def test_a_logged_in_browser_is_known_to_the_api_by_its_session(client, user):
    client.force_login(user)
    session = client.cookies["sessionid"].value

    status, _, body = call(
        "/api/notes/", method="POST", cookie=f"sessionid={session}", accept="application/json"
    )

    # Authenticated by the session, so held to its CSRF check (a client with no
    # session would be told to authenticate, 401).
    assert status == 403
    assert b"CSRF" in body


@pytest.mark.parametrize("path", ["/admin/", "/api-auth/login/", "/api/schema/", "/api/docs/"])
def test_the_admin_logins_and_documents_always_take_the_full_chain(path):
    assert not is_browserless({"PATH_INFO": path, "HTTP_ACCEPT": "application/json"})


def test_the_health_probes_are_browserless():
    assert is_browserless({"PATH_INFO": "/health/live"})
    status, headers, _ = call("/health/live")
    assert status == 200
    assert headers["X-Frame-Options"] == "DENY"
