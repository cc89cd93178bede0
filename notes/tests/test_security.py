"""Security posture: headers on every kind of response, HSTS over HTTPS, tokens kept out of logs."""

import pytest
import requests

from conftest import gunicorn

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

PAGES = [
    ("/api/notes/", "application/json"),
    ("/api/notes/?format=api", "text/html"),
    ("/api/nothing", "application/json"),
    ("/api/docs/", "text/html"),
    ("/admin/login/", "text/html"),
    ("/health/live", "application/json"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "content_type"), PAGES)
def test_security_headers_are_on_api_and_html_responses(client, path, content_type):
    response = client.get(path)

    assert response["Content-Type"].startswith(content_type)
    for header, value in HEADERS.items():
        assert response[header] == value, header
    assert "Strict-Transport-Security" not in response


@pytest.mark.django_db
def test_hsts_is_sent_over_https_when_https_is_on(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    response = client.get("/api/notes/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_static_files_carry_the_headers_too(gunicorn_url):
    response = requests.get(f"{gunicorn_url}/static/admin/css/base.css")

    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_tokens_never_reach_the_logs(transactional_db, token, tmp_path):
    bad_key = "f" * 40
    with gunicorn(tmp_path) as (url, _, log):
        for key in (token.key, bad_key):
            auth = {"Authorization": f"Token {key}"}
            requests.get(f"{url}/api/notes/", headers=auth)
            requests.post(f"{url}/api/notes/", json={"content": "x"}, headers=auth)
            requests.get(f"{url}/api/nothing", headers=auth)
        text = log.read_text()

    assert "POST /api/notes/" in text  # the access log is on
    assert token.key not in text
    assert bad_key not in text
