"""Contract, More than one machine: every endpoint works with `DATABASE_URL` pointing at
PgBouncer in transaction pooling mode, and nothing else set.

A PgBouncer of the module's own (Debian's package, 1.18 on this machine) pools the
worker's test database in transaction mode for a gunicorn whose environment differs
from a direct one in `DATABASE_URL` alone: no `DATABASE_*` setting is passed on. Its
pools hold two server connections, fewer than gunicorn has threads, and hand them out
in turn (`server_round_robin`), so one client's consecutive transactions land on
different server connections and share them with other clients on every run, not by
chance: whatever a client leaves on a server connection (a prepared statement, a
cursor held past its transaction, a session `SET`) is missing from its own next
transaction and found by another client's.

The pooler, not the service, sets the server connections' timeouts (its
`connect_query`, as deploy/cluster/pgbouncer.ini does; docs/database-errors.md says
why): a statement past them is cancelled, and the service names a pooler whose server
connections run without them.
"""

import io
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import connection, connections

from conftest import gunicorn, server_params
from harness.server import free_port
from harness.wait import until
from notes.models import Note
from notes.tokens.models import Token

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
POOL_SIZE = 2
# The pooler's own timeouts for the server connections it opens (milliseconds). The
# statement timeout is short, so that a test waits little for it; the lock timeout is
# longer, so a statement waiting for a lock meets the statement timeout first.
STATEMENT_TIMEOUT_MS = 1500
LOCK_TIMEOUT_MS = 5000
TIMED = "timed"  # a pool whose server connections get the timeouts above
UNTIMED = "untimed"  # a pool whose server connections run without any
CLIENTS = 6
ROUNDS = 4


@dataclass
class Bouncer:
    port: int
    log: Path

    def url(self, database):
        db = server_params()
        return f"postgres://{db['user']}:{db['password']}@127.0.0.1:{self.port}/{database}"

    def connect(self, database):
        """A client of the pool, as any program is."""
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=3)

    def show(self, what, database):
        """The admin console's SHOW <what> (CLIENTS, SERVERS, ...) rows for one database."""
        with psycopg.connect(self.url("pgbouncer"), autocommit=True, connect_timeout=3) as admin:
            cursor = admin.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or []]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return [row for row in rows if row["database"] == database]


