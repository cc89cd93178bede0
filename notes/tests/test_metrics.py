"""Contract (docs/contract.md), Observing it: Prometheus metrics of all workers, on a port apart."""

import pytest
import requests
from django.core.exceptions import MiddlewareNotUsed
from django.db import DataError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import resolve
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from conftest import gunicorn
from harness.server import free_port
from notes.api.metrics import MetricsMiddleware, route_label
from notes.models import Note

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
    # Three anonymous requests a day: the fourth is throttled.
    with gunicorn(
        tmp_path, METRICS_PORT=str(port), WEB_CONCURRENCY="2", NOTES_THROTTLE_ANON="3/day"
    ) as (url, _, _):
        yield url, port


def test_all_workers_requests_are_counted_by_method_route_and_status(server, token):
    url, port = server
    note = Note.objects.create(content="counted")
    auth = {"Authorization": f"Token {token.key}"}
    for _ in range(10):
        # A new connection each time, so both workers serve some of them.
        assert requests.get(f"{url}/api/notes/{note.pk}", headers=auth).status_code == 200
    requests.get(f"{url}/api/notes/{note.pk}/", headers=auth)
    requests.post(f"{url}/api/notes/", json={"content": "new"}, headers=auth)

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
    url, port = server
    statuses = [requests.get(f"{url}/api/notes/").status_code for _ in range(5)]

    _, samples = scrape(port)

    assert statuses == [200, 200, 200, 429, 429]
    labels = {"method": "GET", "route": "api/notes/"}
    assert value(samples, "notes_http_throttled_requests_total", **labels) == 2
    assert value(samples, f"{DURATION}_count", **labels, status="429") == 2


def test_metrics_are_not_served_on_the_api_port(server):
    url, _ = server

    response = requests.get(f"{url}/metrics")

    assert response.status_code == 404
    assert DURATION not in response.text


def test_without_metrics_port_the_middleware_leaves_the_stack(settings):
    settings.METRICS_PORT = None

    with pytest.raises(MiddlewareNotUsed):
        MetricsMiddleware(lambda request: HttpResponse())


def counted(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


@pytest.mark.parametrize(("header", "counts"), [("true", 1), (None, 0)])
def test_replayed_idempotent_responses_are_counted(settings, header, counts):
    settings.METRICS_PORT = 9999
    labels = {"method": "POST", "route": "api/notes/"}
    before = counted("notes_http_idempotent_replays_total", **labels)

    def replay(request):
        response = HttpResponse(status=201)
        if header:
            response["Idempotent-Replayed"] = header
        return response

    request = RequestFactory().post("/api/notes/")
    request.resolver_match = resolve("/api/notes/")
    MetricsMiddleware(replay)(request)

    assert counted("notes_http_idempotent_replays_total", **labels) == before + counts


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
