"""Contract, Retries are safe: a short soak of mixed traffic, no 5xx, no write lost or doubled."""

import uuid

from django.db import connection

from bench.soak import report, soak
from conftest import database_url, gunicorn
from harness.traffic import Traffic

SECONDS = 10


def test_a_short_soak_has_no_5xx_and_loses_or_duplicates_no_write(
    transactional_db, token, make_notes, tmp_path
):
    """Catches a 5xx or a dropped connection anywhere in the run, the capacity measurement
    at its start included (a worker failing its first requests, or dying now and then)."""
    ids = [note.pk for note in make_notes(300, content="soak seed {} simplify life")]
    database = database_url(connection.settings_dict["NAME"])

    with gunicorn(tmp_path, GUNICORN_ACCESS_LOG="") as (url, server, _):
        traffic = Traffic(url, token.key, ids, uuid.uuid4().hex[:8])
        result = soak(
            traffic, database, server.pid, SECONDS, load=0.7, capacity_seconds=3, clients=16
        )

    print(report(result))
    assert result["acknowledged_writes"] > 100
    assert (result["5xx_while_measuring_capacity"], result["5xx"]) == (0, 0)
    assert result["connection_errors"] == 0
    assert (result["lost"], result["duplicated"]) == (0, 0)
    assert (result["unresolved"], result["bad_replays"]) == (0, 0)
