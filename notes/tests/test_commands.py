"""Contract, Operating it: migrate --fake-initial, loaddata, seed and seed --fake."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from conftest import BASE_DIR, database_url, server_params
from notes.management.commands.seed import FIXTURE
from notes.management.commands.seed import Command as SeedCommand
from notes.models import Note

ORIGINAL_DDL = Path(__file__).parent / "data" / "001_initial_notes.sql"


def manage(*args, database):
    env = {**os.environ, "DATABASE_URL": database_url(database)}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )


@pytest.fixture
def scratch_database(django_db_blocker):
    """A database of its own, for what must start from an empty server-side state."""
    name = f"notes_scratch_{uuid.uuid4().hex[:8]}"
    server = server_params()
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        yield name, lambda: psycopg.connect(dbname=name, autocommit=True, **server)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_fake_initial_adopts_the_original_table_and_keeps_its_rows(scratch_database):
    name, connect = scratch_database
    assert manage("ensure_services", database=name).returncode == 0
    with connect() as conn:
        conn.execute(ORIGINAL_DDL.read_text())
        conn.execute("INSERT INTO notes (content, times_sent) VALUES ('kept', 3), ('also kept', 0)")

    result = manage("migrate", "--fake-initial", "--noinput", database=name)

    assert result.returncode == 0, result.stderr
    assert "0001_initial... FAKED" in result.stdout
    assert "0002_indexes... OK" in result.stdout
    with connect() as conn:
        rows = conn.execute("SELECT content, times_sent FROM notes ORDER BY id").fetchall()
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
        conn.execute("INSERT INTO notes (content) VALUES ('new after adoption')")
    assert rows == [("kept", 3), ("also kept", 0)]
    assert {"notes_search_vector_idx", "notes_send_next_idx"} <= indexes


def test_ensure_services_creates_a_missing_database(scratch_database):
    name, connect = scratch_database

    result = manage("ensure_services", database=name)

    assert result.returncode == 0, result.stderr
    assert f"Created database {name}" in result.stdout
    with connect() as conn:
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)


def test_ensure_services_names_database_url_when_postgres_does_not_answer():
    env = {**os.environ, "DATABASE_URL": "postgres://postgres:postgres@127.0.0.1:1/notes"}

    result = subprocess.run(
        [sys.executable, "manage.py", "ensure_services"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr


@pytest.mark.django_db
def test_loaddata_loads_the_bundled_fixture_and_new_notes_still_get_ids():
    call_command("loaddata", "notes", verbosity=0)

    expected = json.loads(FIXTURE.read_text())
    assert Note.objects.count() == len(expected) >= 20
    assert Note.objects.get(pk=1).content == expected[0]["fields"]["content"]
    assert Note.objects.get(pk=1).times_sent == 0
    assert Note.objects.create(content="after loaddata").pk == len(expected) + 1


@pytest.mark.django_db
def test_seed_twice_changes_nothing():
    call_command("seed", verbosity=0)
    first = list(Note.objects.values_list("id", "content", "updated_at").order_by("id"))

    call_command("seed", verbosity=0)

    assert list(Note.objects.values_list("id", "content", "updated_at").order_by("id")) == first
    assert len(first) == len(json.loads(FIXTURE.read_text()))


@pytest.mark.django_db
def test_seed_keeps_notes_users_already_wrote(note):
    call_command("seed", verbosity=0)

    assert Note.objects.filter(pk=note.pk, content="Buy milk").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("rebuild_indexes_from", [50_000, 1])
def test_seed_fake_adds_n_varied_valid_notes(capsys, monkeypatch, rebuild_indexes_from):
    monkeypatch.setattr(SeedCommand, "rebuild_indexes_from", rebuild_indexes_from)

    call_command("seed", "--fake", "2500", "--random-seed", "7")

    notes = list(Note.objects.all())
    assert len(notes) == 2500
    assert len({n.content for n in notes}) > 2400
    assert all(0 < len(n.content) <= 255 for n in notes)
    assert len({n.created_at for n in notes}) > 2000
    assert min(n.times_sent for n in notes) == 0 < max(n.times_sent for n in notes)
    assert "2500/2500" in capsys.readouterr().err
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'notes'")
        indexes = {row[0] for row in cursor.fetchall()}
    assert indexes == {"notes_pkey", *(index.name for index in Note._meta.indexes)}


@pytest.mark.django_db
def test_seed_fake_refuses_a_non_positive_count():
    with pytest.raises(CommandError, match="positive"):
        call_command("seed", "--fake", "0")


def test_migrate_goes_through_database_direct_url_when_it_is_set(scratch_database):
    # DATABASE_URL leads nowhere (a pooler that is down): only the direct URL can serve.
    name, connect = scratch_database
    assert manage("ensure_services", database=name).returncode == 0
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres:postgres@127.0.0.1:1/{name}",
        "DATABASE_DIRECT_URL": database_url(name),
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "0003_search_vector... OK" in result.stdout
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 3
