"""Contract, Who may do what: password logins resist guessing (the admin's and the browsable API's).

After 5 failed attempts for one username from one address, that username is
refused from that address for 15 minutes, even with the right password,
whichever worker or instance answers; the refusal looks the same whether or
not the username exists, and other users from that address still log in.
"""

import io
import logging
from datetime import timedelta

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY
from rest_framework.throttling import AnonRateThrottle

from conftest import gunicorn
from harness.server import workers_that_answered
from notes.logins import username_digest
from notes.tests.test_configuration import STRONG_KEY, django_shell

PASSWORD = "correct horse battery"  # the conftest users' password
ADMIN_LOGIN = "/admin/login/"
API_LOGIN = "/api-auth/login/"
CLIENT = "203.0.113.7"


def log_in(client, username, password=PASSWORD, path=ADMIN_LOGIN, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def guess(client, username, times, path=ADMIN_LOGIN, **extra):
    """Wrong passwords; the statuses they were answered with."""
    return [log_in(client, username, "wrong", path, **extra).status_code for _ in range(times)]


def logged_in(client):
    return "_auth_user_id" in client.session


def age_attempts(by):
    """Move every recorded failure back in time, as if `by` had passed since."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


@pytest.mark.django_db
def test_five_failed_attempts_lock_the_username_even_with_the_right_password(client, staff_user):
    assert guess(client, "admin", 5) == [200, 200, 200, 200, 429]

    response = log_in(client, "admin")

    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
def test_the_lock_ends_fifteen_minutes_after_the_failure_that_set_it(client, staff_user):
    guess(client, "admin", 5)

    age_attempts(timedelta(minutes=14, seconds=50))
    assert log_in(client, "admin").status_code == 429
    # That refusal did not restart the lock: 15 minutes after the failure, it is gone.
    age_attempts(timedelta(seconds=20))
    assert log_in(client, "admin").status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_the_refusal_answers_429_with_retry_after_of_the_lock_time(client, staff_user):
    guess(client, "admin", 5)

    response = log_in(client, "admin")

    assert response["Retry-After"] == str(15 * 60)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"15 minutes" in response.content


@pytest.mark.django_db
def test_the_limit_and_the_lock_time_are_settings(client, staff_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)

    assert guess(client, "admin", 2) == [200, 429]
    assert log_in(client, "admin")["Retry-After"] == "60"
    age_attempts(timedelta(minutes=1, seconds=1))
    assert log_in(client, "admin").status_code == 302


def test_the_environment_sets_both_numbers():
    code = "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds())"
    limits = {"LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "2"}

    result = django_shell(code, SECRET_KEY=STRONG_KEY, **limits)
    refused = django_shell(code, SECRET_KEY=STRONG_KEY, LOGIN_FAILURE_LIMIT="0")

    assert result.stdout.split() == ["3", "120.0"], result.stderr
    assert refused.returncode != 0
    assert "LOGIN_FAILURE_LIMIT" in refused.stderr


@pytest.mark.django_db
def test_the_admin_and_the_browsable_api_login_share_one_lock(client, staff_user):
    assert guess(client, "admin", 3, ADMIN_LOGIN) == [200, 200, 200]
    assert guess(client, "admin", 2, API_LOGIN) == [200, 429]

    assert log_in(client, "admin", path=ADMIN_LOGIN).status_code == 429
    assert log_in(client, "admin", path=API_LOGIN).status_code == 429


@pytest.mark.django_db
def test_other_users_from_the_same_address_still_log_in(client, staff_user, user):
    guess(client, "admin", 5)

    assert log_in(client, "alice", path=API_LOGIN).status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_the_same_username_from_another_address_still_logs_in(client, staff_user):
    guess(client, "admin", 5)

    assert log_in(client, "admin", REMOTE_ADDR="192.0.2.1").status_code == 302


@pytest.mark.django_db
def test_the_refusal_looks_the_same_whether_or_not_the_username_exists(client, staff_user):
    guess(client, "admin", 5)
    guess(client, "nobody", 5)

    # One request id for both, as it is echoed.
    existing = log_in(client, "admin", HTTP_X_REQUEST_ID="same")
    unknown = log_in(client, "nobody", HTTP_X_REQUEST_ID="same")

    assert existing.status_code == unknown.status_code == 429
    assert existing.content == unknown.content
    assert existing.headers.items() == unknown.headers.items()
    assert b"admin" not in existing.content


@pytest.mark.django_db
def test_a_successful_login_clears_the_count(client, staff_user):
    assert guess(client, "admin", 4) == [200] * 4
    assert log_in(client, "admin").status_code == 302

    assert guess(client, "admin", 4) == [200] * 4


@pytest.mark.django_db
@pytest.mark.parametrize("num_proxies", [0, 1])
def test_the_lock_is_on_the_address_the_rate_limits_use(client, staff_user, settings, num_proxies):
    """Behind NUM_PROXIES proxies, the client's address: the entry the last proxy added."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    balancer = {"REMOTE_ADDR": "10.0.0.2"}

    guess(client, "admin", 5, HTTP_X_FORWARDED_FOR=CLIENT, **balancer)

    locked = AccessAttempt.objects.get().ip_address
    assert locked == (CLIENT if num_proxies else "10.0.0.2")
    same_request = RequestFactory().post(ADMIN_LOGIN, HTTP_X_FORWARDED_FOR=CLIENT, **balancer)
    assert locked == AnonRateThrottle().get_ident(same_request)


@pytest.mark.django_db
@pytest.mark.parametrize("num_proxies", [0, 1])
def test_an_invented_x_forwarded_for_does_not_escape_the_lock(
    client, staff_user, settings, num_proxies
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    guess(client, "admin", 5, HTTP_X_FORWARDED_FOR=CLIENT)

    # The client adds an address of its choosing; a proxy would append the real one after it.
    invented = log_in(client, "admin", HTTP_X_FORWARDED_FOR=f"198.51.100.1, {CLIENT}")
    replaced = log_in(client, "admin", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert invented.status_code == 429
    # Without trusted proxies the header is ignored; behind one, that is another client.
    assert replaced.status_code == (302 if num_proxies else 429)


@pytest.mark.django_db
def test_a_forwarded_entry_that_is_no_address_counts_as_the_connecting_address(
    client, staff_user, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    assert guess(client, "admin", 5, HTTP_X_FORWARDED_FOR="not-an-address") == [200] * 4 + [429]
    assert AccessAttempt.objects.get().ip_address == "127.0.0.1"


@pytest.mark.django_db
def test_failures_and_locks_are_logged_without_the_password(client, staff_user, caplog):
    caplog.set_level(logging.INFO)
    secret = "hunter2-never-logged"

    for _ in range(5):
        log_in(client, "admin", secret)
    log_in(client, "admin")

    ours = [r.getMessage() for r in caplog.records if r.name == "notes.logins"]
    failures = [message for message in ours if "login failed" in message]
    locks = [message for message in ours if "is locked" in message]
    assert len(failures) == 6
    digest = username_digest("admin")
    assert (
        failures[0] == f"Password login failed for username {digest} from 127.0.0.1 on admin/login/"
    )
    assert len(locks) == 2
    assert f"username {digest} from 127.0.0.1 is locked for up to 15 minutes" in locks[0]
    assert not any("'admin'" in message or "username admin" in message for message in ours)
    assert secret not in caplog.text
    assert PASSWORD not in caplog.text


def counted(name, route):
    return REGISTRY.get_sample_value(name, {"route": route}) or 0


@pytest.mark.django_db
def test_failures_and_lock_refusals_are_counted(client, staff_user):
    series = [
        (name, route)
        for name in ("notes_login_failures_total", "notes_login_lockouts_total")
        for route in ("admin/login/", "api-auth/login/")
    ]
    before = {key: counted(*key) for key in series}

    guess(client, "admin", 5, ADMIN_LOGIN)
    log_in(client, "admin", path=API_LOGIN)

    # The fifth failure set the lock; the right password after it was refused.
    assert [counted(*key) - before[key] for key in series] == [5, 1, 1, 1]


@pytest.mark.django_db
def test_an_operator_lifts_a_lock_with_axes_reset_username(client, staff_user):
    guess(client, "admin", 5)

    call_command("axes_reset_username", "admin", stdout=io.StringIO())

    assert log_in(client, "admin").status_code == 302


@pytest.mark.django_db
def test_an_operator_sees_and_deletes_locks_in_the_admin(client, staff_user, user):
    guess(client, "alice", 5, API_LOGIN)
    operator = Client()
    operator.force_login(staff_user)
    changelist = "/admin/axes/accessattempt/"

    assert b"alice" in operator.get(changelist).content
    attempt = AccessAttempt.objects.get(username="alice")
    operator.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert log_in(client, "alice", path=API_LOGIN).status_code == 302


@pytest.mark.django_db
def test_token_requests_never_touch_the_login_lock(client, user, auth_client, note):
    guess(client, "alice", 5, API_LOGIN)

    with CaptureQueriesContext(connection) as queries:
        assert auth_client.get(f"/api/notes/{note.pk}/").status_code == 200

    # The token's user in one join, its first use recorded, then the note: nothing of axes'.
    assert len(queries) == 3
    assert not any("axes" in query["sql"] for query in queries)
    assert auth_client.post("/api/notes/", {"content": "still writing"}).status_code == 201


# Under gunicorn ---------------------------------------------------------------


class CheapHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few rounds: the server checks it (rounds travel in the hash), fast."""

    iterations = 1000


@pytest.fixture
def server_users(transactional_db, django_user_model):
    """A staff user and another user whose passwords a server with production hashers checks."""
    for name, staff in (("editor", True), ("bob", False)):
        django_user_model.objects.create(
            username=name, is_staff=staff, password=make_password(PASSWORD, hasher=CheapHasher())
        )


class LoginPage:
    """A browser at a login page of a running server: one CSRF token, a new connection per post."""

    def __init__(self, url, path):
        self.url = f"{url}{path}"
        self.csrf = requests.get(self.url).cookies["csrftoken"]

    def post(self, username, password=PASSWORD, request_id=None, headers=None):
        headers = {"Referer": self.url, **(headers or {})}
        if request_id:
            headers["X-Request-ID"] = request_id
        form = {"username": username, "password": password, "csrfmiddlewaretoken": self.csrf}
        return requests.post(
            self.url,
            data=form,
            cookies={"csrftoken": self.csrf},
            headers=headers,
            allow_redirects=False,
        )


def worker_that_answered(log, request_id):
    """The pid of the worker whose access line (JSON logs) carries this request id."""
    return workers_that_answered(log, [request_id])[request_id]


def test_a_lock_holds_whichever_worker_or_instance_answers(tmp_path, server_users):
    with (
        gunicorn(tmp_path, WEB_CONCURRENCY="2", LOG_FORMAT="json") as (first, _, log),
        gunicorn(tmp_path, WEB_CONCURRENCY="1") as (second, _, _),
    ):
        admin = LoginPage(first, ADMIN_LOGIN)
        guesses = [admin.post("editor", "wrong", f"guess-{i}").status_code for i in range(5)]
        assert guesses == [200, 200, 200, 200, 429]
        locked_by = worker_that_answered(log, "guess-4")

        # The right password, on new connections, until the other worker has answered.
        answers = {}
        while set(answers) <= {locked_by}:
            assert sum(map(len, answers.values())) < 100, "one worker answered every request"
            request_id = f"right-{sum(map(len, answers.values()))}"
            status = admin.post("editor", request_id=request_id).status_code
            answers.setdefault(worker_that_answered(log, request_id), []).append(status)
        assert {pid: set(statuses) for pid, statuses in answers.items()} == {
            pid: {429} for pid in answers
        }

        # Another instance on the same database: the same lock, and bob still logs in.
        api = LoginPage(second, API_LOGIN)
        assert api.post("editor").status_code == 429
        assert api.post("bob").status_code == 302


@pytest.mark.django_db
def test_a_password_typed_as_the_username_never_reaches_the_logs(client, caplog):
    caplog.set_level(logging.INFO)
    typed = "hunter2-in-the-wrong-field"

    guess(client, typed, 5)

    assert typed not in caplog.text
    assert username_digest(typed) in caplog.text
    assert len(username_digest(typed)) == 12
