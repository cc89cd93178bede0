"""What request ids and metrics cost per request: the WSGI app called in process, with and without.

Run: .venv/bin/python -m bench.middleware_cost [calls]. Each round calls the
app `calls` times per variant, the variants interleaved so that the machine's
drift hits them alike; the report is the median over rounds. Metrics are
measured in prometheus-client's multiprocess mode, as gunicorn runs them.
"""

import os
import shutil
import statistics
import sys
import tempfile
import time
from io import BytesIO

OWN_DIR = None
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    OWN_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="notes-metrics-")
os.environ.setdefault("METRICS_PORT", "9100")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_project.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import override_settings  # noqa: E402

OURS = ["notes.api.request_id.RequestIdMiddleware", "notes.api.metrics.MetricsMiddleware"]
BASE = [name for name in settings.MIDDLEWARE if name not in OURS]
VARIANTS = {
    "neither": BASE,
    "request ids": [OURS[0], *BASE],
    "request ids + metrics": [*OURS, *BASE],
}
PATH = "/health/live"


def environ():
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(),
        "wsgi.errors": sys.stderr,
    }


def app_with(middleware):
    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()


def seconds_per_call(app, calls):
    def start_response(status, headers):
        assert status.startswith("200"), status

    started = time.perf_counter()
    for _ in range(calls):
        response = app(environ(), start_response)
        b"".join(response)
        response.close()
    return (time.perf_counter() - started) / calls


def main(calls=1000, rounds=15):
    apps = {name: app_with(middleware) for name, middleware in VARIANTS.items()}
    for app in apps.values():
        seconds_per_call(app, 100)  # warm up
    samples = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            samples[name].append(seconds_per_call(app, calls))
    base = statistics.median(samples["neither"])
    print(f"GET {PATH}, {calls} calls x {rounds} rounds, median per call:")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<24} {median * 1e6:7.1f} µs  (+{(median - base) * 1e6:5.1f} µs)")


if __name__ == "__main__":
    try:
        main(*(int(arg) for arg in sys.argv[1:2]))
    finally:
        if OWN_DIR:
            shutil.rmtree(OWN_DIR)