@contextmanager
def pgbouncer(test_database: str) -> Iterator[Bouncer]:
    """PgBouncer in transaction mode on a free loopback port, in front of the test server."""
    db = server_params()
    work = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    timeouts = (
        f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}; SET lock_timeout = {LOCK_TIMEOUT_MS}"
    )
    server = f"host={db['host']} port={db['port']} dbname={test_database}"
    (work / "pgbouncer.ini").write_text(
        f"[databases]\n"
        f"{TIMED} = {server} connect_query='{timeouts}'\n"
        f"{UNTIMED} = {server}\n"
        f"[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir =\n"
        f"auth_type = trust\n"
        f"auth_file = {work}/userlist.txt\n"
        f"admin_users = {db['user']}\n"
        f"pool_mode = transaction\n"
        f"default_pool_size = {POOL_SIZE}\n"
        f"server_round_robin = 1\n"
        f"logfile = {work}/pgbouncer.log\n"
    )
    # PgBouncer logs in to PostgreSQL with the password it finds here.
    (work / "userlist.txt").write_text(f'"{db["user"]}" "{db["password"]}"\n')
    # It refuses to run as root: then it runs as postgres, which must own its directory.
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(work, "postgres")
        for file in work.iterdir():
            shutil.chown(file, "postgres")
    command = [PGBOUNCER, *(["-u", "postgres"] if as_root else []), str(work / "pgbouncer.ini")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    bouncer = Bouncer(port, work / "pgbouncer.log")
    try:
        if not until(lambda: admin_answers(bouncer) or process.poll() is not None, timeout=20):
            raise RuntimeError(f"PgBouncer did not answer:\n{read(bouncer.log)}")
        if process.poll() is not None:
            raise RuntimeError(f"PgBouncer exited:\n{read(bouncer.log)}")
        yield bouncer
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def admin_answers(bouncer):
    try:
        bouncer.show("POOLS", TIMED)
    except psycopg.OperationalError:
        return False
    return True


def read(path):
    return path.read_text() if path.exists() else "(no log)"


@pytest.fixture(scope="module")
def bouncer(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
    with pgbouncer(name) as bouncer:
        yield bouncer


@pytest.fixture(scope="module")
def served(bouncer, tmp_path_factory):
    """gunicorn, two workers of four threads, with DATABASE_URL at the pool and no other
    DATABASE_* setting; metrics on a port of their own. Yields (url, metrics url)."""
    metrics_port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("DATABASE_")]:
            patch.delenv(name)
        with gunicorn(
            tmp_path_factory.mktemp("pgbouncer-gunicorn"),
            DATABASE_URL=bouncer.url(TIMED),
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            METRICS_PORT=str(metrics_port),
        ) as (url, _, _):
            yield url, f"http://127.0.0.1:{metrics_port}/metrics"


@pytest.fixture
def auth(transactional_db, user):
    return {"Authorization": f"Token {Token.objects.issue(user).key}"}


class Failures:
    """What went wrong, endpoint by endpoint, from every client: a test reports them all."""

    def __init__(self):
        self.seen = Counter()
        self.lock = threading.Lock()

    def expect(self, response, status, what):
        """True when `response` has `status`; else it is counted under `what`."""
        if response.status_code == status:
            return True
        try:
            answer = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            answer = response.text[:60]
        with self.lock:
            self.seen[f"{what}: {response.status_code} {answer}"] += 1
        return False

    def check(self, condition, what):
        if not condition:
            with self.lock:
                self.seen[what] += 1

    def report(self):
        return "\n".join(f"{count:4} x {what}" for what, count in sorted(self.seen.items()))


def client_rounds(url, auth, client, failures):
    """One REST client's life: every note endpoint, ROUNDS times over. Returns its notes' ids."""
    with requests.Session() as session:
        session.headers.update(auth)
        return rounds(session, url, client, failures)


def rounds(session, url, client, failures):
    word = f"pooled{secrets.token_hex(3)}c{client}"
    live = []
    for round in range(ROUNDS):
        key = f"pgbouncer-{uuid.uuid4()}"
        body = {"content": f"{word} round {round}"}
        created = session.post(f"{url}/api/notes/", json=body, headers={"Idempotency-Key": key})
        if not failures.expect(created, 201, "POST /api/notes/ with Idempotency-Key"):
            continue
        note_id = created.json()["data"]["id"]
        live.append(note_id)
        replay = session.post(f"{url}/api/notes/", json=body, headers={"Idempotency-Key": key})
        if failures.expect(replay, 201, "POST /api/notes/ replayed"):
            failures.check(replay.headers.get("Idempotent-Replayed") == "true", "replay: no header")
            failures.check(replay.json()["data"]["id"] == note_id, "replay: another note")
        path = f"{url}/api/notes/{note_id}/"

        got = session.get(path.rstrip("/"))
        if not failures.expect(got, 200, "GET /api/notes/{id}"):
            continue
        etag = got.headers["ETag"]
        unchanged = session.get(path, headers={"If-None-Match": etag})
        failures.expect(unchanged, 304, "GET /api/notes/{id}/ If-None-Match")
        failures.expect(session.head(path), 200, "HEAD /api/notes/{id}/")

        put = session.put(path, json={"content": f"{word} put"}, headers={"If-Match": etag})
        if not failures.expect(put, 200, "PUT /api/notes/{id}/ If-Match"):
            continue
        stale = session.put(path, json={"content": f"{word} lost"}, headers={"If-Match": etag})
        failures.expect(stale, 412, "PUT /api/notes/{id}/ stale If-Match")
        patch = session.patch(
            path.rstrip("/"),
            json={"content": f"{word} patched"},
            headers={"If-Match": put.headers["ETag"]},
        )
        if not failures.expect(patch, 200, "PATCH /api/notes/{id} If-Match"):
            continue
        sent = session.post(f"{path}send/")
        if failures.expect(sent, 200, "POST /api/notes/{id}/send/"):
            failures.check(sent.json()["data"]["times_sent"] == 1, "send: not counted once")

        # The client's notes, one a page, by following the cursor links.
        found, page = [], f"{url}/api/notes/?search={word}&ordering=-times_sent&page_size=1"
        while page:
            listed = session.get(page)
            if not failures.expect(listed, 200, "GET /api/notes/?search=&ordering=&cursor="):
                break
            found += [note["id"] for note in listed.json()["data"]]
            page = listed.json()["links"]["next"]
        failures.check(sorted(found) == sorted(live), "list: pages miss or repeat a note")

        # Every other round, the note goes again.
        if round % 2:
            etag = session.get(path).headers.get("ETag", "")
            deleted = session.delete(path, headers={"If-Match": etag})
            if failures.expect(deleted, 204, "DELETE /api/notes/{id}/ If-Match"):
                live.remove(note_id)
                failures.expect(session.get(path), 404, "GET /api/notes/{id}/ once deleted")
        failures.expect(session.get(f"{url}/health/ready"), 200, "GET /health/ready")
    return live


def metric_samples(metrics_url, name):
    """{labels: value} of one metric from the metrics port's text."""
    text = requests.get(metrics_url, timeout=10).text
    pattern = re.compile(rf"^{name}(?:{{(.*)}})? (\S+)$", re.MULTILINE)
    return {labels: float(value) for labels, value in pattern.findall(text)}


def test_every_note_endpoint_answers_concurrent_clients_through_shared_server_connections(
    served, bouncer, auth
):
    """Catches the service's defaults failing behind the pooler: the libpq `options` that
    carry the timeouts (PgBouncer refuses the connection: every endpoint answers 503), and
    prepared statements (kept on one server connection, then asked for on another: 500)."""
    url, metrics_url = served
    failures = Failures()

    with ThreadPoolExecutor(CLIENTS) as pool:
        lives = list(pool.map(lambda c: client_rounds(url, auth, c, failures), range(CLIENTS)))

    assert failures.seen == {}, failures.report()
    # What the clients were told is what the database holds.
    kept = sorted(note_id for live in lives for note_id in live)
    assert sorted(Note.objects.values_list("id", flat=True)) == kept
    assert len(kept) == CLIENTS * ROUNDS // 2
    assert set(Note.objects.values_list("times_sent", flat=True)) == {1}
    # The service's connections were more than the pool's server connections.
    clients = bouncer.show("CLIENTS", TIMED)
    servers = bouncer.show("SERVERS", TIMED)
    assert len(servers) <= POOL_SIZE < len(clients)
    # Nothing the driver raised on the way, and the replays counted where the metrics are.
    assert metric_samples(metrics_url, "notes_database_errors_total") == {}
    replays = metric_samples(metrics_url, "notes_http_idempotent_replays_total")
    assert sum(replays.values()) >= CLIENTS * ROUNDS


def test_send_next_hands_each_note_once_a_round_to_concurrent_callers(served, auth, make_notes):
    """send-next's row locks (FOR UPDATE SKIP LOCKED) are taken through the pooler too."""
    url, _ = served
    notes = make_notes(4)
    start = threading.Barrier(8)

    def send_next(_):
        start.wait()
        return requests.post(f"{url}/api/notes/send-next/", headers=auth, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send_next, range(8)))

    assert [answer.status_code for answer in answers] == [200] * 8, [a.text for a in answers]
    # Eight calls on four notes: two each, as no note gets a second while another has none.
    handed = Counter(answer.json()["data"]["id"] for answer in answers)
    assert handed == {note.pk: 2 for note in notes}
    assert set(Note.objects.values_list("times_sent", flat=True)) == {2}


