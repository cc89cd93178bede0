"""Contract (docs/contract.md), Observing it: Prometheus metrics of all workers, on a port apart."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.exceptions import MiddlewareNotUsed
from django.db import DataError, connection, transaction
from django.http import HttpResponse
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from conftest import gunicorn
from harness.server import free_port, workers_that_answered
from notes.api.metrics import MetricsMiddleware
from notes.models import Note
from notes_project.metrics import route_label

DURATION = "notes_http_request_duration_seconds"


def scrape(port):
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text, {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


@pytest.fixture
def server(transactional_db, tmp_path):
    port = free_port()
    # Three anonymous requests a day: the fourth is throttled. JSON logs: which worker answered.
    with gunicorn(
        tmp_path,
        METRICS_PORT=str(port),
        WEB_CONCURRENCY="2",
        NOTES_THROTTLE_ANON="3/day",
        LOG_FORMAT="json",
    ) as (url, _, log):
        yield url, port, log


def test_all_workers_requests_are_counted_by_method_route_and_status(server, token):
    """Catches metrics served from one worker's counts: both workers answer here."""
    url, port, log = server
    note = Note.objects.create(content="counted")
    request_ids = [f"counted-{i}-{uuid.uuid4().hex}" for i in range(10)]

    def get(request_id):
        # A new connection each, several at once, so both workers serve some of them.
        headers = {"Authorization": f"Token {token.key}", "X-Request-ID": request_id}
        return requests.get(f"{url}/api/notes/{note.pk}", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(get, request_ids)) == [200] * 10
    auth = {"Authorization": f"Token {token.key}"}
    assert requests.get(f"{url}/api/notes/{note.pk}/", headers=auth).status_code == 200
    assert requests.post(f"{url}/api/notes/", json={"content": "new"}, headers=auth).ok
    assert len(set(workers_that_answered(log, request_ids).values())) == 2

    text, samples = scrape(port)

    detail = {"method": "GET", "route": "api/notes/{pk}/", "status": "200"}
    assert value(samples, f"{DURATION}_count", **detail) == 11
    assert value(samples, f"{DURATION}_bucket", **detail, le="+Inf") == 11
    assert value(samples, f"{DURATION}_sum", **detail) > 0
    created = {"method": "POST", "route": "api/notes/", "status": "201"}
    assert value(samples, f"{DURATION}_count", **created) == 1
    # Route templates, never raw paths: one series however many notes there are.
    assert f"/{note.pk}" not in text


def test_rate_limited_requests_are_counted(server):
    url, port, _ = server
    statuses = [requests.get(f"{url}/api/notes/").status_code for _ in range(5)]

    _, samples = scrape(port)

    assert statuses == [200, 200, 200, 429, 429]
    labels = {"method": "GET", "route": "api/notes/"}
    assert value(samples, "notes_http_throttled_requests_total", **labels) == 2
    assert value(samples, f"{DURATION}_count", **labels, status="429") == 2


def test_metrics_are_not_served_on_the_api_port(server):
    url, _, _ = server

    response = requests.get(f"{url}/metrics")

    assert response.status_code == 404
    assert DURATION not in response.text


def test_metrics_host_binds_the_metrics_port_elsewhere(transactional_db, tmp_path):
    """Catches METRICS_HOST ignored: the exporter then listens on 127.0.0.1 instead."""
    port = free_port()
    with gunicorn(tmp_path, METRICS_PORT=str(port), METRICS_HOST="127.0.0.2") as (url, _, _):
        assert requests.get(f"{url}/api/notes/").status_code == 200
        scraped = requests.get(f"http://127.0.0.2:{port}/metrics", timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)

    assert scraped.status_code == 200
    assert DURATION in scraped.text


def test_without_metrics_port_the_middleware_leaves_the_stack(settings):
    settings.METRICS_PORT = None

    with pytest.raises(MiddlewareNotUsed):
        MetricsMiddleware(lambda request: HttpResponse())


def counted(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_replayed_idempotent_requests_are_counted(server, token):
    """Catches a replay the middleware does not count, or a first run counted as a replay."""
    url, port, _ = server
    headers = {"Authorization": f"Token {token.key}", "Idempotency-Key": uuid.uuid4().hex}
    first, again = (
        requests.post(f"{url}/api/notes/", json={"content": "once"}, headers=headers)
        for _ in range(2)
    )

    _, samples = scrape(port)

    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    labels = {"method": "POST", "route": "api/notes/"}
    assert value(samples, "notes_http_idempotent_replays_total", **labels) == 1
    assert value(samples, f"{DURATION}_count", **labels, status="201") == 2


@pytest.mark.django_db
def test_database_errors_are_counted_by_driver_class():
    before = counted("notes_database_errors_total", error="DivisionByZero")

    with pytest.raises(DataError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")

    assert counted("notes_database_errors_total", error="DivisionByZero") == before + 1


@pytest.mark.parametrize(
    ("route", "label"),
    [
        ("api/^notes/(?P<pk>\\d+)/?$", "api/notes/{pk}/"),
        ("api/^notes/?$", "api/notes/"),
        ("api/^notes/send-next/?$", "api/notes/send-next/"),
        ("^health/live/?$", "health/live/"),
        ("admin/<path:object_id>/", "admin/<path:object_id>/"),
        ("^api$", "api"),
    ],
)
def test_routes_are_labelled_by_their_template(route, label):
    assert route_label(route) == label
