# syntax=docker/dockerfile:1
# The notes service as a container image. Written and checked on paper: the tests
# check that every path copied here exists; no Docker engine ran it (README).
#
#   docker build -t notes-service .
#   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=... -e REDIS_URL=... notes-service
ARG PYTHON_VERSION=3.11

# --- build: the virtualenv and the collected static files --------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1
# Exactly the locked versions, hash-checked, no dependency resolution, then `pip check`.
COPY deploy/install-locked.sh /tmp/deploy/
COPY requirements.txt requirements-uv.txt /tmp/
RUN bash /tmp/deploy/install-locked.sh /opt/venv /tmp/requirements.txt
WORKDIR /app
COPY manage.py gunicorn.conf.py ./
COPY notes_project/ notes_project/
COPY notes/ notes/
# Settings need a key to load; this one lives for this command only, never in the image.
RUN DEBUG=false SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    STATIC_ROOT=/app/staticfiles /opt/venv/bin/python manage.py collectstatic --noinput

# --- runtime: the same files, no build tools, not root -----------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 notes \
    && useradd --system --uid 10001 --gid notes --no-create-home --home-dir /nonexistent notes
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBUG=false \
    HOST=0.0.0.0 \
    PORT=8000 \
    STATIC_ROOT=/app/staticfiles
USER 10001:10001
EXPOSE 8000
# The project's gunicorn configuration. Worker heartbeats go to memory, and no control
# socket is made, so the root filesystem can be read-only.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "--worker-tmp-dir", "/dev/shm", "--no-control-socket"]
