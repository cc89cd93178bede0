"""Contract, Configuration: the committed .env's development defaults, and settings read from
the environment by the real service."""

import json

import requests

from conftest import BASE_DIR, gunicorn
from notes.tests.test_configuration import DEPLOY_ENV, django_shell

# What the committed .env names: its defaults are read with none of them in the environment.
DOT_ENV_NAMES = [
    line.split("=", 1)[0]
    for line in (BASE_DIR / ".env").read_text().splitlines()
    if "=" in line and not line.startswith("#")
]
DEFAULTS = """db = settings.DATABASES["default"]
print(json.dumps({
    "database": [db["NAME"], db["HOST"], db["PORT"], db["USER"], db["PASSWORD"]],
    "redis": settings.REDIS_URL,
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "time_zone": settings.TIME_ZONE,
    "public_read": settings.NOTES_PUBLIC_READ,
    "rates": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "development_key": settings.SECRET_KEY.startswith("django-insecure-"),
}))"""


def test_the_development_defaults_are_the_committed_env_file(monkeypatch):
    """Catches a default of the contract's Configuration changed in .env, or .env not read."""
    for name in DOT_ENV_NAMES:
        monkeypatch.delitem(DEPLOY_ENV, name, raising=False)

    result = django_shell(f"import json\n{DEFAULTS}", DJANGO_READ_DOT_ENV_FILE="true")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "database": ["notes", "127.0.0.1", 5432, "postgres", "postgres"],
        "redis": "redis://127.0.0.1:6379/0",
        "debug": True,
        "allowed_hosts": ["localhost", "127.0.0.1", "[::1]"],
        "time_zone": "UTC",
        "public_read": True,
        "rates": {"anon": "100/minute", "user": "1000/minute", "login": "10/minute"},
        "development_key": True,
    }


def test_time_zone_and_public_read_are_read_from_the_environment(
    transactional_db, token, dated_note, tmp_path
):
    """The real service, started with TIME_ZONE and NOTES_PUBLIC_READ in its environment.
    Catches either variable ignored: an anonymous read answered, or a time in UTC."""
    auth = {"Authorization": f"Token {token.key}"}
    with gunicorn(tmp_path, TIME_ZONE="Europe/Paris", NOTES_PUBLIC_READ="false") as (url, _, _):
        anonymous = requests.get(f"{url}/api/notes/{dated_note.pk}/")
        read = requests.get(f"{url}/api/notes/{dated_note.pk}/", headers=auth)

    assert anonymous.status_code == 401
    assert read.status_code == 200
    assert read.json()["data"]["created_at"] == "2024-01-15T11:30:00.123456+01:00"
