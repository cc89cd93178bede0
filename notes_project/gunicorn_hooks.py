"""gunicorn's access log with named fields, and the Prometheus exporter that the master serves."""

import glob
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gunicorn import glogging

logger = logging.getLogger("gunicorn.error")


@dataclass
class MetricsDir:
    """The master's metrics directory, prepared once. A reload (HUP) runs gunicorn.conf.py
    again in the same master, where this module stays imported: the workers of a reload
    keep counting into the same files."""

    path: str | None = None
    own: bool = False  # made here, so removed on exit


metrics_dir = MetricsDir()


class AccessLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn has no type hints
    """One access line per request, with its fields as attributes of the log record.

    The path is logged without its query string: search words and cursors are
    the client's business. No header is logged, so no token and no cookie.
    """

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.cfg.accesslog:
            return
        fields = {
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", ""),
            "status": getattr(resp, "status_code", None),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "request_id": next(
                (value for name, value in resp.headers if name.lower() == "x-request-id"), None
            ),
        }
        self.access_log.info(
            "%(remote_addr)s %(method)s %(path)s %(status)s %(duration_ms).1f ms",
            fields,
            extra=fields,
        )


def prepare_metrics_dir() -> None:
    """Give prometheus-client's multiprocess mode an empty directory, before the app is loaded.

    PROMETHEUS_MULTIPROC_DIR, when set, is used (and emptied, as the client's
    documentation asks, once per start); else a temporary one is made and
    removed on exit. Either way it happens once per master: the workers of a
    reload keep counting into the same files.
    """
    if metrics_dir.path is not None:
        return
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="notes-metrics-")
        metrics_dir.own = True
    metrics_dir.path = path
    # prometheus-client reads its directory from the environment only (the workers
    # inherit it): the one setting here that must go through os.environ.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def start_exporter(host: str, port: int) -> None:
    """Serve every worker's metrics together from the master, on its own address."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    from notes_project.metrics import WalArchivingCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(WalArchivingCollector())
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        logger.error("Metrics not served on %s:%s: %s", host, port, exc)
        return
    logger.info("Metrics served at http://%s:%s/metrics", host, port)


def worker_exited(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_own_metrics_dir() -> None:
    if metrics_dir.own and metrics_dir.path:
        shutil.rmtree(metrics_dir.path, ignore_errors=True)
