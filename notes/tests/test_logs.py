"""Contract (docs/contract.md), Observing it: log lines, plain or JSON, with ids and no secrets."""

import json
import re
import secrets

import pytest
import requests

from conftest import gunicorn
from notes.tokens.models import Token

PASSWORD = f"pw-{secrets.token_hex(8)}"
NOTE = f"private note {secrets.token_hex(8)}"
EDIT = f"edited note {secrets.token_hex(8)}"
SEARCH_WORD = f"sought{secrets.token_hex(4)}"
TRACE = "trace-me.123:abc"


@pytest.fixture
def editor(transactional_db, django_user_model, settings):
    """A staff user whose password the server, with its production hashers, can check."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = django_user_model.objects.create_superuser("editor", password=PASSWORD)
    return user, Token.objects.issue(user)


def exercise(url, token):
    """A session of a REST client and a browser user; returns every secret it handled.

    Each request's status is checked: a secret only counts as kept out of the log if the
    request that carried it was handled as meant (an edit applied, a login accepted)."""
    auth = {"Authorization": f"Token {token.key}"}
    created = requests.post(f"{url}/api/notes/", json={"content": NOTE}, headers=auth)
    note_url = created.headers["Location"]
    read = requests.get(note_url)
    etag = read.headers["ETag"]
    statuses = [created.status_code, read.status_code]
    for method, body, headers in [
        ("patch", {"content": EDIT}, {**auth, "If-Match": etag}),
        ("put", {"content": NOTE}, {**auth, "If-Match": etag}),  # stale by now: 412
    ]:
        statuses.append(requests.request(method, note_url, json=body, headers=headers).status_code)
    too_long = {"content": NOTE + "x" * 300}
    statuses += [
        requests.post(f"{url}/api/notes/", json=too_long, headers=auth).status_code,
        requests.get(f"{url}/api/notes/", params={"search": SEARCH_WORD}).status_code,
        requests.get(
            f"{url}/api/notes/", headers={"Authorization": f"Token {'0' * 40}"}
        ).status_code,
        requests.get(f"{url}/api/nothing", headers={"X-Request-ID": TRACE}).status_code,
        requests.get(f"{url}/health/ready").status_code,
    ]
    assert statuses == [201, 200, 200, 412, 400, 200, 401, 404, 200]
    return {"token": token.key, "password": PASSWORD, **log_in(url)}


def log_in(url):
    """The browser user's login to the admin: its session and CSRF cookies."""
    browser = requests.Session()
    login = f"{url}/admin/login/"
    browser.get(login)
    csrf = browser.cookies["csrftoken"]
    form = {"username": "editor", "password": PASSWORD, "csrfmiddlewaretoken": csrf}
    response = browser.post(login, data=form, headers={"Referer": login}, allow_redirects=False)
    assert response.status_code == 302
    assert browser.get(f"{url}/admin/notes/note/").status_code == 200
    return {"session": browser.cookies["sessionid"], "csrf": csrf}


def run_and_collect(tmp_path, editor, **settings):
    _, token = editor
    with gunicorn(tmp_path, WEB_CONCURRENCY="2", **settings) as (url, _, log):
        handled = exercise(url, token)
    # The server has stopped, so its shutdown lines are in the log too.
    return log.read_text().splitlines(), handled


def assert_no_secrets(lines, handled):
    text = "\n".join(lines)
    for name, secret in {**handled, "note": NOTE, "edit": EDIT, "search": SEARCH_WORD}.items():
        assert secret not in text, f"the {name} reached the log"


def test_json_logs_are_one_object_a_line_with_ids_and_no_secrets(tmp_path, editor):
    lines, handled = run_and_collect(tmp_path, editor, LOG_FORMAT="json")
    records = [json.loads(line) for line in lines]

    assert all(isinstance(record, dict) for record in records)
    for record in records:
        assert {"timestamp", "level", "message"} <= record.keys(), record
    assert any("Booting worker" in record["message"] for record in records)  # gunicorn's own
    access = [record for record in records if record["logger"] == "gunicorn.access"]
    assert len(access) >= 12
    for record in access:
        assert {"method", "path", "status", "duration_ms", "request_id"} <= record.keys()
        assert isinstance(record["status"], int)
        assert record["duration_ms"] >= 0
    traced = [record for record in records if record.get("request_id") == TRACE]
    # The access line and Django's "Not Found" warning of the same request.
    assert {record["logger"] for record in traced} == {"gunicorn.access", "django.request"}
    assert [(r["method"], r["path"], r["status"]) for r in traced if "method" in r] == [
        ("GET", "/api/nothing", 404)
    ]
    assert_no_secrets(lines, handled)


def test_plain_logs_are_readable_lines_with_ids_and_no_secrets(tmp_path, editor):
    lines, handled = run_and_collect(tmp_path, editor)

    assert not any(line.startswith("{") for line in lines)
    traced = [line for line in lines if f"[{TRACE}]" in line]
    assert len(traced) == 2
    assert any(re.search(r"gunicorn\.access .* GET /api/nothing 404 [\d.]+ ms$", t) for t in traced)
    assert any("WARNING django.request" in line and "Not Found" in line for line in traced)
    assert any(re.search(r"INFO gunicorn\.error \[-\] Booting worker", line) for line in lines)
    assert_no_secrets(lines, handled)


def test_the_access_log_can_go_to_a_file_of_its_own(transactional_db, tmp_path):
    access = tmp_path / "access.log"
    with gunicorn(tmp_path, GUNICORN_ACCESS_LOG=str(access), LOG_FORMAT="json") as (url, _, log):
        requests.get(f"{url}/health/live", headers={"X-Request-ID": TRACE})
    lines = [json.loads(line) for line in access.read_text().splitlines()]

    # The helper's own readiness probes are there too.
    assert {line["logger"] for line in lines} == {"gunicorn.access"}
    assert ("/health/live", TRACE) in [(line["path"], line["request_id"]) for line in lines]
    assert "gunicorn.access" not in log.read_text()
