"""gunicorn settings, from the same environment (and, when asked, .env) as the app."""

import gc
import multiprocessing
from pathlib import Path
from typing import Any

import environ

from notes_project import gunicorn_hooks, whole_responses
from notes_project.logs import logging_config

env = environ.Env()
# Like the settings: the development defaults only when asked (the Makefile asks).
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(Path(__file__).resolve().parent / ".env")

wsgi_app = "notes_project.wsgi:application"
bind = f"{env.str('HOST', default='127.0.0.1')}:{env.int('PORT', default=8000)}"
workers = env.int("WEB_CONCURRENCY", default=multiprocessing.cpu_count() * 2)
# Threads keep client connections alive between requests and let a worker
# run Python while another request waits on PostgreSQL or Redis; two per
# worker served as many requests per second as sync workers or more, at the same CPU per
# request (docs/performance.md, "Settled experiments"). The worker is gthread's, spreading
# clients that connect at once over the workers (notes_project/gunicorn_worker.py).
WORKER = "notes_project.gunicorn_worker.ThreadWorker"
worker_class = env.str("GUNICORN_WORKER_CLASS", default=WORKER)
threads = env.int("GUNICORN_THREADS", default=2)
# gunicorn_h1c's C parser reads requests; "fast" fails at start if it is missing.
http_parser = env.str("GUNICORN_HTTP_PARSER", default="fast")
# Load the app before forking: a broken configuration fails at once, loudly.
preload_app = True
timeout = env.int("GUNICORN_TIMEOUT", default=30)
graceful_timeout = 20

# ------------------------------------------------------------------------------
# LOGS: gunicorn's lines in the app's format (LOG_FORMAT), each request's with its id
# ------------------------------------------------------------------------------
# The access log records method, path, status and duration; never headers or
# the query string, so never tokens, cookies or search words.
accesslog = env.str("GUNICORN_ACCESS_LOG", default="-") or None
errorlog = "-"
logger_class = gunicorn_hooks.AccessLogger
logconfig_dict = logging_config(
    env.str("LOG_FORMAT", default="plain"),
    env.str("LOG_LEVEL", default="INFO"),
    access_log=accesslog or "-",
)

# Headers leave with the body in one write: a worker killed mid-response leaves a
# balancer nothing (which it retries elsewhere) rather than half a response.
# (GUNICORN_WHOLE_RESPONSES=false only to measure what that costs: docs/performance.md.)
if env.bool("GUNICORN_WHOLE_RESPONSES", default=True):
    whole_responses.install()

# ------------------------------------------------------------------------------
# METRICS: every worker writes its counts to files; the master serves their sum
# ------------------------------------------------------------------------------
METRICS_PORT = env.int("METRICS_PORT", default=None)
METRICS_HOST = env.str("METRICS_HOST", default="127.0.0.1")
if METRICS_PORT is not None:
    # Before the app (and so prometheus-client) is loaded, which preload_app does next.
    gunicorn_hooks.prepare_metrics_dir()


def pre_fork(server: Any, worker: Any) -> None:
    # What the master loaded (the app, under preload_app) moves to the garbage
    # collector's permanent generation: workers' collections never write to
    # those objects, so their pages stay shared instead of being copied.
    if env.bool("GUNICORN_GC_FREEZE", default=True):
        gc.collect()
        gc.freeze()


def when_ready(server: Any) -> None:
    if METRICS_PORT is not None:
        gunicorn_hooks.start_exporter(METRICS_HOST, METRICS_PORT)


def child_exit(server: Any, worker: Any) -> None:
    if METRICS_PORT is not None:
        gunicorn_hooks.worker_exited(worker.pid)


def on_exit(server: Any) -> None:
    gunicorn_hooks.remove_own_metrics_dir()
