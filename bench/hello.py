"""The smallest WSGI application: what gunicorn itself costs per request (bench/floor.py)."""

BODY = b'{"data": "hello"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
