"""Contract, Who may do what: password logins are limited before any password is checked.

Per address across all usernames (the spray limit, NOTES_THROTTLE_LOGIN), and
for one username from one address one check at a time, so a burst of guesses
checks no more passwords than the lock allows. Refusals are 429 with
Retry-After, the same for every username.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db.models import Sum
from django.test import RequestFactory

from conftest import gunicorn
from notes.api.login_guard import one_check_at_a_time
from notes.tests.test_configuration import STRONG_KEY, django_shell
from notes.tests.test_logins import (
    ADMIN_LOGIN,
    API_LOGIN,
    PASSWORD,
    CheapHasher,
    LoginPage,
    guess,
    log_in,
)

SPRAY_LIMIT = 10
# A daily window, so no window boundary falls inside a test.
SPRAY_RATES = {"anon": "100000/minute", "user": "100000/minute", "login": f"{SPRAY_LIMIT}/day"}


def checks():
    """Passwords checked so far: every check of a wrong password is a failure axes records."""
    return AccessAttempt.objects.aggregate(total=Sum("failures_since_start"))["total"] or 0


@pytest.fixture
def spray_limit(monkeypatch):
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", SPRAY_RATES)


@pytest.mark.django_db
def test_a_spray_is_refused_before_any_password_is_checked(client, user, spray_limit):
    statuses = [log_in(client, f"user{i}", "wrong").status_code for i in range(30)]

    assert statuses == [200] * SPRAY_LIMIT + [429] * (30 - SPRAY_LIMIT)
    assert checks() == SPRAY_LIMIT
    # The right password too, on either login page, from that address.
    assert log_in(client, "alice", path=API_LOGIN).status_code == 429
    assert log_in(client, "alice", path=API_LOGIN, REMOTE_ADDR="192.0.2.1").status_code == 302


@pytest.mark.django_db
def test_the_spray_refusal_is_the_same_for_every_username(client, staff_user, spray_limit):
    guess(client, "nobody", SPRAY_LIMIT)

    existing = log_in(client, "admin", HTTP_X_REQUEST_ID="same")
    unknown = log_in(client, "nobody", HTTP_X_REQUEST_ID="same")

    assert existing.status_code == unknown.status_code == 429
    assert existing["Retry-After"] == str(24 * 60 * 60)
    assert existing.content == unknown.content
    assert existing.headers.items() == unknown.headers.items()


@pytest.mark.django_db
def test_reading_a_login_page_is_not_counted(client, spray_limit):
    for _ in range(SPRAY_LIMIT + 5):
        assert client.get(ADMIN_LOGIN).status_code == 200


@pytest.mark.django_db
def test_while_a_password_is_checked_another_guess_for_its_username_is_refused_unchecked(
    client, staff_user, user
):
    under_way = RequestFactory().post(ADMIN_LOGIN, {"username": "admin", "password": "x"})

    with one_check_at_a_time(under_way) as held:
        assert held
        refused = log_in(client, "admin")
        other_user = log_in(client, "alice", path=API_LOGIN)
        other_address = log_in(client, "admin", "wrong", REMOTE_ADDR="192.0.2.1")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert other_user.status_code == 302
    assert other_address.status_code == 200
    assert checks() == 1  # the other address's guess, and no other
    assert log_in(client, "admin").status_code == 302


@pytest.mark.django_db
def test_without_redis_logins_are_still_checked_and_locked(client, staff_user, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    assert guess(client, "admin", 5) == [200, 200, 200, 200, 429]
    assert log_in(client, "admin").status_code == 429


def test_the_environment_sets_the_spray_limit():
    code = "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['login'])"

    default = django_shell(code, SECRET_KEY=STRONG_KEY)
    chosen = django_shell(code, SECRET_KEY=STRONG_KEY, NOTES_THROTTLE_LOGIN="3/hour")

    assert default.stdout.strip() == "10/minute", default.stderr
    assert chosen.stdout.strip() == "3/hour", chosen.stderr


# Under gunicorn ---------------------------------------------------------------


class SlowHasher(PBKDF2PasswordHasher):
    """PBKDF2 slow enough that a burst's requests overlap while their passwords are checked."""

    iterations = 200_000


def test_a_burst_of_guesses_checks_no_more_passwords_than_the_lock_allows(
    transactional_db, django_user_model, tmp_path
):
    django_user_model.objects.create(
        username="editor", is_staff=True, password=make_password(PASSWORD, hasher=SlowHasher())
    )
    burst = 40
    # Two workers of four threads: eight passwords could be checked at once.
    settings = {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}
    with gunicorn(tmp_path, **settings) as (url, _, _):
        page = LoginPage(url, ADMIN_LOGIN)
        start = threading.Barrier(burst)

        def guess_at_once(_):
            start.wait()
            return page.post("editor", "wrong")

        with ThreadPoolExecutor(burst) as pool:
            answers = list(pool.map(guess_at_once, range(burst)))

    assert 1 <= checks() <= 5
    assert {answer.status_code for answer in answers} <= {200, 429}
    refused = [answer for answer in answers if answer.status_code == 429]
    assert len(refused) >= burst - 5
    assert all(int(answer.headers["Retry-After"]) > 0 for answer in refused)


def test_a_spray_is_refused_after_the_limit_by_every_worker_and_other_addresses_log_in(
    transactional_db, django_user_model, tmp_path
):
    cheap = make_password(PASSWORD, hasher=CheapHasher())
    django_user_model.objects.bulk_create(
        django_user_model(username=f"user{i}", password=cheap) for i in range(120)
    )
    # NUM_PROXIES=1: the address is the one a proxy appended to X-Forwarded-For.
    settings = {"WEB_CONCURRENCY": "2", "NUM_PROXIES": "1", "NOTES_THROTTLE_LOGIN": "10/day"}
    with gunicorn(tmp_path, **settings) as (url, _, _):
        page = LoginPage(url, API_LOGIN)
        sprayer = {"X-Forwarded-For": "203.0.113.7"}
        sprayed = [page.post(f"user{i}", "wrong", headers=sprayer) for i in range(120)]
        right = page.post("user0", headers=sprayer)
        elsewhere = page.post("user1", headers={"X-Forwarded-For": "198.51.100.9"})

    assert [answer.status_code for answer in sprayed] == [200] * 10 + [429] * 110
    assert all(answer.headers["Retry-After"] == str(24 * 60 * 60) for answer in sprayed[10:])
    assert checks() == 10
    assert right.status_code == 429
    assert elsewhere.status_code == 302
