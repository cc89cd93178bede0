"""Health probes: liveness of the process, readiness of the database and schema."""

import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notes.api.exceptions import NotReady
from notes.api.schema import responses


class HealthView(APIView):
    """Probes answer anyone, are never throttled, and touch no session."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


HEALTH = inline_serializer("Health", {"status": serializers.CharField()})


class LiveView(HealthView):
    # Answers while the process serves, whatever the database does.
    @extend_schema(responses=responses({200: HEALTH}, 406, 500), tags=["health"])
    def get(self, request: Request) -> Response:
        return Response({"status": "live"})


class ReadyCheck:
    """The readiness check's last outcome, kept per process for HEALTH_READY_CACHE_SECONDS.

    Building the migration graph costs tens of milliseconds, and the probe is
    public: a flood of probes costs one check per process per period. The
    answer is at most that many seconds stale (0: checked on every probe).
    """

    def __init__(self) -> None:
        self.checked_at = -float("inf")
        self.problem: str | None = None
        self.lock = threading.Lock()

    def problem_now(self) -> str | None:
        with self.lock:
            if time.monotonic() - self.checked_at >= settings.HEALTH_READY_CACHE_SECONDS:
                self.problem = self.check()
                self.checked_at = time.monotonic()
            return self.problem

    @staticmethod
    def check() -> str | None:
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError:
            return "The database does not answer."
        return f"{len(pending)} migration(s) not applied." if pending else None


ready_check = ReadyCheck()


class ReadyView(HealthView):
    @extend_schema(responses=responses({200: HEALTH}, 406, 500, 503), tags=["health"])
    def get(self, request: Request) -> Response:
        problem = ready_check.problem_now()
        if problem is not None:
            raise NotReady(problem)
        return Response({"status": "ready"})
