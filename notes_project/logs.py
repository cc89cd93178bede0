"""Logging for the app and gunicorn alike: readable text, or one JSON object a line (LOG_FORMAT)."""

import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

LOG_FORMATS = ("plain", "json")

# Attributes some loggers attach that are objects, not facts: Django's request
# logger adds the request itself (its repr holds the query string), runserver
# its socket. They stay out of the JSON; everything they say is in the message.
HIDDEN_ATTRS = [*RESERVED_ATTRS, "request", "server_time", "color_message"]

FORMATTERS = {
    "plain": {
        "()": "logging.Formatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        # Lines outside a request (startup, shutdown) show "-" for the id.
        "defaults": {"request_id": "-"},
    },
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": ["levelname", "name", "process", "message"],
        "rename_fields": {"levelname": "level", "name": "logger"},
        "reserved_attrs": HIDDEN_ATTRS,
        "timestamp": True,
    },
}


def logging_config(log_format: str, level: str, access_log: str | None = None) -> dict[str, Any]:
    """A dictConfig for Django's LOGGING and gunicorn's logconfig_dict: the same lines from both.

    The service's own lines, Django's and gunicorn's error log go to stderr.
    gunicorn passes `access_log`: "-" sends its access log to stdout, as
    gunicorn does by default, anything else names a file. Django passes
    nothing and leaves gunicorn's loggers as gunicorn set them.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    # Django's own handlers print plain text when DEBUG is on; these loggers
    # hand their lines to the root's handler instead, in the chosen format.
    through_root = {"handlers": [], "propagate": True}
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "notes.api.request_id.RequestIdFilter"}},
        "formatters": {log_format: FORMATTERS[log_format]},
        "handlers": {"console": _handler(log_format, "stderr")},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {**through_root, "level": level},
            "django.server": through_root,
            # django-axes narrates every login it sees at INFO; notes.logins
            # writes the lines that matter (failures, locks) as warnings.
            "axes": {**through_root, "level": max(logging.WARNING, _level_number(level))},
        },
    }
    if access_log is not None:
        config["handlers"]["access"] = _access_handler(log_format, access_log)
        config["loggers"]["gunicorn.error"] = {"handlers": ["console"], "propagate": False}
        config["loggers"]["gunicorn.access"] = {"handlers": ["access"], "propagate": False}
    return config


def _level_number(level: str) -> int:
    return logging.getLevelNamesMapping().get(level.upper(), logging.NOTSET)


def _handler(log_format: str, stream: str) -> dict[str, Any]:
    return {
        "class": "logging.StreamHandler",
        "formatter": log_format,
        "filters": ["request_id"],
        "stream": f"ext://sys.{stream}",
    }


def _access_handler(log_format: str, access_log: str) -> dict[str, Any]:
    if access_log == "-":
        return _handler(log_format, "stdout")
    return {
        "class": "logging.FileHandler",
        "filename": access_log,
        "formatter": log_format,
        "filters": ["request_id"],
    }
