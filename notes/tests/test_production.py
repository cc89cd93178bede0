"""Contract, Configuration and Operating it: production settings, under gunicorn with DEBUG off."""

import os
import re
import secrets
import subprocess
import sys

import pytest
import requests

from conftest import BASE_DIR
from notes.models import Note

STRONG_KEY = secrets.token_urlsafe(50)


def run_with(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def test_with_debug_off_the_development_secret_key_is_refused():
    result = run_with({"DEBUG": "false"}, "check")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_reports_nothing_with_debug_off_a_strong_key_and_https():
    result = run_with(
        {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "HTTPS": "true"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.fixture
def live(gunicorn_url, transactional_db):
    return gunicorn_url


def test_gunicorn_serves_the_seeded_list_in_the_envelope(live):
    Note.objects.create(content="served by gunicorn")

    body = requests.get(f"{live}/api/notes/").json()

    assert body["data"][0]["content"] == "served by gunicorn"
    assert body["links"] == {"next": None, "previous": None}


def test_gunicorn_answers_unknown_api_paths_with_json_not_html(live):
    response = requests.get(f"{live}/api/nothing/here", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def linked_assets(html, suffix):
    return [url for url in re.findall(r'(?:src|href)="([^"]+)"', html) if url.endswith(suffix)]


@pytest.mark.parametrize(
    ("page", "suffix", "content_type"),
    [
        ("/admin/login/", ".css", "text/css"),
        ("/api/docs/", ".js", "javascript"),
        ("/api/redoc/", ".js", "javascript"),
        ("/api/notes/", ".css", "text/css"),
    ],
)
def test_pages_and_their_static_files_are_served_with_debug_off(live, page, suffix, content_type):
    response = requests.get(f"{live}{page}", headers={"Accept": "text/html"})
    assets = linked_assets(response.text, suffix)

    assert response.status_code == 200
    assert assets
    for asset in assets:
        served = requests.get(f"{live}{asset}")
        assert served.status_code == 200, asset
        assert content_type in served.headers["Content-Type"]
        assert "max-age" in served.headers["Cache-Control"]