def logged_in(url, page, password, failures):
    """A browser session logged in as "editor" through the login form at `page`."""
    session = requests.Session()
    login = f"{url}{page}"
    session.get(login)
    form = {"username": "editor", "password": password}
    form["csrfmiddlewaretoken"] = session.cookies["csrftoken"]
    answer = session.post(login, data=form, headers={"Referer": login}, allow_redirects=False)
    failures.expect(answer, 302, f"POST {page}")
    return session


def test_logins_sessions_and_the_admin_work_through_the_pooler(
    served, transactional_db, django_user_model
):
    """The pages a browser user goes through, each on the database: the logins (500 with
    the libpq options refused), a session's write, the admin's search, edit and delete."""
    url, _ = served
    password = secrets.token_urlsafe(12)
    # The server's own hasher (PBKDF2), with few rounds: it checks it, then upgrades it.
    encoded = PBKDF2PasswordHasher().encode(password, secrets.token_hex(8), iterations=1000)
    django_user_model.objects.create(
        username="editor", password=encoded, is_staff=True, is_superuser=True
    )
    note = Note.objects.create(content="Water the ferns")
    failures = Failures()

    # The browsable API's login, then a write with the session and its CSRF token.
    browser = logged_in(url, "/api-auth/login/", password, failures)
    headers = {"X-CSRFToken": browser.cookies["csrftoken"], "Referer": url}
    written = browser.post(f"{url}/api/notes/", json={"content": "by session"}, headers=headers)
    failures.expect(written, 201, "POST /api/notes/ with a session")
    page = browser.get(f"{url}/api/notes/", headers={"Accept": "text/html"})
    failures.expect(page, 200, "GET /api/notes/ browsable, logged in")

    # The admin: its login, the list searched, a note edited, then deleted.
    admin = logged_in(url, "/admin/login/", password, failures)
    listed = admin.get(f"{url}/admin/notes/note/", params={"q": "ferns"})
    if failures.expect(listed, 200, "GET /admin/notes/note/?q="):
        failures.check("Water the ferns" in listed.text, "admin search: note not listed")
    change = f"{url}/admin/notes/note/{note.pk}/change/"
    failures.expect(admin.get(change), 200, "GET /admin/notes/note/{id}/change/")
    form = {"content": "Water the palms", "csrfmiddlewaretoken": admin.cookies["csrftoken"]}
    edited = admin.post(change, data=form, headers={"Referer": change}, allow_redirects=False)
    failures.expect(edited, 302, "POST /admin/notes/note/{id}/change/")
    delete = f"{url}/admin/notes/note/{note.pk}/delete/"
    form = {"post": "yes", "csrfmiddlewaretoken": admin.cookies["csrftoken"]}
    deleted = admin.post(delete, data=form, headers={"Referer": delete}, allow_redirects=False)
    failures.expect(deleted, 302, "POST /admin/notes/note/{id}/delete/")
    browser.close()
    admin.close()

    # What touches no database, for completeness: the documents and the probes.
    for path, what in [
        ("/api/", "GET /api/"),
        ("/api/schema/", "GET /api/schema/"),
        ("/api/schema/?format=json", "GET /api/schema/?format=json"),
        ("/api/docs/", "GET /api/docs/"),
        ("/api/redoc/", "GET /api/redoc/"),
        ("/health/live", "GET /health/live"),
    ]:
        failures.expect(requests.get(f"{url}{path}"), 200, what)

    assert failures.seen == {}, failures.report()
    assert list(Note.objects.values_list("content", flat=True)) == ["by session"]


