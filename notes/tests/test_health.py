"""Contract, Endpoints: liveness and readiness probes."""

import pytest
from django.core.management import call_command


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


@pytest.mark.django_db
def test_ready_answers_503_while_a_migration_is_pending(api_client):
    # Inside the test's transaction, so the rollback restores the schema.
    call_command("migrate", "notes", "0002", verbosity=0)

    response = api_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    assert "1 migration" in response.json()["error"]["message"]
    assert response["Retry-After"]
