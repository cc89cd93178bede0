"""gunicorn settings, from the same environment (and, when asked, .env) as the app."""

import multiprocessing
from pathlib import Path

import environ

env = environ.Env()
# Like the settings: the development defaults only when asked (the Makefile asks).
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(Path(__file__).resolve().parent / ".env")

wsgi_app = "notes_project.wsgi:application"
bind = f"{env.str('HOST', default='127.0.0.1')}:{env.int('PORT', default=8000)}"
workers = env.int("WEB_CONCURRENCY", default=multiprocessing.cpu_count() * 2)
# Threads keep client connections alive between requests and let a worker
# run Python while another request waits on PostgreSQL or Redis; two per
# worker measured 1.1-1.2x the requests per second of sync workers (BENCHMARKS.md).
worker_class = env.str("GUNICORN_WORKER_CLASS", default="gthread")
threads = env.int("GUNICORN_THREADS", default=2)
# Load the app before forking: a broken configuration fails at once, loudly.
preload_app = True
timeout = env.int("GUNICORN_TIMEOUT", default=30)
graceful_timeout = 20
# The access log records method, path and status; never headers, so never tokens.
accesslog = env.str("GUNICORN_ACCESS_LOG", default="-") or None
errorlog = "-"
