"""Contract, Endpoints: liveness and readiness probes."""

import pytest
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader

from notes.api.health import ready_check
from notes.tests.test_configuration import STRONG_KEY, django_shell


@pytest.fixture(autouse=True)
def fresh_readiness():
    """No outcome kept from an earlier test."""
    ready_check.checked_at = -float("inf")


@pytest.mark.parametrize("path", ["/health/live", "/health/live/"])
def test_live_answers_200_while_the_process_serves(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    assert response.json() == {"data": {"status": "live"}}


@pytest.mark.django_db
def test_ready_answers_200_when_the_database_answers_and_is_migrated(api_client):
    response = api_client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"data": {"status": "ready"}}


def one_before_the_last(app):
    """The app's migration before its newest: migrating back to it leaves one pending."""
    names = sorted(name for label, name in MigrationLoader(None).disk_migrations if label == app)
    return names[-2]


@pytest.mark.django_db
def test_ready_answers_503_while_a_migration_is_pending(api_client):
    # Inside the test's transaction, so the rollback restores the schema.
    call_command("migrate", "notes", one_before_the_last("notes"), verbosity=0)

    response = api_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    assert "1 migration" in response.json()["error"]["message"]
    assert response["Retry-After"]


@pytest.mark.django_db
def test_ready_answers_from_the_outcome_kept_for_a_few_seconds(api_client, settings):
    settings.HEALTH_READY_CACHE_SECONDS = 60
    assert api_client.get("/health/ready").status_code == 200
    call_command("migrate", "notes", "0002", verbosity=0)

    # The outcome kept: stale, within the bound.
    assert api_client.get("/health/ready").status_code == 200
    settings.HEALTH_READY_CACHE_SECONDS = 0
    assert api_client.get("/health/ready").status_code == 503


def test_the_environment_sets_how_long_readiness_is_kept():
    code = "print(settings.HEALTH_READY_CACHE_SECONDS)"

    assert django_shell(code, SECRET_KEY=STRONG_KEY).stdout.strip() == "2.0"
    chosen = django_shell(code, SECRET_KEY=STRONG_KEY, HEALTH_READY_CACHE_SECONDS="0")
    assert chosen.stdout.strip() == "0.0", chosen.stderr
