"""Contract (docs/contract.md), Browser apps on other origins: CORS for the allowed ones only."""

import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ARTIFACTS, gunicorn
from notes.models import Note

APP = "https://notes-app.example"
REQUEST_HEADERS = ["authorization", "content-type", "if-match", "if-none-match", "idempotency-key"]
EXPOSED = ["etag", "location", "retry-after", "x-request-id", "idempotent-replayed"]
PATHS = ["/api/notes/", "/api/notes", "/api/notes/1/", "/api/notes/1/send"]
METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]


@pytest.fixture
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP, "http://localhost:3000"]


def listed(value):
    return sorted(item.strip().lower() for item in value.split(","))


def preflight(client, path, origin, method="PATCH"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=", ".join(REQUEST_HEADERS),
    )


def cors_headers(response):
    return {name for name in response.headers if name.lower().startswith("access-control-")}


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed")
@pytest.mark.parametrize(
    "path", ["/api/notes/", "/api/notes", "/api/notes/1/", "/api/notes/1/send"]
)
def test_a_preflight_from_an_allowed_origin_is_answered(client, path):
    response = preflight(client, path, APP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert listed(response["Access-Control-Allow-Methods"]) == [m.lower() for m in METHODS]
    assert listed(response["Access-Control-Allow-Headers"]) == sorted(REQUEST_HEADERS)
    # Tokens travel in a header, never in cookies, so no credentials mode.
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed")
def test_responses_to_an_allowed_origin_expose_the_api_headers(auth_client, note):
    read = auth_client.get(f"/api/notes/{note.pk}/", HTTP_ORIGIN="http://localhost:3000")
    created = auth_client.post("/api/notes/", {"content": "from the app"}, HTTP_ORIGIN=APP)

    for response in (read, created):
        assert response["Access-Control-Allow-Origin"] in (APP, "http://localhost:3000")
        assert listed(response["Access-Control-Expose-Headers"]) == sorted(EXPOSED)
        assert "origin" in listed(response["Vary"])


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed")
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://notes-app.example", "https://notes-app.example:8443"]
)
def test_any_other_origin_gets_no_cors_headers(client, origin):
    assert not cors_headers(preflight(client, "/api/notes/", origin))
    assert not cors_headers(client.get("/api/notes/", HTTP_ORIGIN=origin))


@pytest.mark.django_db
def test_by_default_no_origin_is_allowed(client):
    assert not cors_headers(preflight(client, "/api/notes/", APP))
    assert not cors_headers(client.get("/api/notes/", HTTP_ORIGIN=APP))


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed")
def test_the_admin_stays_same_origin(client):
    assert not cors_headers(client.get("/admin/login/", HTTP_ORIGIN=APP))


@pytest.mark.django_db
@pytest.mark.usefixtures("allowed")
def test_errors_carry_cors_headers_so_the_app_can_read_them(client):
    response = client.post("/api/notes/", {"content": "x"}, HTTP_ORIGIN=APP)

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP


# ------------------------------------------------------------------------------
# In a real browser: a page from another localhost port calls the API under gunicorn
# ------------------------------------------------------------------------------
APP_PAGE = (Path(__file__).parent / "data" / "cors_app.html").read_bytes()


class AppPage(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(APP_PAGE)

    def log_message(self, *args):
        pass


@contextmanager
def app_origin():
    """Serve the app page on a port of its own; yield its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), AppPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_browser_app_on_an_allowed_origin_creates_lists_and_edits_notes(
    browser, transactional_db, token, tmp_path
):
    with (
        app_origin() as app,
        app_origin() as stranger,
        gunicorn(tmp_path, CORS_ALLOWED_ORIGINS=app, WEB_CONCURRENCY="2") as (api, _, _),
    ):
        page = browser.new_page()
        page.goto(app)
        result = page.evaluate("([api, token]) => tour(api, token)", [api, token.key])
        page.screenshot(path=ARTIFACTS / "cors_app.png", full_page=True)
        page.goto(stranger)
        refused = page.evaluate("(api) => tryToRead(api)", api)
        page.close()

    note = Note.objects.get(content="Edited on another origin")
    assert result["created"] == 201
    assert result["location"].endswith(f"/api/notes/{note.pk}")
    assert result["listed"] == 200
    assert result["contents"][0] == "Made on another origin"
    assert result["etag"].startswith(f'"{note.pk}-')
    assert (result["edited"], result["editedContent"]) == (200, "Edited on another origin")
    assert result["editedEtag"] not in (None, result["etag"])
    assert (result["stale"], result["staleCode"]) == (412, "precondition_failed")
    assert str(uuid.UUID(result["requestId"])) == result["requestId"]
    # Another origin is refused by the browser: its script sees a network error, not data.
    assert refused == "TypeError"