@pytest.fixture
def held_note(transactional_db):
    """A note whose row another session, straight on PostgreSQL, holds locked."""
    note = Note.objects.create(content="held")
    with psycopg.connect(**server_params(), dbname=connection.settings_dict["NAME"]) as holder:
        holder.execute("SELECT * FROM notes WHERE id = %s FOR UPDATE", [note.pk])
        yield note


def test_a_statement_past_the_poolers_statement_timeout_is_cancelled(served, auth, held_note):
    """The send waits for the row lock; the pooler's statement_timeout (shorter than its
    lock_timeout) cancels it: 503 query_timeout, and nothing written."""
    url, _ = served

    response = requests.post(f"{url}/api/notes/{held_note.pk}/send/", headers=auth, timeout=30)

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "query_timeout"
    assert int(response.headers["Retry-After"]) >= 1
    assert Note.objects.get().times_sent == 0


@contextmanager
def through(bouncer, database):
    """Django's connection alias `database`, in this thread: the test database's settings,
    with HOST, PORT and NAME those of one of the pools, as a DATABASE_URL would give them."""
    pool = {"HOST": "127.0.0.1", "PORT": bouncer.port, "NAME": database}
    settings_dict = {**connection.settings_dict, **pool}
    wrapper = type(connections["default"])(settings_dict, alias=database)
    connections[database] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        del connections[database]


