"""Health probes: liveness of the process, readiness of the database and schema."""

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


class ReadyView(HealthView):
    @extend_schema(responses=responses({200: HEALTH}, 406, 500, 503), tags=["health"])
    def get(self, request: Request) -> Response:
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError:
            raise NotReady("The database does not answer.") from None
        if pending:
            raise NotReady(f"{len(pending)} migration(s) not applied.")
        return Response({"status": "ready"})
