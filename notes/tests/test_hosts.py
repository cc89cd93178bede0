"""Contract, Errors: a Host outside ALLOWED_HOSTS is a 400, in the error envelope under /api/."""

import pytest
import requests

pytestmark = pytest.mark.django_db

REFUSED = {
    "status": 400,
    "code": "disallowed_host",
    "message": "The Host header names no host this service serves.",
}


@pytest.mark.parametrize("path", ["/api/notes/", "/api", "/api/notes/1/send", "/health/ready"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_host_under_the_api_is_an_enveloped_400(client, path, method):
    response = getattr(client, method)(path, HTTP_HOST="evil.example", HTTP_ACCEPT="text/html")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": REFUSED}


def test_an_unknown_host_on_a_page_keeps_django_s_html(client):
    response = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_under_gunicorn_an_unknown_host_is_an_enveloped_400(gunicorn_url, transactional_db):
    response = requests.get(f"{gunicorn_url}/api/notes/", headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert response.json() == {"error": REFUSED}