def warm(bouncer, database):
    """Both of the pool's server connections open and idle (two transactions at once)."""
    with (
        bouncer.connect(database) as one,
        bouncer.connect(database) as other,
        one.transaction(),
        other.transaction(),
    ):
        one.execute("SELECT 1")
        other.execute("SELECT 1")
    assert len(bouncer.show("SERVERS", database)) == POOL_SIZE


def test_a_pooler_whose_server_connections_run_no_timeouts_is_named_and_dumpdata_works(
    bouncer, transactional_db, make_notes, caplog
):
    """Catches a cursor held past its transaction (Django's .iterator() outside one, as
    dumpdata's): its FETCH goes to the other server connection, which has no such cursor.
    And a pooler that runs no timeouts passing without a word."""
    make_notes(3)
    warm(bouncer, UNTIMED)
    out = io.StringIO()

    with through(bouncer, UNTIMED):
        call_command("dumpdata", "notes.note", database=UNTIMED, stdout=out)

    assert len(json.loads(out.getvalue())) == 3
    (warning,) = [r for r in caplog.records if r.name == "notes_project.postgresql.base"]
    assert warning.levelname == "WARNING"
    role, database = server_params()["user"], connection.settings_dict["NAME"]
    for name, value in settings.DATABASE_TIMEOUTS.items():
        assert f"ALTER ROLE {role} IN DATABASE {database} SET {name} = {value}" in warning.message
    assert len(settings.DATABASE_TIMEOUTS) == 2


def test_migrate_through_the_pooler_leaves_its_server_connections_timeouts_alone(
    bouncer, transactional_db, caplog
):
    """Catches migrate lifting the timeouts with a session SET, as it does on a direct
    connection: through the pooler, the SET would stay on a server connection that other
    clients get next. (A pooler that sets the timeouts itself is not warned about.)"""
    warm(bouncer, TIMED)

    with through(bouncer, TIMED):
        call_command("migrate", database=TIMED, verbosity=0)

    with bouncer.connect(TIMED) as client:
        query = "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        seen = {client.execute(query).fetchone() for _ in range(2 * POOL_SIZE)}
    assert seen == {(f"{STATEMENT_TIMEOUT_MS}ms", f"{LOCK_TIMEOUT_MS // 1000}s")}
    assert not [r for r in caplog.records if r.name == "notes_project.postgresql.base"]


@pytest.mark.django_db(transaction=True)
def test_a_direct_connection_keeps_its_prepared_statements_and_startup_timeouts():
    """The direct path pays nothing for the pooler's: statements are prepared after five
    runs, and the timeouts hold from the first query (libpq startup options)."""
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        assert cursor.fetchone() == ("10s", "5s")
    assert connection.connection.prepare_threshold == 5
